"""revy against plain Django and its peers, side by side: ``python -m benchmarks.run``.

Each database is measured in its own process (Django's settings pick one
database per process); inside it every library runs the same operations on
the same model shape, interleaved round by round so that drift of the machine
hits them all alike. The parent process writes the Markdown table.

    python -m benchmarks.run                 # SQLite, and PostgreSQL when reachable
    python -m benchmarks.run --quick         # smaller batches, fewer rounds
    python -m benchmarks.run --db sqlite     # one database only
    python -m benchmarks.run --only bulk     # only the bulk rows
    python -m benchmarks.run --only reads    # only the reads

PostgreSQL is measured twice: as Django and revy come (each statement
parsed and planned by the server every time), and with psycopg preparing
every statement, plain Django's too, through server-side binding
(``--db postgres-psycopg``).

PostgreSQL is reached at REVY_PG_HOST:REVY_PG_PORT (127.0.0.1:5432) as
REVY_PG_USER (postgres); the benchmark creates and drops its own database
``test_<REVY_BENCH_DB_NAME>`` (``test_revy_bench``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "benchmarks" / "RESULTS.md"
COMMAND = "nox -s bench"


@dataclass(frozen=True)
class Sizes:
    """How much each round does; a full run stays within a few minutes on 2 cores."""

    rounds: int
    rows: int  # creates, updates and deletes per round
    parents: int  # cascade deletes per round, each of a parent with 100 children
    bulk: int  # rows created in one scope, and rows changed by one update()
    bulk_rounds: int
    members: int  # members given to one object by one add()
    reads: int  # history and point-in-time reads per round
    floor: int  # replays of the untracked and the tracked create's SQL (benchmarks.floor)


FULL = Sizes(rounds=5, rows=100, parents=8, bulk=10_000, bulk_rounds=2, members=1_000, reads=30, floor=500)
QUICK = Sizes(rounds=3, rows=40, parents=3, bulk=1_000, bulk_rounds=2, members=1_000, reads=10, floor=200)
DATABASES = ["sqlite", "postgres", "postgres-psycopg"]


def postgres_reachable() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        psycopg.connect(
            host=os.environ.get("REVY_PG_HOST", "127.0.0.1"),
            port=os.environ.get("REVY_PG_PORT", "5432"),
            user=os.environ.get("REVY_PG_USER", "postgres"),
            password=os.environ.get("REVY_PG_PASSWORD", ""),
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg.Error as error:
        return f"PostgreSQL is unreachable ({str(error).strip().splitlines()[0]})"
    return None


def measure(db: str, sizes: Sizes, only: str = "") -> dict[str, Any]:
    """Run the suite on ``db`` in a child process and return its results (``only``: "bulk" or "reads" rows)."""
    with tempfile.TemporaryDirectory() as directory:
        output = Path(directory) / "results.json"
        database, _, variant = db.partition("-")
        env = {
            **os.environ,
            "REVY_BENCH_DB": database,
            "REVY_BENCH_SERVER_BINDING": "1" if variant == "psycopg" else "0",
            "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        }
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        subprocess.run(
            [sys.executable, "-m", "benchmarks.suite", json.dumps(sizes.__dict__), str(output), *filter(None, [only])],
            cwd=ROOT,
            env=env,
            check=True,
        )
        return json.loads(output.read_text())  # type: ignore[no-any-return]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("REVY_BENCH_QUICK")))
    parser.add_argument("--db", choices=["all", *DATABASES], default="all")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--only",
        choices=["bulk", "reads"],
        default="",
        help="only the bulk rows (bulk_create, update(), add()) or only the reads, no floors",
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL

    load_before = os.getloadavg()[0]
    databases = DATABASES if args.db == "all" else [args.db]
    results: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for db in databases:
        if db.startswith("postgres"):
            reason = postgres_reachable()
            if reason is not None:
                print(f"Skipping PostgreSQL: {reason}.", file=sys.stderr)
                skipped[db] = reason
                continue
        print(f"Measuring on {db} ...", file=sys.stderr)
        results[db] = measure(db, sizes, args.only)

    from benchmarks.report import render

    machine = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load": (load_before, os.getloadavg()[0]),
        "packages": {
            name: version(name)
            for name in (
                "Django",
                "django-simple-history",
                "django-reversion",
                "django-auditlog",
                "django-pghistory",
                "psycopg",
            )
        },
    }
    text = render(results, skipped, machine, sizes, command=COMMAND + (" -- --quick" if args.quick else ""))
    args.output.write_text(text)
    print(text)
    print(f"Written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
