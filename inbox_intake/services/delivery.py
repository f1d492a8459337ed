"""Delivering one submission: claim it, upload its files, find the submitter's conversation, send
the form message, record what happened and decide what comes next.

Each step that writes is guarded by the worker's lease (`Submission.objects.leased`): a worker
whose lease has passed to another (it stalled, the relay handed the row on) writes nothing, and
never sends.
"""

import logging
import random
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache

from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from .. import metrics
from ..conf import WixCredentials, intake_settings
from ..form_message import FormMessage, MessageTooLarge, form_message_for
from ..logs import log_event
from ..models import DeliveryAttempt, Submission
from ..text import attempts
from ..wix import (
    ApiKeyAuth,
    OAuthAppAuth,
    WixAmbiguousError,
    WixCall,
    WixClient,
    WixError,
    WixNotFoundError,
    WixPermanentError,
    WixRateLimitError,
)
from ..wix_rate_limiter import WixRateLimiter
from .broker import enqueue_on_commit
from .participants import forget_participant, resolve_conversation
from .wix_uploads import upload_attachments

logger = logging.getLogger(__name__)
#: One line per delivery attempt (logs.py), for log pipelines.
delivery_logger = logging.getLogger("inbox_intake.delivery")
Status = Submission.Status
Outcome = DeliveryAttempt.Outcome
#: Source of randomness for backoff jitter; tests replace it with a seeded one.
jitter_random = random.Random()  # noqa: S311 (jitter, not security)
#: Waits up to this long ride the broker as a countdown; longer ones wait for the relay (a long
#: countdown on Redis outlives its visibility timeout and runs twice).
LONGEST_COUNTDOWN = 60


# --- The Wix client ------------------------------------------------------------------------------


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
    rate_limiter = WixRateLimiter(per_minute) if per_minute else None
    # Said once per process, when it first delivers (not by every process and command that starts).
    if intake_settings.uses_sandbox:
        logger.info("Sandbox mode: delivering to the local Wix sandbox at %s", base_url)
    return WixClient(
        base_url=base_url, auth=auth, timeout=timeout, throttle=rate_limiter, on_call=_heard
    )


#: The Wix requests of the delivery attempt running in this context, for its log line. A context
#: variable, not an attribute of the shared client: each thread or task has its own.
_attempt_calls: ContextVar[list[WixCall] | None] = ContextVar("attempt_calls", default=None)


def _heard(call: WixCall) -> None:
    metrics.wix_request(call)
    calls = _attempt_calls.get()
    if calls is not None:
        calls.append(call)


# --- The lease -----------------------------------------------------------------------------------


class LeaseLost(Exception):
    """Another worker took the submission over while this one was still working on it."""


@dataclass
class Lease:
    """A worker's hold on one SENDING submission, until `until`."""

    submission_id: int
    until: datetime

    @classmethod
    def from_now(cls, submission_id: int, now: datetime) -> "Lease":
        seconds = intake_settings.INBOX_INTAKE_LEASE_SECONDS
        return cls(submission_id, now + timedelta(seconds=seconds))

    def held(self):
        """The submission, while this lease still holds it (else an empty QuerySet)."""
        return Submission.objects.leased(self.submission_id, self.until)

    def renew(self) -> None:
        """Extend the hold, or raise LeaseLost if it has passed to another worker.

        Called right before the send, which cannot be taken back: waiting for Wix or for the rate
        limiter may have outlasted the lease, and then the relay has handed the row to another
        worker, who must be the only one to send.
        """
        renewed = Lease.from_now(self.submission_id, timezone.now())
        if not self.held().update(locked_until=renewed.until):
            raise LeaseLost(f"Submission {self.submission_id} is held by another worker now")
        self.until = renewed.until


# --- Delivering ----------------------------------------------------------------------------------


