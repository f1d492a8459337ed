"""The periodic tasks Inbox Intake needs, for a host's Celery beat schedule:

    from inbox_intake.beat import BEAT_SCHEDULE
    CELERY_BEAT_SCHEDULE = {**BEAT_SCHEDULE}

Plain data (no Django import), so a settings module can read it.
"""

BEAT_SCHEDULE = {
    # Enqueues what is due: retries whose time has come, rows the broker lost, dead workers' rows.
    "inbox-intake-relay": {"task": "inbox_intake.tasks.relay_due_submissions", "schedule": 5.0},
    # Keeps the status counts cheap to read (see models.StatusTally).
    "inbox-intake-fold-status-tally": {
        "task": "inbox_intake.tasks.fold_status_tally",
        "schedule": 60.0,
    },
    # Mails staff about failed submissions and an old backlog (a digest at most once an interval).
    "inbox-intake-alerts": {"task": "inbox_intake.tasks.send_alerts", "schedule": 60.0},
}
