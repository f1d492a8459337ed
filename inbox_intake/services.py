"""Business logic of Inbox Intake: accept, deliver, retry, discard, relay.

Views, tasks, admin actions and management commands all call these functions; none of them holds
logic of its own. The database is the outbox: every state change is a conditional UPDATE, so two
workers (or a duplicated task message) can never deliver the same submission twice.
"""

import csv
import json
import logging
import random
import unicodedata
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from urllib.parse import urlencode

from celery import current_app
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Case, Count, F, Q, Value, When
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from . import metrics
from .conf import WixCredentials, intake_settings
from .forms import IntakeForm, get_registered_form
from .logs import log_event
from .messages import FormMessage, MessageTooLarge, build_form_message
from .models import DeliveryAttempt, StatusTally, Submission, WixParticipant
from .text import attempts, normalize_email, submissions
from .throttle import DatabaseRateLimiter
from .wix import (
    ApiKeyAuth,
    OAuthAppAuth,
    WixAmbiguousError,
    WixCall,
    WixClient,
    WixConflictError,
    WixError,
    WixNotFoundError,
    WixPermanentError,
    WixRateLimitError,
)

logger = logging.getLogger(__name__)
#: One line per delivery attempt (logs.py), for log pipelines.
delivery_logger = logging.getLogger("inbox_intake.delivery")
Status = Submission.Status
Outcome = DeliveryAttempt.Outcome

DELIVER_TASK = "inbox_intake.tasks.deliver_submission"
#: States the relay and the workers still have to act on.
PENDING_STATUSES = (Status.QUEUED, Status.RETRYING, Status.SENDING)
#: Source of randomness for backoff jitter; tests replace it with a seeded one.
jitter_random = random.Random()  # noqa: S311 (jitter, not security)


# --- Intake --------------------------------------------------------------------------------------


def accept_submission(
    *,
    form_name: str,
    data: dict,
    client_ip: str | None = None,
    user_agent: str = "",
    user=None,
    spam: bool = False,
) -> Submission:
    """Save a valid submission and schedule its delivery.

    The visitor never waits on Wix: the task is published only after the row is committed.
    Spam (a bot filled the honeypot) is kept as SPAM for staff to see, and never scheduled.
    """
    # Stored as JSON: dates and decimals as ISO text, which the message builder reads back.
    data = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    visitor_id = data.pop("anonymous_visitor_id", "") or ""
    # No atomic block: the one INSERT commits on its own (autocommit) and on_commit then publishes
    # at once; BEGIN and COMMIT around it only cost two more round trips. Inside a caller's
    # transaction, the task still waits for that transaction to commit.
    submission = Submission.objects.create(
        form_name=form_name,
        data=data,
        email=data["email"].strip().lower(),
        # Each name part may be long (1,000 characters); the column, for lists and search, is
        # not: the whole name stays in `data`.
        name=" ".join(IntakeForm.submitter_name(data).values())[: Submission.NAME_MAX_LENGTH],
        wix_member_id=_member_id_of(user),
        wix_anonymous_visitor_id=visitor_id,
        client_ip=client_ip,
        user_agent=user_agent[:1000],
        status=Status.SPAM if spam else Status.QUEUED,
        enqueued_at=None if spam else timezone.now(),
    )
    if not spam:
        enqueue_on_commit(submission.pk)
    metrics.submission(form_name, "spam" if spam else "accepted")
    return submission


def enqueue_on_commit(submission_id: int, *, countdown: float | None = None) -> None:
    """Publish the delivery task once the current transaction commits.

    The row is the outbox: if the broker is down, the failure is logged and swallowed, so the
    visitor's request (or a relay batch) still succeeds, and the relay enqueues the row again
    after the grace period.
    """
    # By name: the tasks call these services, so importing them here would be a cycle.
    transaction.on_commit(
        lambda: current_app.send_task(DELIVER_TASK, (submission_id,), countdown=countdown),
        robust=True,
    )


def _member_id_of(user) -> str:
    link = getattr(user, "wix_member_link", None) if user and user.is_authenticated else None
    return link.member_id if link else ""


# --- The message ---------------------------------------------------------------------------------


