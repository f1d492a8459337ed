"""Thin Celery tasks: each calls one service function or model method (the relay also notes that
it ran)."""

from celery import shared_task

from . import alerts, health, services
from .models import StatusTally


@shared_task(name=services.DELIVER_TASK, ignore_result=True)
def deliver_submission(submission_id: int) -> None:
    services.deliver(submission_id)


@shared_task(ignore_result=True)
def relay_due_submissions() -> int:
    enqueued = services.relay_due_submissions()
    health.note_relay_run()
    return enqueued


@shared_task(ignore_result=True)
def fold_status_tally() -> int:
    return StatusTally.fold()


@shared_task(ignore_result=True)
def send_alerts() -> int:
    return alerts.send_alerts()
