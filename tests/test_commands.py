import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from inbox_intake.models import DeliveryAttempt, Submission, WixParticipant
from inbox_intake.services import reporting
from tests.conftest import ROOT, free_port

Status = Submission.Status


@pytest.fixture
def make_submission(make_submission):
    """Submissions here are FAILED unless a test says otherwise; `age` says how old."""

    def make(status=Status.FAILED, age=timedelta(0), **fields):
        return make_submission(status=status, received=timezone.now() - age, **fields)

    return make


class Terminal(StringIO):
    def isatty(self) -> bool:
        return True


def run(*args, stdout=None) -> str:
    out = stdout or StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_retry_queues_failed_submissions(make_submission):
    failed = make_submission()
    make_submission(status=Status.SENT)

    output = run("intake_retry")

    assert "1/1 processed" in output
    assert "1 submission queued for delivery." in output
    failed.refresh_from_db()
    assert failed.status == Status.QUEUED


def test_retry_draws_a_progress_bar_on_a_terminal(make_submission):
    make_submission()

    output = run("intake_retry", stdout=Terminal())

    assert output.startswith(f"\r[{'#' * 30}] 1/1\n")
    assert "processed" not in output


def test_retry_takes_retrying_when_asked(make_submission):
    failed = make_submission()
    retrying = make_submission(status=Status.RETRYING)

    assert "1 submission queued" in run("intake_retry", "--status", "retrying")
    failed.refresh_from_db()
    retrying.refresh_from_db()
    assert (failed.status, retrying.status) == (Status.FAILED, Status.QUEUED)


def test_retry_by_reference_says_why_one_was_not_retried(make_submission):
    failed = make_submission()
    sent = make_submission(status=Status.SENT)
    references = ("--reference", str(failed.reference), "--reference", str(sent.reference))

    assert run("intake_retry", *references, "--dry-run") == "Would retry 1 submission.\n"
    output = run("intake_retry", *references)

    assert "1 submission queued for delivery. Skipped: 1 already sent." in output
    sent.refresh_from_db()
    assert sent.status == Status.SENT


def test_retry_dry_run_changes_nothing(make_submission):
    failed = make_submission()

    assert run("intake_retry", "--dry-run") == "Would retry 1 submission.\n"
    failed.refresh_from_db()
    assert failed.status == Status.FAILED


def test_retry_since_and_reference_narrow_the_selection(make_submission):
    recent = make_submission()
    make_submission(age=timedelta(days=10))

    assert "Would retry 1" in run("intake_retry", "--since", "7d", "--dry-run")
    assert "Would retry 1" in run("intake_retry", "--reference", str(recent.reference), "--dry-run")


def test_retry_rejects_bad_input(db):
    with pytest.raises(CommandError, match="not a duration"):
        run("intake_retry", "--since", "yesterday")
    with pytest.raises(CommandError, match="Not a valid reference"):
        run("intake_retry", "--reference", "nope")


def test_status_reports_counts_pending_and_last_error(make_submission):
    make_submission(status=Status.SENT)
    pending = make_submission(status=Status.RETRYING, age=timedelta(hours=2))
    DeliveryAttempt.objects.create(
        submission=pending,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        outcome=DeliveryAttempt.Outcome.TRANSIENT,
        error="could not connect to Wix",
    )

    output = run("intake_status")

    assert "Delivering to the local Wix sandbox" in output
    assert "  sent                1" in output
    assert "  retrying            1" in output
    assert f"Oldest pending: {pending.reference} (retrying)" in output
    assert "could not connect to Wix" in output


def test_status_shows_no_old_error_once_nothing_is_failing(make_submission):
    sent = make_submission(status=Status.SENT)
    DeliveryAttempt.objects.create(
        submission=sent,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        outcome=DeliveryAttempt.Outcome.TRANSIENT,
        error="could not connect to Wix",
    )

    output = run("intake_status")

    assert "could not connect" not in output
    assert "Nothing is failing." in output