def form_message_for(submission: Submission) -> FormMessage:
    """The Wix form message for a submission, as it is (or will be) sent.

    A submission whose form is no longer registered is still delivered: its stored values, under
    their field names, with the default title.
    """
    intake_form = get_registered_form(submission.form_name)
    data = submission.data
    if intake_form is None:
        fields = [(name, str(value)) for name, value in data.items()]
        title, description, preview = submission.form_name, "", ""
    else:
        form_class = intake_form.form_class
        fields = form_class.wix_fields(data)
        title, description = intake_form.message_title, intake_form.message_description
        preview = data.get(form_class.preview_field) or intake_form.message_title
    return build_form_message(
        title=title,
        description=description,
        fields=fields,
        reference=str(submission.reference),
        preview_text=f"{submission.name or submission.email}: {preview}",
    )


# --- Delivery ------------------------------------------------------------------------------------


def get_wix_client() -> WixClient:
    """The process's Wix client (one HTTP session, one cached OAuth token) for current settings."""
    return _wix_client(
        intake_settings.WIX_API_BASE_URL,
        intake_settings.wix_credentials(),
        (intake_settings.WIX_CONNECT_TIMEOUT, intake_settings.WIX_READ_TIMEOUT),
        intake_settings.INBOX_INTAKE_WIX_REQUESTS_PER_MINUTE,
    )


@lru_cache(maxsize=4)
def _wix_client(base_url, credentials: WixCredentials, timeout, per_minute):
    if credentials.app_id:
        auth = OAuthAppAuth(credentials.app_id, credentials.app_secret, credentials.app_instance_id)
    else:
        auth = ApiKeyAuth(
            credentials.api_key,
            site_id=credentials.site_id,
            account_id="" if credentials.site_id else credentials.account_id,
        )
    throttle = DatabaseRateLimiter(per_minute) if per_minute else None
    # Said once per process, when it first delivers (not by every process and command that starts).
    if intake_settings.uses_sandbox:
        logger.info("Sandbox mode: delivering to the local Wix sandbox at %s", base_url)
    return WixClient(
        base_url=base_url, auth=auth, timeout=timeout, throttle=throttle, on_call=_heard_wix_call
    )


#: The Wix requests of the delivery attempt running in this context, for its log line. A context
#: variable, not an attribute of the shared client: each thread or task has its own.
_attempt_calls: ContextVar[list[WixCall] | None] = ContextVar("attempt_calls", default=None)


def _heard_wix_call(call: WixCall) -> None:
    metrics.wix_request(call)
    calls = _attempt_calls.get()
    if calls is not None:
        calls.append(call)


class LeaseLost(Exception):
    """Another worker took the submission over while this one was still working on it."""


@dataclass
class Lease:
    """A worker's hold on one SENDING submission, until `until`."""

    submission_id: int
    until: datetime

    def renew(self) -> None:
        """Extend the hold, or raise LeaseLost if it has passed to another worker.

        Called right before the send, which cannot be taken back: waiting for Wix or for the rate
        limiter may have outlasted the lease, and then the relay has handed the row to another
        worker, who must be the only one to send.
        """
        until = timezone.now() + timedelta(seconds=intake_settings.INBOX_INTAKE_LEASE_SECONDS)
        renewed = Submission.objects.filter(
            pk=self.submission_id, status=Status.SENDING, locked_until=self.until
        ).update(locked_until=until)
        if not renewed:
            raise LeaseLost(f"Submission {self.submission_id} is held by another worker now")
        self.until = until


def deliver(submission_id: int) -> Submission | None:
    """Deliver one submission if it is due and nobody else holds it; record what happened."""
    now = timezone.now()
    lease = Lease(
        submission_id, now + timedelta(seconds=intake_settings.INBOX_INTAKE_LEASE_SECONDS)
    )
    if not _claim(submission_id, now, lease.until):
        return None
    submission = Submission.objects.get(pk=submission_id)
    started_at = timezone.now()
    calls_token = _attempt_calls.set([])
    try:
        message = form_message_for(submission).as_wix()
        message_id, outcome = _send_once(get_wix_client(), submission, message, lease)
    except LeaseLost:
        logger.warning("Left %s to the worker that took it over", submission.reference)
        return None
    except MessageTooLarge as error:
        _record_failure(submission, lease, started_at, WixPermanentError(str(error)))
    except WixError as error:
        _record_failure(submission, lease, started_at, error)
    except Exception as error:
        # A bug or an outage of our own (database, broker) must not leave the row stuck in
        # SENDING: record it, and look in Wix before the next try, since the send may have gone.
        logger.exception("Unexpected error delivering %s", submission.reference)
        unexpected = WixAmbiguousError(f"Unexpected error: {type(error).__name__}: {error}"[:500])
        _record_failure(submission, lease, started_at, unexpected)
    else:
        _record_success(submission, lease, started_at, message_id, outcome)
    finally:
        _attempt_calls.reset(calls_token)
    submission.refresh_from_db()
    return submission