def deliver(submission_id: int) -> Submission | None:
    """Deliver one submission if it is due and nobody else holds it; record what happened."""
    now = timezone.now()
    lease = Lease.from_now(submission_id, now)
    if not _claim(submission_id, now, lease):
        return None
    submission = Submission.objects.get(pk=submission_id)
    started_at = timezone.now()
    calls_token = _attempt_calls.set([])
    try:
        # Built first: a message Wix could not take fails before any file is uploaded.
        form_message = form_message_for(submission)
        message_id, outcome = _send(get_wix_client(), submission, form_message, lease)
    except LeaseLost:
        logger.warning("Left %s to the worker that took it over", submission.reference)
        return None
    except MessageTooLarge as error:
        too_large = WixPermanentError(str(error))
        _record(submission, lease, started_at, after_failure(too_large, submission))
    except WixError as error:
        _record(submission, lease, started_at, after_failure(error, submission))
    except Exception as error:
        # A bug or an outage of our own (database, broker) must not leave the row stuck in
        # SENDING: record it, and look in Wix before the next try, since the send may have gone.
        logger.exception("Unexpected error delivering %s", submission.reference)
        unexpected = WixAmbiguousError(f"Unexpected error: {type(error).__name__}: {error}"[:500])
        _record(submission, lease, started_at, after_failure(unexpected, submission))
    else:
        _record(submission, lease, started_at, after_success(outcome, message_id))
    finally:
        _attempt_calls.reset(calls_token)
    submission.refresh_from_db()
    return submission


def _claim(submission_id: int, now: datetime, lease: Lease) -> bool:
    """A due submission → SENDING under `lease`; False if it is not due or another worker has it.

    A SENDING row whose worker vanished may have been delivered: the next attempt looks first.
    """
    claimed = (
        Submission.objects.due(now, early=timedelta(seconds=1))
        .filter(pk=submission_id)
        .update(
            needs_reconciliation=Case(
                When(status=Status.SENDING, then=Value(True)), default=F("needs_reconciliation")
            ),
            status=Status.SENDING,
            locked_until=lease.until,
            attempt_count=F("attempt_count") + 1,
            attempts_since_retry=F("attempts_since_retry") + 1,
            updated_at=now,
        )
    )
    return claimed == 1


def _send(client: WixClient, submission: Submission, form_message: FormMessage, lease: Lease):
    """Upload the submission's files not uploaded yet, then send `form_message` with them to the
    submitter's conversation; return (message id, outcome).

    The files come first, outside the conversation's lookups: a 404 from an upload is the file's
    failure, not a sign that the conversation moved. After an uncertain attempt, the
    conversation is searched first and a message found there is taken as delivered. If Wix
    answers 404 for a cached conversation (conversations can be merged), the ids are looked up
    once more, afresh.
    """
    attachments = upload_attachments(client, submission, lease)
    media = tuple(attachment.as_wix_media() for attachment in attachments)
    message = replace(form_message, media=media).as_wix()
    for fresh in (False, True):
        try:
            conversation_id = resolve_conversation(client, submission, fresh=fresh)
            if submission.needs_reconciliation:
                found = _find_delivered(client, conversation_id, str(submission.reference))
                if found:
                    return found, Outcome.RECONCILED
            sent = client.send_message(conversation_id, message, before_send=lease.renew)
            return sent["id"], Outcome.SENT
        except WixNotFoundError:
            if fresh:
                raise
            forget_participant(submission)
    raise AssertionError("unreachable")  # pragma: no cover


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


# --- What happens next ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NextStep:
    """What an attempt leaves behind: the submission's next status and the attempt's record."""

    status: str
    outcome: str
    message_id: str = ""
    retry_at: datetime | None = None
    #: When to publish the retry's task (short waits), or None: the relay will (long waits).
    enqueue_at: datetime | None = None
    #: The submission's last error (with status, code and request id), and the attempt's own.
    last_error: str = ""
    attempt_error: str = ""
    http_status: int | None = None
    wix_error_code: str = ""
    request_id: str = ""


