"""Sessions for testing, linting, type checking and trying revy.

    nox -s tests                  # every Python x Django x database
    nox -s tests -k sqlite        # one database (sqlite, postgres or mariadb)
    nox -s tests -p 3.13          # one Python
    nox -s tests -- -x -k cascade # arguments after -- go to pytest
    nox -s lint typecheck
    nox -s example                # demo, then serve on 127.0.0.1:8000
    nox -s example -- --no-serve  # demo only

Interpreters that are not installed are skipped, except under CI (``CI`` set
in the environment), where nox reports them as errors.
"""

from __future__ import annotations

import os

import nox

nox.needs_version = ">=2025.10.14"  # the first with download_python
nox.options.sessions = ["tests", "lint", "typecheck"]
# Never fetch an interpreter from the network: use what the machine has.
nox.options.download_python = "never"

# Each Python is paired with the Django series it is tested against; Django 6
# needs Python 3.12 or newer.
DJANGO_FOR_PYTHON = {
    "3.11": "Django>=5.2,<6",
    "3.12": "Django>=6.0,<7",
    "3.13": "Django>=6.0,<7",
}
# The extra of pyproject.toml that brings each database's driver.
DRIVER_EXTRA = {"sqlite": "", "postgres": ",postgres", "mariadb": ",mariadb"}

RUFF = "ruff==0.17.6"
MYPY = ["mypy==2.4.1", "django-stubs==6.1.2"]


@nox.session(python=list(DJANGO_FOR_PYTHON))
@nox.parametrize("database", list(DRIVER_EXTRA))
def tests(session: nox.Session, database: str) -> None:
    """The test suite on one database (REVY_TEST_DB); the other REVY_* variables pass through."""
    python = str(session.python)
    session.install(f".[test{DRIVER_EXTRA[database]}]", DJANGO_FOR_PYTHON[python])
    # One database per Python, so that sessions may run side by side (nox -j).
    name = f"{os.environ.get('REVY_TEST_DB_NAME', 'revy')}_py{python.replace('.', '')}"
    session.run("python", "-m", "pytest", *session.posargs, env={"REVY_TEST_DB": database, "REVY_TEST_DB_NAME": name})


@nox.session
def lint(session: nox.Session) -> None:
    """ruff's checks over the whole repository."""
    session.install(RUFF)
    session.run("ruff", "check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy (with django-stubs) over src/."""
    session.install(".", *MYPY)
    session.run("mypy", "src")


@nox.session
def example(session: nox.Session) -> None:
    """The example project on SQLite: record and print some history, then serve it.

    ``nox -s example -- --no-serve`` (or REVY_EXAMPLE_NO_SERVE=1) stops after the printout.
    """
    session.install(".")
    session.run("python", "example_project/manage.py", "demo", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """revy against plain Django and its peers; writes benchmarks/RESULTS.md.

    SQLite always; PostgreSQL too when it answers on REVY_PG_HOST:REVY_PG_PORT
    (127.0.0.1:5432), else it is skipped with a message. ``nox -s bench -- --quick``
    (or REVY_BENCH_QUICK=1) for a short run; ``-- --db sqlite`` for one database.
    """
    session.install(".[bench,postgres]", DJANGO_FOR_PYTHON["3.11"])
    session.run("python", "-m", "benchmarks.run", *session.posargs)
