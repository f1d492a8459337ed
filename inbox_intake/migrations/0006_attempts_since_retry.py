from importlib import import_module

from django.db import migrations, models
from django.db.models import F

status_tally = import_module("inbox_intake.migrations.0004_status_tally")


def count_attempts_since_retry(apps, schema_editor):
    # Until now a retry reset attempt_count, so it held the attempts since the last retry.
    Submission = apps.get_model("inbox_intake", "Submission")
    Submission.objects.update(attempts_since_retry=F("attempt_count"))


def recreate_sqlite_triggers(apps, schema_editor):
    # SQLite adds a NOT NULL column by rebuilding the table, which drops its triggers.
    if schema_editor.connection.vendor == "sqlite":
        for statement in status_tally.SQLITE_TRIGGERS:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("inbox_intake", "0005_alert_state_heartbeat"),
    ]

    operations = [
        migrations.AddField(
            model_name="submission",
            name="attempts_since_retry",
            field=models.PositiveIntegerField(
                default=0,
                help_text="Attempts since staff last retried: what the attempt limit counts.",
            ),
        ),
        migrations.RunPython(recreate_sqlite_triggers, migrations.RunPython.noop),
        migrations.RunPython(count_attempts_since_retry, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="submission",
            name="attempt_count",
            field=models.PositiveIntegerField(default=0, help_text="Every attempt ever made."),
        ),
    ]
