"""Thin Celery tasks: each calls one service function."""

from celery import shared_task

from . import services


@shared_task(name=services.DELIVER_TASK, ignore_result=True)
def deliver_submission(submission_id: int) -> None:
    services.deliver(submission_id)


@shared_task(ignore_result=True)
def relay_due_submissions() -> int:
    return services.relay_due_submissions()


@shared_task(ignore_result=True)
def fold_status_tally() -> int:
    return services.fold_status_tally()
