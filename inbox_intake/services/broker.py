"""Publishing the delivery task, and asking the broker how many such tasks wait.

The task is published by name (the tasks call these services, so importing them would be a
cycle), through the host's Celery app, whatever its broker: Redis, RabbitMQ or the file system.
"""

import logging

from celery import current_app
from django.db import transaction
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)

DELIVER_TASK = "inbox_intake.tasks.deliver_submission"


def enqueue_on_commit(submission_id: int, *, countdown: float | None = None) -> None:
    """Publish the delivery task once the current transaction commits.

    The row is the outbox: if the broker is down, the failure is logged and swallowed, so the
    visitor's request (or a relay batch) still succeeds, and the relay enqueues the row again
    after the grace period.
    """
    transaction.on_commit(
        lambda: current_app.send_task(DELIVER_TASK, (submission_id,), countdown=countdown),
        robust=True,
    )


def waiting_task_count() -> int:
    """How many delivery tasks wait in the broker's queue, not yet taken by a worker (0 if the
    broker cannot be asked: the relay then enqueues as if the queue had run empty)."""
    queue = current_app.amqp.queues[current_app.conf.task_default_queue]
    with current_app.connection_for_read() as broker:
        try:
            broker.ensure_connection(max_retries=1)
            return queue.bind(broker.default_channel).queue_declare(passive=True).message_count
        except broker.channel_errors:
            return 0  # the queue does not exist (yet): nothing waits in it
        except (OperationalError, *broker.connection_errors) as error:
            logger.warning("Could not ask the broker how many tasks wait: %s", error)
            return 0