def after_success(outcome: str, message_id: str) -> NextStep:
    last_call = (_attempt_calls.get() or [None])[-1]
    return NextStep(
        status=Status.SENT,
        outcome=outcome,
        message_id=message_id,
        http_status=last_call.status if last_call else None,
        request_id=(last_call.request_id or "") if last_call else "",
    )


def after_failure(
    error: WixError, submission: Submission, *, now: datetime | None = None
) -> NextStep:
    """Retry with backoff, or give up: a permanent failure at once, a transient or uncertain one
    once the attempts since the last retry reach INBOX_INTAKE_MAX_ATTEMPTS."""
    now = now or timezone.now()
    outcome = classify(error)
    last_error, attempt_error = str(error), error.message
    tried = submission.attempts_since_retry
    out_of_attempts = (
        outcome != Outcome.PERMANENT and tried >= intake_settings.INBOX_INTAKE_MAX_ATTEMPTS
    )
    if out_of_attempts:
        gave_up = gave_up_text(tried)
        last_error, attempt_error = f"{gave_up}: {last_error}", f"{gave_up}: {attempt_error}"
    failure = {
        "outcome": outcome,
        "last_error": last_error,
        "attempt_error": attempt_error,
        "http_status": error.status,
        "wix_error_code": error.code or "",
        "request_id": error.request_id or "",
    }
    if outcome == Outcome.PERMANENT or out_of_attempts:
        return NextStep(status=Status.FAILED, **failure)
    retry_after = error.retry_after if isinstance(error, WixRateLimitError) else None
    delay = retry_delay(tried, retry_after)
    retry_at = now + timedelta(seconds=delay)
    enqueue_at = retry_at if delay <= LONGEST_COUNTDOWN else None
    return NextStep(status=Status.RETRYING, retry_at=retry_at, enqueue_at=enqueue_at, **failure)


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


def gave_up_text(attempt_count: int) -> str:
    return f"Gave up after {attempts(attempt_count)} (INBOX_INTAKE_MAX_ATTEMPTS)"


# --- Recording -----------------------------------------------------------------------------------


def _record(submission: Submission, lease: Lease, started_at: datetime, step: NextStep) -> None:
    """Write the attempt's end: the submission's new state (only while this worker's lease
    holds), its DeliveryAttempt row, the retry's task for a short wait; then log it."""
    now = timezone.now()
    changes = {
        "status": step.status,
        "locked_until": None,
        "next_attempt_at": step.retry_at,
        "last_error": step.last_error[:2000],
        "wix_contact_id": submission.wix_contact_id,
        "wix_conversation_id": submission.wix_conversation_id,
        "updated_at": now,
    }
    if step.status == Status.SENT:
        changes |= {"sent_at": now, "wix_message_id": step.message_id}
        changes["needs_reconciliation"] = False
    else:
        changes["enqueued_at"] = step.enqueue_at
        if step.outcome == Outcome.AMBIGUOUS:
            changes["needs_reconciliation"] = True
    with transaction.atomic():
        updated = lease.held().update(**changes)
        attempt = DeliveryAttempt.objects.create(
            submission=submission,
            started_at=started_at,
            finished_at=now,
            outcome=step.outcome,
            http_status=step.http_status,
            wix_error_code=step.wix_error_code[:100],
            request_id=step.request_id[:200],
            error=step.attempt_error[:2000],
        )
        if updated and step.enqueue_at:
            countdown = max((step.retry_at - now).total_seconds(), 0)
            enqueue_on_commit(submission.pk, countdown=countdown)
    if not updated and step.status == Status.SENT:
        logger.warning("Submission %s was delivered after its lease expired", submission.reference)
    _log_attempt(submission, attempt, step.status)


ATTEMPT_LOG_LEVELS = {Status.SENT: logging.INFO, Status.RETRYING: logging.WARNING}


def _log_attempt(submission: Submission, attempt: DeliveryAttempt, status: str) -> None:
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
