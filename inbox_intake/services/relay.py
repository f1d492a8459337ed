"""The relay: enqueue what is due, so that a task message the broker lost, or a worker that
died, delays a delivery but never loses it. Beat runs it every few seconds (`intake_relay` for
sites that use cron), and a staff retry nudges it at once."""

import logging
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from ..conf import intake_settings
from ..models import Submission
from ..text import submissions
from .broker import enqueue_on_commit, waiting_task_count

logger = logging.getLogger(__name__)


def relay_due_submissions(*, now=None, batch_size: int | None = None) -> int:
    """Enqueue a batch of submissions that are due but not on the broker; return how many.

    A row never enqueued is enqueued at once. One already enqueued is enqueued again only once
    it has waited a grace period and the broker's queue has run empty: while messages still wait
    there, its own may be among them, and copying every row of a long backlog would only make the
    backlog longer. (A SENDING row whose lease ran out is no longer in the queue: it is due.)
    """
    now = now or timezone.now()
    grace = now - timedelta(seconds=intake_settings.INBOX_INTAKE_QUEUED_GRACE_SECONDS)
    lost = Q(enqueued_at__lte=grace)
    if waiting_task_count() > 0:
        lost &= Q(status=Submission.Status.SENDING)
    rows = (
        Submission.objects.due(now)
        .filter(Q(enqueued_at__isnull=True) | lost)
        .order_by("enqueued_at")
    )
    if connection.features.has_select_for_update_skip_locked:
        rows = rows.select_for_update(skip_locked=True, of=("self",))
    limit = batch_size or intake_settings.INBOX_INTAKE_RELAY_BATCH_SIZE
    with transaction.atomic():
        ids = list(rows.values_list("pk", flat=True)[:limit])
        Submission.objects.filter(pk__in=ids).update(enqueued_at=now)
        for submission_id in ids:
            enqueue_on_commit(submission_id)
    if ids:
        logger.info("Relay enqueued %s that were due", submissions(len(ids)))
    return len(ids)
