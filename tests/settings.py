"""Settings of the test suite. REVY_TEST_DB picks the database: sqlite (default), postgres or mariadb."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "revy-tests"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "revy.contrib.django",
    "tests.testapp",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests

DB = os.environ.get("REVY_TEST_DB", "sqlite")
# Lets several runs share one machine: each names its own database.
NAME = os.environ.get("REVY_TEST_DB_NAME", "revy")
if DB == "sqlite":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(BASE_DIR / f"{NAME}.sqlite3"),
            "TEST": {"NAME": str(BASE_DIR / f"test_{NAME}.sqlite3")},
        }
    }
elif DB == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": NAME,
            "USER": os.environ.get("REVY_PG_USER", "postgres"),
            "HOST": os.environ.get("REVY_PG_HOST", "127.0.0.1"),
            "PORT": os.environ.get("REVY_PG_PORT", "5432"),
        }
    }
elif DB == "mariadb":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "NAME": NAME,
            "USER": os.environ.get("REVY_MARIADB_USER", "root"),
            "PASSWORD": os.environ.get("REVY_MARIADB_PASSWORD", ""),
            "HOST": os.environ.get("REVY_MARIADB_HOST", "127.0.0.1"),
            "PORT": os.environ.get("REVY_MARIADB_PORT", "3306"),
            "OPTIONS": {"charset": "utf8mb4"},
            "TEST": {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"},
        }
    }
else:
    raise RuntimeError(f"REVY_TEST_DB must be sqlite, postgres or mariadb, not {DB!r}")

# A second database, set up only for tests that ask for it (deltas follow their change's alias).
if DB == "sqlite":
    DATABASES["other"] = {
        **DATABASES["default"],
        "NAME": str(BASE_DIR / f"{NAME}_other.sqlite3"),
        "TEST": {"NAME": str(BASE_DIR / f"test_{NAME}_other.sqlite3")},
    }
else:
    DATABASES["other"] = {**DATABASES["default"], "NAME": f"{NAME}_other"}

# REVY_TEST_SERVER_BINDING=1 runs the suite on PostgreSQL with psycopg binding parameters on the server and
# preparing every statement run twice (the README's "Prepared statements on PostgreSQL").
if DB == "postgres" and os.environ.get("REVY_TEST_SERVER_BINDING") == "1":
    for _alias in DATABASES.values():
        _alias["OPTIONS"] = {"server_side_binding": True, "prepare_threshold": 2}
