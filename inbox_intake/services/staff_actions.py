"""What staff do to submissions, from the admin or a command: retry, discard, purge. Each says
what it did, and why it left the others alone."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from ..models import Attachment, Submission, WixParticipant
from ..text import submissions
from .participants import email_key
from .relay import relay_due_submissions

Status = Submission.Status
REDACTED = "[removed]"


@dataclass
class BulkResult:
    """What a bulk staff action did: how many rows changed, and why the others did not."""

    done: int = 0
    skipped: Counter = field(default_factory=Counter)

    def describe(self, verb: str) -> str:
        text = f"{submissions(self.done)} {verb}."
        if self.skipped:
            reasons = ", ".join(
                f"{count} {reason}" for reason, count in sorted(self.skipped.items())
            )
            text += f" Skipped: {reasons}."
        return text


SKIP_REASONS = {
    Status.SENT: "already sent",
    Status.DISCARDED: "discarded",
    Status.SPAM: "spam",
    Status.QUEUED: "already queued",
    Status.SENDING: "being sent right now",
    Status.FAILED: "failed",
    Status.RETRYING: "waiting to retry",
}


def retry_submissions(queryset) -> BulkResult:
    """Put FAILED and RETRYING submissions back in the queue, in one UPDATE.

    The relay then enqueues them in batches; it is nudged at once so a small retry is immediate.
    `attempt_count` keeps every attempt ever made; the attempt limit and the backoff start again.
    """
    result = _bulk_result(queryset, Submission.RETRYABLE_STATUSES)
    result.done = queryset.retryable().update(
        status=Status.QUEUED,
        attempts_since_retry=0,
        next_attempt_at=None,
        enqueued_at=None,
        updated_at=timezone.now(),
    )
    if result.done:
        relay_due_submissions()
    return result


def discard_submissions(queryset) -> BulkResult:
    """Stop trying to deliver: QUEUED, RETRYING or FAILED → DISCARDED (kept, never sent)."""
    result = _bulk_result(queryset, Submission.DISCARDABLE_STATUSES)
    result.done = queryset.discardable().update(
        status=Status.DISCARDED, next_attempt_at=None, updated_at=timezone.now()
    )
    return result


def _bulk_result(queryset, eligible_statuses) -> BulkResult:
    counts = queryset.exclude(status__in=eligible_statuses).counts_by_status()
    return BulkResult(skipped=Counter({SKIP_REASONS[status]: n for status, n in counts.items()}))


def purge_submissions(*, older_than: timedelta, anonymise: bool, batch_size: int = 1000):
    """Delete, or strip of personal data, finished submissions older than `older_than`.

    Either way their files go: anonymising deletes the attachments (rows and files) too, since a
    file's content and even its name ("CV Jane Doe.pdf") are personal data, and a row kept
    without its file would point at nothing. Files leave storage once each batch is committed
    (models.delete_attachment_file). Works in batches so a large purge never holds long locks;
    yields the running total.
    """
    old = Submission.objects.purgeable(timezone.now() - older_than)
    if anonymise:
        old = old.exclude(email="")
    total = 0
    while ids := list(old.order_by("pk").values_list("pk", flat=True)[:batch_size]):
        batch = Submission.objects.filter(pk__in=ids)
        emails = set(batch.values_list("email", flat=True))
        WixParticipant.objects.filter(key__in=[email_key(email) for email in emails]).delete()
        if anonymise:
            with transaction.atomic():
                Attachment.objects.filter(submission__in=ids).delete()
                for submission in batch.select_for_update():
                    submission.data = dict.fromkeys(submission.data, REDACTED)
                    submission.email = submission.name = submission.user_agent = ""
                    submission.client_ip = None
                    submission.save(
                        update_fields=["data", "email", "name", "user_agent", "client_ip"]
                    )
        else:
            batch.delete()
        total += len(ids)
        yield total
