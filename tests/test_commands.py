from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from inbox_intake.models import DeliveryAttempt, Submission, WixParticipant

Status = Submission.Status


@pytest.fixture
def make_submission(db):
    def make(status=Status.FAILED, age=timedelta(0), **fields):
        submission = Submission.objects.create(
            data={"first_name": "Jane", "email": "jane@example.com", "message": "Hi"},
            email="jane@example.com",
            name="Jane Doe",
            status=status,
            client_ip="203.0.113.9",
            **fields,
        )
        Submission.objects.filter(pk=submission.pk).update(created_at=timezone.now() - age)
        submission.refresh_from_db()
        return submission

    return make


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_retry_queues_failed_submissions(make_submission):
    failed = make_submission()
    make_submission(status=Status.SENT)

    output = run("intake_retry")

    assert "1/1 processed" in output
    assert "1 submission(s) queued for delivery." in output
    failed.refresh_from_db()
    assert failed.status == Status.QUEUED


def test_retry_dry_run_changes_nothing(make_submission):
    failed = make_submission()

    assert run("intake_retry", "--dry-run") == "Would retry 1 submission(s).\n"
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


def test_purge_deletes_old_finished_submissions_only(make_submission, settings):
    settings.INBOX_INTAKE_PURGE_MODE = "delete"
    make_submission(status=Status.SENT, age=timedelta(days=100))
    kept_pending = make_submission(status=Status.RETRYING, age=timedelta(days=100))
    kept_recent = make_submission(status=Status.SENT, age=timedelta(days=10))

    output = run("intake_purge", "--older-than", "90d")

    assert output.endswith("Deleted 1 submission(s).\n")
    assert set(Submission.objects.values_list("pk", flat=True)) == {kept_pending.pk, kept_recent.pk}


def test_purge_can_anonymise_instead(make_submission, settings):
    settings.INBOX_INTAKE_PURGE_MODE = "anonymise"
    old = make_submission(status=Status.SENT, age=timedelta(days=100), user_agent="UA")
    WixParticipant.objects.create(key="email:jane@example.com", contact_id="c")

    output = run("intake_purge", "--older-than", "90d", "--batch-size", "1")

    assert output.endswith("Anonymised 1 submission(s).\n")
    old.refresh_from_db()
    assert old.data == {"first_name": "[removed]", "email": "[removed]", "message": "[removed]"}
    assert (old.email, old.name, old.user_agent, old.client_ip) == ("", "", "", None)
    assert not WixParticipant.objects.exists()
