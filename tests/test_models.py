"""The status tally: database triggers keep per-status counts exact, whatever writes the rows."""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count

from inbox_intake.models import StatusTally, Submission
from inbox_intake.services import reporting

Status = Submission.Status
ROOT = Path(__file__).resolve().parent.parent


def true_counts() -> dict[str, int]:
    """The counts read from the submissions themselves: what the tally must always agree with."""
    counted = Submission.objects.order_by().values_list("status").annotate(n=Count("*"))
    return dict.fromkeys(Status.values, 0) | dict(counted)


def test_tally_follows_inserts_status_changes_and_deletes(make_submission):
    first = make_submission()
    make_submission(status=Status.SENT)
    make_submission(status=Status.FAILED)
    make_submission(status=Status.FAILED)
    first.status = Status.SENDING
    first.save()
    first.name = "Only the name changes"
    first.save()
    Submission.objects.filter(status=Status.FAILED).update(status=Status.QUEUED)
    Submission.objects.filter(status=Status.SENT).delete()

    assert StatusTally.counts() == true_counts()
    assert StatusTally.counts() == dict.fromkeys(Status.values, 0) | {"sending": 1, "queued": 2}


def test_fold_leaves_one_row_per_status_and_the_same_counts(make_submission):
    for status in [Status.SENT] * 5 + [Status.SPAM] * 2 + [Status.QUEUED]:
        make_submission(status=status)
    Submission.objects.filter(status=Status.QUEUED).update(status=Status.SENT)
    assert StatusTally.objects.count() == 10

    folded = reporting.fold_status_tally(batch_size=3)

    assert folded >= 10
    assert (
        StatusTally.counts()
        == true_counts()
        == dict.fromkeys(Status.values, 0)
        | {
            "sent": 6,
            "spam": 2,
        }
    )
    assert sorted(StatusTally.objects.values_list("status", "delta")) == [("sent", 6), ("spam", 2)]


@pytest.mark.django_db(transaction=True)
def test_fold_beside_an_uncommitted_writer_counts_its_rows_once(make_submission):
    make_submission(status=Status.SENT)
    inserted, release = threading.Event(), threading.Event()

    def writer():
        try:
            with transaction.atomic():
                make_submission(status=Status.SPAM)
                inserted.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    assert inserted.wait(10)
    reporting.fold_status_tally()
    release.set()
    thread.join(10)
    reporting.fold_status_tally()

    assert StatusTally.counts() == true_counts()
    assert StatusTally.counts()["spam"] == 1


@pytest.mark.django_db(transaction=True)
def test_two_folds_at_once_neither_lose_nor_double_a_row(make_submission):
    for status in (Status.SENT, Status.SENT, Status.FAILED):
        make_submission(status=status)
    first_folded, release = threading.Event(), threading.Event()
    second_done = threading.Event()

    def first_fold():
        try:
            with transaction.atomic():
                reporting.fold_status_tally()
                first_folded.set()
                release.wait(10)
        finally:
            connection.close()

    def second_fold():
        try:
            reporting.fold_status_tally()
            second_done.set()
        finally:
            connection.close()

    first = threading.Thread(target=first_fold)
    first.start()
    assert first_folded.wait(10)
    second = threading.Thread(target=second_fold)
    second.start()
    # The second fold waits on the rows the first one deleted but has not committed yet.
    assert not second_done.wait(0.5)
    release.set()
    first.join(10)
    second.join(10)

    assert second_done.is_set()
    assert StatusTally.counts() == true_counts()
    assert StatusTally.counts()["sent"] == 2


@pytest.mark.django_db(transaction=True)
def test_migration_counts_the_submissions_already_there():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes("inbox_intake")
    before_tally = [("inbox_intake", "0003_admin_indexes")]
    try:
        executor.migrate(before_tally)
        old_apps = executor.loader.project_state(before_tally).apps
        OldSubmission = old_apps.get_model("inbox_intake", "Submission")
        for status in (Status.SENT, Status.SENT, Status.FAILED):
            OldSubmission.objects.create(data={}, email="old@example.com", status=status)

        executor = MigrationExecutor(connection)
        executor.migrate(latest)
    finally:
        MigrationExecutor(connection).migrate(latest)

    Submission.objects.create(data={}, email="new@example.com")
    assert StatusTally.counts() == true_counts()
    assert StatusTally.counts() == dict.fromkeys(Status.values, 0) | {
        "sent": 2,
        "failed": 1,
        "queued": 1,
    }


def test_sqlite_keeps_the_tally_through_every_migration(tmp_path):
    """`make run` uses SQLite, where a migration that rebuilds the submissions table drops its
    triggers: after all migrations the tally must still follow every write."""
    script = """
import json
from inbox_intake.services import broker, delivery, relay, reporting, staff_actions

from inbox_intake.models import StatusTally, Submission
for status in ("sent", "sent", "failed", "queued"):
    Submission.objects.create(data={}, email="x@example.com", status=status)
Submission.objects.filter(status="failed").update(status="queued")
Submission.objects.filter(status="sent").first().delete()
reporting.fold_status_tally()
Submission.objects.create(data={}, email="y@example.com", status="spam")
print(json.dumps(StatusTally.counts()))
"""
    environment = os.environ | {
        "DJANGO_SETTINGS_MODULE": "site_project.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "SECRET_KEY": settings.SECRET_KEY,
    }
    manage = [sys.executable, "manage.py"]
    for command in (["migrate", "--no-input", "-v", "0"], ["shell", "-c", script]):
        done = subprocess.run(
            manage + command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr

    counts = json.loads(done.stdout.strip().splitlines()[-1])
    assert counts == dict.fromkeys(Status.values, 0) | {"sent": 1, "queued": 2, "spam": 1}
