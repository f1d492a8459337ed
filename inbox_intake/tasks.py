"""Thin Celery tasks: each calls service functions and holds no logic of its own."""

from celery import shared_task

from . import alerts, health
from .models import StatusTally
from .services import delivery, relay
from .services.broker import DELIVER_TASK


@shared_task(name=DELIVER_TASK, ignore_result=True)
def deliver_submission(submission_id: int) -> None:
    delivery.deliver(submission_id)


@shared_task(ignore_result=True)
def relay_due_submissions() -> int:
    enqueued = relay.relay_due_submissions()
    health.note_relay_run()
    return enqueued


@shared_task(ignore_result=True)
def fold_status_tally() -> int:
    return StatusTally.fold()


@shared_task(ignore_result=True)
def send_alerts() -> int:
    return alerts.send_alerts()
