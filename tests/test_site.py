"""The example site configured as a production site would be, from the environment alone."""

import logging
import os
import secrets
import subprocess
import sys

import pytest

from tests.conftest import ROOT

PRODUCTION = {
    "DEBUG": "false",
    "ALLOWED_HOSTS": "forms.example.com",
    "WIX_API_KEY": "IST.a-real-looking-key",
    "WIX_SITE_ID": "0e7c1b1e-1111-4a4a-9b9b-123456789abc",
    "SECURE_PROXY_SSL": "true",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "SESSION_COOKIE_SECURE": "true",
    "CSRF_COOKIE_SECURE": "true",
}


@pytest.fixture
def manage(tmp_path):
    """Run manage.py of the example site with `variables` as its whole configuration."""

    def run(*args, **variables):
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("WIX_", "INBOX_INTAKE_", "DATABASE_", "DJANGO_", "CELERY_"))
        }
        env |= {
            "INBOX_INTAKE_VAR_DIR": str(tmp_path),
            "SECRET_KEY": secrets.token_urlsafe(60),
            **variables,
        }
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def test_check_deploy_finds_nothing_in_a_production_configuration(manage):
    done = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_check_deploy_names_what_is_missing(manage):
    done = manage(
        "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION | {"SECURE_HSTS_SECONDS": "0"}
    )

    assert done.returncode == 1
    assert "security.W004" in done.stderr, "HSTS off is reported"


def test_the_favicon_request_is_answered_without_a_404(client):
    assert client.get("/favicon.ico").status_code == 204


@pytest.mark.parametrize(
    ("message", "kept"),
    [
        (
            "Scheduler: Sending due task inbox-intake-relay"
            " (inbox_intake.tasks.relay_due_submissions)",
            False,
        ),
        ("Task inbox_intake.tasks.relay_due_submissions[1f2e] received", False),
        ("Task inbox_intake.tasks.fold_status_tally[1f2e] succeeded in 0.01s: 0", False),
        ("Task inbox_intake.tasks.deliver_submission[1f2e] received", True),
    ],
)
def test_celery_lines_about_routine_tasks_are_dropped(message, kept):
    for name in ("celery.beat", "celery.worker.strategy", "celery.app.trace"):
        record = logging.LogRecord(name, logging.INFO, __file__, 1, message, None, None)
        assert bool(logging.getLogger(name).filter(record)) is kept
    warning = logging.LogRecord(
        "celery.app.trace", logging.WARNING, __file__, 1, message, None, None
    )
    assert logging.getLogger("celery.app.trace").filter(warning)
