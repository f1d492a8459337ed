"""The example site (site_project/): its own checks, and its configuration as a production site
would have it, from the environment alone."""

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
    "ADMINS": "ops@example.com",
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
    """Run manage.py of the example site with `variables` as its whole configuration (a
    variable given as None is left unset)."""

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
        env = {name: value for name, value in env.items() if value is not None}
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


def test_without_a_secret_key_and_with_debug_off_the_site_refuses_to_start(manage, tmp_path):
    done = manage("check", DEBUG="false", SECRET_KEY=None, WIX_API_KEY="key", WIX_SITE_ID="site")

    assert done.returncode != 0
    assert "site_project.E001" in done.stderr
    assert "SECRET_KEY is not set, and DEBUG is off." in done.stderr
    assert not (tmp_path / "secret_key").exists()


def test_make_run_keeps_its_generated_key(manage, tmp_path):
    done = manage("check", DEBUG="true", SECRET_KEY=None)

    assert done.returncode == 0, done.stderr
    assert (tmp_path / "secret_key").exists()


def test_a_secret_key_from_the_environment_is_enough(manage):
    done = manage(
        "check", DEBUG="false", SECRET_KEY="k" * 50, WIX_API_KEY="key", WIX_SITE_ID="site"
    )

    assert done.returncode == 0, done.stderr


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
