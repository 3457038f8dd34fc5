"""Settings of the benchmark. REVY_BENCH_DB picks the database: sqlite (default) or postgres.

The SQLite database is a file at SQLite's default durability (rollback
journal, ``synchronous=FULL``): every commit waits for the disk, as a real
deployment's does. django-pghistory is installed on PostgreSQL only.
"""

import os
import tempfile
from pathlib import Path

SECRET_KEY = "revy-bench"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DEBUG = False

DB = os.environ.get("REVY_BENCH_DB", "sqlite")
NAME = os.environ.get("REVY_BENCH_DB_NAME", "revy_bench")

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "revy.contrib.django",
    "simple_history",
    "reversion",
    "auditlog",
    "benchmarks.benchapp",
]

if DB == "sqlite":
    directory = Path(os.environ.get("REVY_BENCH_DIR", tempfile.gettempdir()))
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(directory / f"{NAME}.sqlite3"),
            "TEST": {"NAME": str(directory / f"test_{NAME}.sqlite3")},
        }
    }
elif DB == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": NAME,
            "USER": os.environ.get("REVY_PG_USER", "postgres"),
            "PASSWORD": os.environ.get("REVY_PG_PASSWORD", ""),
            "HOST": os.environ.get("REVY_PG_HOST", "127.0.0.1"),
            "PORT": os.environ.get("REVY_PG_PORT", "5432"),
            "TEST": {"NAME": f"test_{NAME}"},
        }
    }
    INSTALLED_APPS += ["pgtrigger", "pghistory", "benchmarks.pgapp"]
    # The benchmark's apps have no migrations; triggers are installed after migrate.
    PGTRIGGER_MIGRATIONS = False
    PGTRIGGER_INSTALL_ON_MIGRATE = True
else:
    raise RuntimeError(f"REVY_BENCH_DB must be sqlite or postgres, not {DB!r}")

# REVY_BENCH_SERVER_BINDING=1: psycopg binds parameters on the server and prepares every statement run twice,
# plain Django's and the peers' too.
if os.environ.get("REVY_BENCH_SERVER_BINDING") == "1":
    DATABASES["default"]["OPTIONS"] = {"server_side_binding": True, "prepare_threshold": 2}