def _claim(submission_id: int, now, lease) -> bool:
    """QUEUED, due RETRYING, or SENDING whose worker vanished → SENDING, with a lease.

    A worker that vanished mid-send may have delivered: the next attempt looks before it sends.
    """
    claimable = (
        Q(status=Status.QUEUED)
        | Q(status=Status.RETRYING, next_attempt_at__lte=now + timedelta(seconds=1))
        | Q(status=Status.SENDING, locked_until__lt=now)
    )
    claimed = Submission.objects.filter(claimable, pk=submission_id).update(
        needs_reconciliation=Case(
            When(status=Status.SENDING, then=Value(True)), default=F("needs_reconciliation")
        ),
        status=Status.SENDING,
        locked_until=lease,
        attempt_count=F("attempt_count") + 1,
        attempts_since_retry=F("attempts_since_retry") + 1,
        updated_at=now,
    )
    return claimed == 1


def _send_once(
    client: WixClient, submission: Submission, message: dict, lease: Lease
) -> tuple[str, str]:
    """Find the conversation and send; a 404 from a cached id gets one fresh look-up."""
    for fresh in (False, True):
        try:
            conversation_id = _conversation_id(client, submission, fresh=fresh)
            if submission.needs_reconciliation:
                found = _find_delivered(client, conversation_id, str(submission.reference))
                if found:
                    return found, Outcome.RECONCILED
            sent = client.send_message(conversation_id, message, before_send=lease.renew)
            return sent["id"], Outcome.SENT
        except WixNotFoundError:
            if fresh:
                raise
            WixParticipant.objects.filter(key=_participant_key(submission)).delete()
    raise AssertionError("unreachable")  # pragma: no cover


def _participant_key(submission: Submission) -> str:
    if submission.wix_member_id:
        return f"member:{submission.wix_member_id}"
    if submission.wix_anonymous_visitor_id:
        return f"visitor:{submission.wix_anonymous_visitor_id}"
    return _email_key(submission.email)


def _email_key(email: str) -> str:
    """The participant cache's key for a submitter known by email: one per mailbox, however
    the address was written."""
    return f"email:{normalize_email(email)}"


def _conversation_id(client: WixClient, submission: Submission, *, fresh: bool) -> str:
    """The submitter's conversation: member id, else visitor id, else the contact found by email
    (created if missing). Ids are cached per participant so a repeat submitter costs no look-up."""
    key = _participant_key(submission)
    cached = None if fresh else WixParticipant.objects.filter(key=key).first()
    if cached and cached.conversation_id:
        contact_id, conversation_id = cached.contact_id, cached.conversation_id
    else:
        contact_id = ""
        if submission.wix_member_id:
            participant = {"memberId": submission.wix_member_id}
        elif submission.wix_anonymous_visitor_id:
            participant = {"anonymousVisitorId": submission.wix_anonymous_visitor_id}
        else:
            contact_id = _contact_id(client, submission)
            participant = {"contactId": contact_id}
        conversation_id = client.get_or_create_conversation(participant)
        WixParticipant.objects.update_or_create(
            key=key, defaults={"contact_id": contact_id, "conversation_id": conversation_id}
        )
    submission.wix_contact_id = contact_id
    submission.wix_conversation_id = conversation_id
    return conversation_id


def _contact_id(client: WixClient, submission: Submission) -> str:
    """The submitter's Wix contact, created if missing.

    Create first: Wix refuses an email already in use with a 409 that names the existing contact,
    so a new and a known submitter each cost one call (querying first would cost a new one two).
    """
    try:
        return client.create_contact(_contact_info(submission))
    except WixConflictError:
        contact_id = client.find_contact_id(normalize_email(submission.email))
        if contact_id:
            return contact_id
        raise