def test_status_takes_the_sandbox_address_from_the_sites_port(tmp_path):
    """Run from another shell with the server's PORT, it names the server's address."""
    port = free_port()
    environment = os.environ | {
        "DJANGO_SETTINGS_MODULE": "site_project.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DEBUG": "true",
        "PORT": str(port),
    }
    for name in ("WIX_API_BASE_URL", "SITE_PORT", "INBOX_INTAKE_WIX_SANDBOX"):
        environment.pop(name, None)
    manage = [sys.executable, "manage.py"]
    for command in (["migrate", "--no-input", "-v", "0"], ["intake_status"]):
        done = subprocess.run(
            manage + command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr

    assert done.stdout.startswith(
        f"Delivering to the local Wix sandbox at http://127.0.0.1:{port}/wix-sandbox\n"
        "Nothing answers there: is the site running?"
    )
    assert done.stderr == "", "no start-up notice on every command"


def test_status_says_when_real_wix_is_used_and_nothing_waits(db, settings):
    settings.INBOX_INTAKE_WIX_SANDBOX = False
    settings.WIX_API_BASE_URL = "https://www.wixapis.com"

    output = run("intake_status")

    assert output.startswith("Delivering to Wix at https://www.wixapis.com\n")
    assert "Nothing pending." in output
    assert "Nothing is failing." in output


def test_purge_deletes_old_finished_submissions_only(make_submission, settings):
    settings.INBOX_INTAKE_PURGE_MODE = "delete"
    make_submission(status=Status.SENT, age=timedelta(days=100))
    kept_pending = make_submission(status=Status.RETRYING, age=timedelta(days=100))
    kept_recent = make_submission(status=Status.SENT, age=timedelta(days=10))

    output = run("intake_purge", "--older-than", "90d")

    assert output.endswith("Deleted 1 submission.\n")
    assert set(Submission.objects.values_list("pk", flat=True)) == {kept_pending.pk, kept_recent.pk}


def test_purge_can_anonymise_instead(make_submission, settings):
    settings.INBOX_INTAKE_PURGE_MODE = "anonymise"
    old = make_submission(status=Status.SENT, age=timedelta(days=100), user_agent="UA")
    WixParticipant.objects.create(key="email:jane@example.com", contact_id="c")

    output = run("intake_purge", "--older-than", "90d", "--batch-size", "1")

    assert output.endswith("Anonymised 1 submission.\n")
    old.refresh_from_db()
    assert old.data == dict.fromkeys(
        ["first_name", "last_name", "email", "phone", "message", "subscribe_newsletter"],
        "[removed]",
    )
    assert (old.email, old.name, old.user_agent, old.client_ip) == ("", "", "", None)
    assert not WixParticipant.objects.exists()


def test_purge_reports_each_batch(make_submission, settings):
    settings.INBOX_INTAKE_PURGE_MODE = "delete"
    for _ in range(3):
        make_submission(status=Status.SENT, age=timedelta(days=100))

    output = run("intake_purge", "--older-than", "90d", "--batch-size", "2")

    assert output == "2 so far\n3 so far\nDeleted 3 submissions.\n"
    assert not Submission.objects.exists()


def test_purge_rejects_a_bad_age(db):
    with pytest.raises(CommandError, match="not a duration"):
        run("intake_purge", "--older-than", "3 months")


def test_demo_admin_keeps_its_login_private_and_announces_it(live_server, tmp_path):
    login_file = tmp_path / "var" / "demo_login"

    created = run("intake_demo_admin", "--login-file", str(login_file))
    again = run("intake_demo_admin", "--login-file", str(login_file))
    banner = run(
        "intake_demo_admin", "--login-file", str(login_file), "--announce", live_server.url
    )

    username, password = login_file.read_text().split()
    assert oct(login_file.stat().st_mode & 0o777) == "0o600"
    assert created == f"Created the demo admin 'admin' (login in {login_file}).\n"
    assert again == ""
    assert f"Inbox Intake is up on {live_server.url}/" in banner
    assert f"{live_server.url}/admin/   log in as admin / {password}" in banner
    assert "Forgot the password? .venv/bin/python manage.py changepassword admin" in banner


def test_demo_admin_says_when_its_password_was_changed(live_server, tmp_path, django_user_model):
    login_file = tmp_path / "demo_login"
    run("intake_demo_admin", "--login-file", str(login_file))
    user = django_user_model.objects.get(username="admin")
    user.set_password("changed-by-hand-123")
    user.save()

    banner = run(
        "intake_demo_admin", "--login-file", str(login_file), "--announce", live_server.url
    )

    assert "log in as admin (its password was changed since it was created)" in banner
    assert "changepassword admin" in banner


# --- The backlog, in time ----------------------------------------------------------------------


@pytest.fixture
def backlog(make_submission, settings):
    """Wix's budget at 10 calls a minute: 60 pending submissions, 20 of them from submitters the
    participant cache knows (1 call each), 40 new (3 calls each): 140 calls, 14 minutes."""
    settings.INBOX_INTAKE_WIX_REQUESTS_PER_MINUTE = 10
    for n in range(60):
        email = f"visitor{n}@example.com"
        make_submission(status=Status.QUEUED, email=email, data={"email": email})
    for n in range(20):
        WixParticipant.objects.create(key=f"email:visitor{n}@example.com", conversation_id=f"c{n}")


def test_the_drain_estimate_counts_the_calls_each_submission_needs(backlog):
    drain = reporting.drain_estimate()

    assert (drain.pending, drain.calls, drain.minutes) == (60, 140, 14)
    assert (
        drain.describe()
        == "60 submissions waiting: about 14 min at Wix's limit (140 calls at 10 a minute)"
    )


def test_intake_status_says_how_long_the_backlog_takes(backlog):
    out = StringIO()
    call_command("intake_status", stdout=out)

    assert "Backlog: 60 submissions waiting: about 14 min at Wix's limit" in out.getvalue()


def test_a_backlog_of_a_few_minutes_is_not_worth_a_word(make_submission, settings):
    settings.INBOX_INTAKE_WIX_REQUESTS_PER_MINUTE = 10
    for n in range(16):  # 48 calls: under 5 minutes
        make_submission(status=Status.QUEUED, email=f"v{n}@example.com")

    assert reporting.drain_estimate() is None


def test_the_admin_summary_shows_the_drain_time(admin_client, backlog):
    page = admin_client.get("/admin/inbox_intake/submission/").content.decode()

    assert "Backlog: 60 submissions waiting: about 14 min at Wix&#x27;s limit" in page
