"""Test settings: the real services this machine runs (PostgreSQL, Redis), then the site's settings.

The worker processes that delivery tests start read the same variables, so both sides agree.
"""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/inbox_intake")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("CELERY_TASK_DEFAULT_QUEUE", f"inbox_intake_test_{os.getpid()}")

from site_project.settings import *  # noqa: E402, F403
