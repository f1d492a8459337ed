"""A logging filter for Celery's lines about Inbox Intake's periodic tasks."""

import logging

#: The tasks beat runs every few seconds or every minute (see beat.BEAT_SCHEDULE).
ROUTINE_TASKS = (
    "inbox_intake.tasks.relay_due_submissions",
    "inbox_intake.tasks.fold_status_tally",
)


class QuietRoutineTasks(logging.Filter):
    """Drop Celery's INFO lines about the routine tasks (beat sending them, the worker receiving
    them, their success): about 40 a minute while idle, they bury the lines that matter. The relay
    logs for itself when it enqueued something; warnings and errors always pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        message = record.getMessage()
        return not any(task in message for task in ROUTINE_TASKS)
