"""Test settings: the real services this machine runs (PostgreSQL, Redis), then the site's settings.

Tests never reach a real Wix site: Wix credentials from the environment or a `.env` file are
blanked, so the client always talks to the local sandbox (tests point it at their live server).
The worker processes that delivery tests start get the same variables, so both sides agree.
"""

import os
import tempfile

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/inbox_intake")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
# Tests (and the worker processes they start) open and close connections as they go, so that the
# test database can always be dropped at the end.
os.environ.setdefault("DATABASE_CONN_MAX_AGE", "0")
os.environ.setdefault("CELERY_TASK_DEFAULT_QUEUE", f"inbox_intake_test_{os.getpid()}")
for name in (
    "WIX_API_KEY",
    "WIX_APP_ID",
    "WIX_APP_SECRET",
    "WIX_APP_INSTANCE_ID",
    "WIX_ACCOUNT_ID",
):
    os.environ[name] = ""
os.environ["INBOX_INTAKE_WIX_SANDBOX"] = "true"
# Metrics tests scrape this process (the web side) and the workers it starts together, which is
# prometheus_client's multiprocess mode; it has to be chosen before prometheus_client is first
# imported. Nothing is written there unless a test turns INBOX_INTAKE_METRICS on.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="inbox-intake-test-metrics-")
os.environ["WIX_API_BASE_URL"] = "http://127.0.0.1:9/wix-sandbox"  # each test sets its own

import secrets  # noqa: E402

from site_project.settings import *  # noqa: E402, F403

# DEBUG is off, as in production, so no key is made up (site_project/checks.py): the run makes up
# its own, which the worker processes it starts are given.
SECRET_KEY = os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50)

# Tests create users by the hundred: Django's default hasher (PBKDF2, a million rounds) spends a
# third of a second on each, a third of the fast tier's time. No test is about hashing strength.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A commit does not wait for PostgreSQL to flush its WAL to disk (still visible to every other
# connection at once; only a crash of the server could lose it, and a test database is thrown
# away). The tests commit a lot: those with a live server (the sandbox over HTTP) commit every
# write, and each is followed by a TRUNCATE of every table. A fifth of the fast tier's time.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c synchronous_commit=off"  # noqa: F405