def _contact_info(submission: Submission) -> dict:
    data = submission.data
    email = normalize_email(submission.email)
    info = {"emails": {"items": [{"tag": "MAIN", "email": email, "primary": True}]}}
    name = IntakeForm.submitter_name(data)
    if name:
        info = {"name": name, **info}
    if data.get("phone"):
        info["phones"] = {"items": [{"tag": "MOBILE", "phone": data["phone"]}]}
    return info


def _find_delivered(client: WixClient, conversation_id: str, reference: str) -> str | None:
    """The id of a message in the conversation that carries this reference, if Wix has one."""
    cursor = None
    for _ in range(intake_settings.INBOX_INTAKE_RECONCILE_PAGES):
        messages, cursor = client.list_messages(conversation_id, "BUSINESS", cursor=cursor)
        for message in messages:
            fields = ((message.get("content") or {}).get("form") or {}).get("fields") or []
            if {"name": "Reference", "value": reference} in fields:
                return message["id"]
        if not cursor:
            return None
    return None


def _record_success(submission, lease: Lease, started_at, message_id: str, outcome: str) -> None:
    now = timezone.now()
    last_call = _last_wix_call()
    with transaction.atomic():
        updated = Submission.objects.filter(
            pk=submission.pk, status=Status.SENDING, locked_until=lease.until
        ).update(
            status=Status.SENT,
            sent_at=now,
            wix_message_id=message_id,
            wix_contact_id=submission.wix_contact_id,
            wix_conversation_id=submission.wix_conversation_id,
            locked_until=None,
            next_attempt_at=None,
            needs_reconciliation=False,
            last_error="",
            updated_at=now,
        )
        attempt = DeliveryAttempt.objects.create(
            submission=submission,
            started_at=started_at,
            finished_at=now,
            outcome=outcome,
            http_status=last_call.status if last_call else None,
            request_id=(last_call.request_id or "")[:200] if last_call else "",
        )
    if not updated:
        logger.warning("Submission %s was delivered after its lease expired", submission.reference)
    _attempt_done(submission, attempt, Status.SENT)


def classify(error: WixError) -> str:
    if isinstance(error, WixAmbiguousError):
        return Outcome.AMBIGUOUS
    if isinstance(error, WixPermanentError):
        return Outcome.PERMANENT
    return Outcome.TRANSIENT


