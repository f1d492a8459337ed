"""The status tally: on PostgreSQL pgtrigger's triggers keep per-status counts exact, whatever
writes the rows; elsewhere the counts come from the table itself."""

import json
import os
import subprocess
import sys
import threading
from importlib import import_module
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.db.migrations import RunPython
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count

from inbox_intake.models import StatusTally, Submission

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

    folded = StatusTally.fold(batch_size=3)

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
    StatusTally.fold()
    release.set()
    thread.join(10)
    StatusTally.fold()

    assert StatusTally.counts() == true_counts()
    assert StatusTally.counts()["spam"] == 1


@pytest.mark.django_db(transaction=True)
def test_two_folds_at_once_neither_lose_nor_double_a_row_nor_wait(make_submission):
    for status in (Status.SENT, Status.SENT, Status.FAILED):
        make_submission(status=status)
    first_folded, release = threading.Event(), threading.Event()

    def first_fold():
        try:
            with transaction.atomic():
                StatusTally.fold()
                first_folded.set()
                release.wait(10)
        finally:
            connection.close()

    first = threading.Thread(target=first_fold)
    first.start()
    try:
        assert first_folded.wait(10)
        # The first fold holds its batch (deleted and summed, not committed): the second skips
        # those rows rather than wait, and finds nothing else to fold.
        assert StatusTally.fold() == 0
    finally:
        release.set()
        first.join(10)

    assert StatusTally.counts() == true_counts()
    assert StatusTally.counts()["sent"] == 2
    assert StatusTally.fold() == 2  # the first fold's sums, one row per status


def tally_triggers() -> list[str]:
    """The names of the triggers on the submissions table, their pgtrigger hash left off."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
            " AND tgrelid = 'inbox_intake_submission'::regclass ORDER BY tgname"
        )
        names = [name for (name,) in cursor.fetchall()]
    return [name.rsplit("_", 1)[0] if name.startswith("pgtrigger_") else name for name in names]


@pytest.mark.django_db(transaction=True)
def test_migrations_count_the_submissions_already_there_and_hand_over_to_pgtrigger():
    """0004 counts what was there and its hand-written triggers count on; 0007 replaces them
    with pgtrigger's, and going back to 0006 restores them, each in one transaction: no write
    goes uncounted or is counted twice."""
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes("inbox_intake")
    before_tally = [("inbox_intake", "0003_admin_indexes")]
    hand_written = [("inbox_intake", "0006_attempts_since_retry")]

    def migrate(target):
        executor = MigrationExecutor(connection)
        executor.migrate(target)
        return executor.loader.project_state(target).apps.get_model("inbox_intake", "Submission")

    try:
        OldSubmission = migrate(before_tally)
        for status in (Status.SENT, Status.SENT, Status.FAILED):
            OldSubmission.objects.create(data={}, email="old@example.com", status=status)
        OldSubmission = migrate(hand_written)
        OldSubmission.objects.create(data={}, email="0006@example.com", status=Status.SPAM)
        assert tally_triggers() == ["submission_tally_insert_delete", "submission_tally_update"]

        migrate(latest)
        Submission.objects.filter(status=Status.SPAM).update(status=Status.DISCARDED)
        assert tally_triggers() == [
            "pgtrigger_tally_delete",
            "pgtrigger_tally_insert",
            "pgtrigger_tally_status_change",
        ]

        OldSubmission = migrate(hand_written)
        OldSubmission.objects.filter(status=Status.FAILED).update(status=Status.QUEUED)
        assert StatusTally.counts() == true_counts()
    finally:
        migrate(latest)

    Submission.objects.create(data={}, email="new@example.com")
    assert StatusTally.counts() == true_counts()
    assert StatusTally.counts() == dict.fromkeys(Status.values, 0) | {
        "sent": 2,
        "discarded": 1,
        "queued": 2,
    }


def test_other_databases_migrate_without_hand_written_triggers():
    """pgtrigger's operations do nothing outside PostgreSQL; the hand-written ones of 0004 and
    0007 do nothing either (0004 used to stop `migrate` on any database but two)."""
    executed = []
    editor = SimpleNamespace(connection=SimpleNamespace(vendor="mysql"), execute=executed.append)
    empty_tally = SimpleNamespace(objects=SimpleNamespace(all=lambda: SimpleNamespace(delete=list)))
    old_apps = SimpleNamespace(get_model=lambda app_label, name: empty_tally)
    for name in ("0004_status_tally", "0007_status_tally_pgtrigger"):
        migration = import_module(f"inbox_intake.migrations.{name}").Migration
        for operation in migration.operations:
            if isinstance(operation, RunPython):
                operation.code(old_apps, editor)
                operation.reverse_code(old_apps, editor)

    assert executed == []


def test_sqlite_counts_the_table_after_every_migration(tmp_path):
    """`make run` uses SQLite, where a migration that rebuilds the submissions table drops its
    triggers: there the counts come from the table, and no trigger or tally row is left."""
    script = """
import json
from django.db import connection
from inbox_intake.models import StatusTally, Submission
for status in ("sent", "sent", "failed", "queued"):
    Submission.objects.create(data={}, email="x@example.com", status=status)
Submission.objects.filter(status="failed").update(status="queued")
Submission.objects.filter(status="sent").first().delete()
folded = StatusTally.fold()
Submission.objects.create(data={}, email="y@example.com", status="spam")
with connection.cursor() as cursor:
    cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    triggers = cursor.fetchall()
print(json.dumps({
    "counts": StatusTally.counts(),
    "folded": folded,
    "tally_rows": StatusTally.objects.count(),
    "triggers": triggers,
}))
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

    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {
        "counts": dict.fromkeys(Status.values, 0) | {"sent": 1, "queued": 2, "spam": 1},
        "folded": 0,
        "tally_rows": 0,
        "triggers": [],
    }