def retry_delay(attempt_count: int, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter, capped; never sooner than Wix's Retry-After."""
    ceiling = min(
        intake_settings.INBOX_INTAKE_BACKOFF_CAP,
        intake_settings.INBOX_INTAKE_BACKOFF_BASE * 2 ** max(attempt_count - 1, 0),
    )
    delay = jitter_random.uniform(0, ceiling)
    return max(delay, retry_after or 0.0)


def _record_failure(submission, lease: Lease, started_at, error: WixError) -> None:
    """Record one failed attempt and decide the submission's next state."""
    now = timezone.now()
    outcome = classify(error)
    # The attempt's own columns hold the HTTP status, code and request id; the submission's last
    # error carries them all, to be read (or quoted to Wix) on its own.
    last_error, attempt_error = str(error), error.message
    out_of_attempts = (
        outcome != Outcome.PERMANENT
        and submission.attempts_since_retry >= intake_settings.INBOX_INTAKE_MAX_ATTEMPTS
    )
    if out_of_attempts:
        gave_up = gave_up_text(submission.attempts_since_retry)
        last_error, attempt_error = f"{gave_up}: {last_error}", f"{gave_up}: {attempt_error}"
    gives_up = outcome == Outcome.PERMANENT or out_of_attempts
    retry_at = enqueue_at = None
    if not gives_up:
        retry_after = error.retry_after if isinstance(error, WixRateLimitError) else None
        delay = retry_delay(submission.attempts_since_retry, retry_after)
        retry_at = now + timedelta(seconds=delay)
        # Short waits ride the broker; longer ones wait for the relay (no long countdowns).
        enqueue_at = retry_at if delay <= 60 else None
    with transaction.atomic():
        updated = Submission.objects.filter(
            pk=submission.pk, status=Status.SENDING, locked_until=lease.until
        ).update(
            status=Status.FAILED if gives_up else Status.RETRYING,
            next_attempt_at=retry_at,
            enqueued_at=enqueue_at,
            locked_until=None,
            last_error=last_error[:2000],
            needs_reconciliation=(
                True if outcome == Outcome.AMBIGUOUS else F("needs_reconciliation")
            ),
            wix_contact_id=submission.wix_contact_id,
            wix_conversation_id=submission.wix_conversation_id,
            updated_at=now,
        )
        attempt = DeliveryAttempt.objects.create(
            submission=submission,
            started_at=started_at,
            finished_at=now,
            outcome=outcome,
            http_status=error.status,
            wix_error_code=(error.code or "")[:100],
            request_id=(error.request_id or "")[:200],
            error=attempt_error[:2000],
        )
        if updated and enqueue_at:
            enqueue_on_commit(submission.pk, countdown=max((retry_at - now).total_seconds(), 0))
    _attempt_done(submission, attempt, Status.FAILED if gives_up else Status.RETRYING)


def _last_wix_call() -> WixCall | None:
    calls = _attempt_calls.get()
    return calls[-1] if calls else None


ATTEMPT_LOG_LEVELS = {Status.SENT: logging.INFO, Status.RETRYING: logging.WARNING}


def _attempt_done(submission: Submission, attempt: DeliveryAttempt, status: str) -> None:
    """One log line and the metrics for a finished attempt. The error text is the one staff see
    in the admin: Wix's message and codes, never a credential nor what the visitor wrote."""
    sent = status == Status.SENT
    metrics.delivery(
        attempt.outcome,
        status,
        (attempt.finished_at - submission.created_at).total_seconds() if sent else None,
    )
    log_event(
        delivery_logger,
        ATTEMPT_LOG_LEVELS.get(status, logging.ERROR),
        "delivery_attempt",
        reference=str(submission.reference),
        form=submission.form_name,
        attempt=submission.attempt_count,
        outcome=attempt.outcome,
        status=status,
        http_status=attempt.http_status,
        wix_request_id=attempt.request_id or None,
        wix_error_code=attempt.wix_error_code or None,
        duration_ms=round(attempt.duration.total_seconds() * 1000),
        wix_calls=len(_attempt_calls.get() or ()),
        error=attempt.error or None,
    )


def gave_up_text(attempt_count: int) -> str:
    return f"Gave up after {attempts(attempt_count)} (INBOX_INTAKE_MAX_ATTEMPTS)"


# --- Relay, retry, discard -----------------------------------------------------------------------


def relay_due_submissions(*, now=None, batch_size: int | None = None) -> int:
    """Enqueue a batch of submissions that are due but not on the broker; return how many.

    Due: RETRYING past its time, QUEUED that the broker never delivered, SENDING whose worker
    died. A row already enqueued is enqueued again only once it has waited a grace period and
    the broker's queue has run empty: while messages still wait there, its own may be among them,
    and copying every row of a long backlog would only make the backlog longer.
    """
    now = now or timezone.now()
    grace = now - timedelta(seconds=intake_settings.INBOX_INTAKE_QUEUED_GRACE_SECONDS)
    lost = Q(enqueued_at__lte=grace)
    if waiting_in_broker():
        lost &= Q(status=Status.SENDING)
    due = (
        Q(status=Status.QUEUED)
        | Q(status=Status.RETRYING, next_attempt_at__lte=now)
        | Q(status=Status.SENDING, locked_until__lt=now)
    ) & (Q(enqueued_at__isnull=True) | lost)
    # `status__in` repeats what `due` implies, so that PostgreSQL sees it may use the partial
    # index of pending rows: the relay stays one cheap query however large the table grows.
    rows = Submission.objects.filter(due, status__in=PENDING_STATUSES).order_by("enqueued_at")
    if connection.features.has_select_for_update_skip_locked:
        rows = rows.select_for_update(skip_locked=True, of=("self",))
    with transaction.atomic():
        ids = list(
            rows.values_list("pk", flat=True)[
                : batch_size or intake_settings.INBOX_INTAKE_RELAY_BATCH_SIZE
            ]
        )
        Submission.objects.filter(pk__in=ids).update(enqueued_at=now)
        for submission_id in ids:
            enqueue_on_commit(submission_id)
    if ids:
        logger.info("Relay enqueued %s that were due", submissions(len(ids)))
    return len(ids)


def waiting_in_broker() -> int:
    """How many delivery tasks wait in the broker's queue, not yet taken by a worker (0 if the
    broker cannot be asked: the relay then enqueues as if the queue had run empty)."""
    app = current_app  # the host's Celery app
    queue = app.amqp.queues[app.conf.task_default_queue]
    with app.connection_for_read() as broker:
        try:
            broker.ensure_connection(max_retries=1)
            return queue.bind(broker.default_channel).queue_declare(passive=True).message_count
        except broker.channel_errors:
            return 0  # the queue does not exist (yet): nothing waits in it
        except (OperationalError, *broker.connection_errors) as error:
            logger.warning("Could not ask the broker how many tasks wait: %s", error)
            return 0


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


#: States staff can send again, and states they can stop (the admin offers its buttons for these).
RETRYABLE_STATUSES = (Status.FAILED, Status.RETRYING)
DISCARDABLE_STATUSES = (Status.QUEUED, Status.RETRYING, Status.FAILED)


def retry_submissions(queryset) -> BulkResult:
    """Put FAILED and RETRYING submissions back in the queue, in one UPDATE.

    The relay then enqueues them in batches; it is nudged at once so a small retry is immediate.
    `attempt_count` keeps every attempt ever made; the attempt limit and the backoff start again.
    """
    result = _bulk_result(queryset, RETRYABLE_STATUSES)
    result.done = queryset.filter(status__in=RETRYABLE_STATUSES).update(
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
    result = _bulk_result(queryset, DISCARDABLE_STATUSES)
    result.done = queryset.filter(status__in=DISCARDABLE_STATUSES).update(
        status=Status.DISCARDED, next_attempt_at=None, updated_at=timezone.now()
    )
    return result


def _bulk_result(queryset, eligible) -> BulkResult:
    counts = _counts_by_status(queryset.exclude(status__in=eligible))
    return BulkResult(skipped=Counter({SKIP_REASONS[status]: n for status, n in counts.items()}))


def _counts_by_status(queryset) -> dict[str, int]:
    """{status: how many}, in one grouped query. COUNT(*) rather than COUNT(id) lets PostgreSQL
    answer from the status index alone."""
    return dict(queryset.order_by().values_list("status").annotate(n=Count("*")))


# --- Reporting and housekeeping ------------------------------------------------------------------


@dataclass
class DeliveryStatus:
    counts: dict
    oldest_pending: Submission | None
    last_failure: DeliveryAttempt | None
    uses_sandbox: bool
    api_base_url: str


#: While any submission is in these states, something is failing.
FAILING_STATUSES = (Status.RETRYING, Status.FAILED)


def delivery_status() -> DeliveryStatus:
    """Counts per status, the oldest submission still waiting, and the latest failure while
    something is failing (an old error, since put right, is not news)."""
    counts = StatusTally.counts()
    failing = any(counts[status] for status in FAILING_STATUSES)
    failures = DeliveryAttempt.objects.exclude(outcome__in=(Outcome.SENT, Outcome.RECONCILED))
    return DeliveryStatus(
        counts=counts,
        oldest_pending=oldest_pending(),
        last_failure=failures.order_by("-started_at").first() if failing else None,
        uses_sandbox=intake_settings.uses_sandbox,
        api_base_url=intake_settings.WIX_API_BASE_URL,
    )


def oldest_pending() -> Submission | None:
    """The submission that has waited longest for delivery (its summary fields only)."""
    return (
        Submission.objects.filter(status__in=PENDING_STATUSES)
        .only("reference", "status", "created_at", "last_error")
        .order_by("created_at")
        .first()
    )


#: Submissions in these states are finished with and may be purged.
PURGEABLE_STATUSES = (Status.SENT, Status.FAILED, Status.DISCARDED, Status.SPAM)
REDACTED = "[removed]"


def purge_submissions(*, older_than: timedelta, anonymise: bool, batch_size: int = 1000):
    """Delete, or strip of personal data, finished submissions older than `older_than`.

    Works in batches so a large purge never holds long locks; yields the running total.
    """
    cutoff = timezone.now() - older_than
    old = Submission.objects.filter(created_at__lt=cutoff, status__in=PURGEABLE_STATUSES)
    if anonymise:
        old = old.exclude(email="")
    total = 0
    while ids := list(old.order_by("pk").values_list("pk", flat=True)[:batch_size]):
        batch = Submission.objects.filter(pk__in=ids)
        emails = set(batch.values_list("email", flat=True))
        WixParticipant.objects.filter(key__in=[_email_key(email) for email in emails]).delete()
        if anonymise:
            with transaction.atomic():
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


# --- Admin reporting -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DayOutcome:
    day: date
    sent: int
    failed: int
    #: Received but neither sent nor failed: still waiting, discarded, or spam.
    other: int

    @property
    def received(self) -> int:
        return self.sent + self.failed + self.other


def daily_outcomes(*, days: int = 30) -> list[DayOutcome]:
    """Of the submissions received on each of the last `days` days (today included), how many
    were sent, failed, or neither, in one query. Every day is listed, quiet ones as zeros."""
    first_day = timezone.localdate() - timedelta(days=days - 1)
    rows = (
        Submission.objects.filter(
            created_at__gte=timezone.make_aware(datetime.combine(first_day, time.min)),
        )
        .annotate(day=TruncDate("created_at"))
        .order_by()
        .values_list("day", "status")
        .annotate(n=Count("*"))
    )
    by_day = defaultdict(Counter)
    for day, status, count in rows:
        by_day[day][status] = count
    outcomes = []
    for day in (first_day + timedelta(days=offset) for offset in range(days)):
        counts = by_day[day]
        sent, failed = counts.pop(Status.SENT, 0), counts.pop(Status.FAILED, 0)
        outcomes.append(DayOutcome(day, sent, failed, other=sum(counts.values())))
    return outcomes


def search_submissions(queryset, term: str):
    """Submissions matching a reference, a Wix message id, an email or its beginning, or a name.

    Every kind of term but a name is answered from an index, so looking up what a customer or
    Wix quoted stays instant on millions of rows; a name is looked for only in a term that could
    be one (letters, no @), as it means reading the whole table. Emails are stored in lower case.
    """
    term = term.strip()
    if not term:
        return queryset
    matches = Q(wix_message_id=term)
    try:
        matches |= Q(reference=uuid.UUID(term))
    except ValueError:
        matches |= Q(email__startswith=term.lower())
        if "@" not in term and any(character.isalpha() for character in term):
            matches |= Q(name__icontains=term)
    return queryset.filter(matches)


def wix_inbox_url(submission: Submission) -> str:
    """Where staff can read the submission's conversation: the sandbox's page, or the Wix
    dashboard's Inbox. Empty while the conversation is unknown, or the site id is (OAuth apps)."""
    conversation_id = submission.wix_conversation_id
    if not conversation_id:
        return ""
    if intake_settings.uses_sandbox:
        return f"{reverse('wix_sandbox:inbox')}?{urlencode({'conversation': conversation_id})}"
    if not intake_settings.WIX_SITE_ID:
        return ""
    dashboard = intake_settings.WIX_DASHBOARD_URL.rstrip("/")
    return f"{dashboard}/{intake_settings.WIX_SITE_ID}/inbox/{conversation_id}"


CSV_HEADER = (
    "reference",
    "received",
    "status",
    "name",
    "email",
    "form",
    "attempts",
    "sent at",
    "last error",
    "submitted data",
)
#: A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@")


def submissions_csv(queryset) -> Iterator[str]:
    """The submissions as CSV lines, read in chunks, for a streamed download of any size.

    A cell that a spreadsheet would run as a formula gets a leading single quote.
    """
    writer = csv.writer(_LineEcho())
    yield writer.writerow(CSV_HEADER)
    for submission in queryset.iterator(chunk_size=2000):
        row = (
            submission.reference,
            _local_iso(submission.created_at),
            submission.get_status_display(),
            submission.name,
            submission.email,
            submission.form_name,
            submission.attempt_count,
            _local_iso(submission.sent_at),
            submission.last_error,
            json.dumps(submission.data, ensure_ascii=False),
        )
        yield writer.writerow([_formula_safe(str(cell)) for cell in row])


class _LineEcho:
    """A file whose write() returns what it was given, so csv.writer can feed a generator."""

    def write(self, line: str) -> str:
        return line


def _local_iso(moment: datetime | None) -> str:
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else ""


def _formula_safe(cell: str) -> str:
    """The cell with a leading `'` if it starts with a formula character, whitespace, or a
    control or format character (a zero-width space, a BOM…): spreadsheets may skip those and
    run the `=` behind them."""
    if cell and (
        cell.startswith(FORMULA_PREFIXES)
        or cell[0].isspace()
        or unicodedata.category(cell[0]) in ("Cc", "Cf")
    ):
        return f"'{cell}"
    return cell
