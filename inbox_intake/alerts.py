"""Alerts to staff, by Django's `mail_admins` (to the site's ADMINS, through its email backend).

Two kinds: submissions that became FAILED, and a backlog whose oldest pending submission has
waited longer than INBOX_INTAKE_BACKLOG_MAX_AGE. Each mails a digest (how many, the first few
references and their last errors, a link to the admin's list) at most once per
INBOX_INTAKE_ALERT_INTERVAL, and one "recovered" mail when its condition clears. Beat runs
`send_alerts` every minute, and so does `intake_relay` for cron-only sites.

When nothing is wrong it costs three small queries: the status tally, the oldest pending
submission, and the raised alerts. Where each kind stands is kept in `AlertState` (see there why
in the database).
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.core.mail import mail_admins
from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from .conf import intake_settings
from .models import AlertState, StatusTally, Submission
from .services import reporting

logger = logging.getLogger(__name__)
Status = Submission.Status

#: How many submissions a digest lists by reference.
SAMPLE_SIZE = 5


@dataclass(frozen=True)
class Mail:
    subject: str
    body: str


class FailedAlert:
    kind = "failed"
    setting = "INBOX_INTAKE_ALERT_FAILED"

    def holds(self, now: datetime) -> bool:
        return StatusTally.counts()[Status.FAILED] > 0

    def digest(self, since: datetime | None, now: datetime) -> Mail | None:
        """The submissions that became FAILED since the last digest, if any did."""
        failed = Submission.objects.filter(status=Status.FAILED, updated_at__lte=now)
        new = failed.filter(updated_at__gt=since) if since else failed
        count = new.count()
        if not count:
            return None
        sample = new.order_by("updated_at").only("reference", "updated_at", "last_error")
        lines = [
            f"{count} submission(s) could not be delivered to the Wix Inbox"
            + (f" since {_when(since)}." if since else "."),
            "",
            *(
                f"- {s.reference} (failed {_when(s.updated_at)}): {s.last_error}"
                for s in sample[:SAMPLE_SIZE]
            ),
            *_more(count),
            "",
            f"{failed.count()} submission(s) are failed in all. Fix the cause (the last error says "
            "what Wix answered), then retry them from the admin:",
            _admin_list_url({"status__exact": Status.FAILED}),
        ]
        return Mail(f"Inbox Intake: {count} submission(s) failed", "\n".join(lines))

    def recovery(self) -> Mail:
        return Mail(
            "Inbox Intake recovered: no failed submissions",
            "No submission is failed any more: each was retried or discarded.",
        )


class BacklogAlert:
    kind = "backlog"
    setting = "INBOX_INTAKE_ALERT_BACKLOG"

    def holds(self, now: datetime) -> bool:
        oldest = reporting.oldest_pending()
        return bool(oldest and oldest.created_at < self._cutoff(now))

    def digest(self, since: datetime | None, now: datetime) -> Mail:
        """Repeated once per interval for as long as the backlog stays old."""
        late = Submission.objects.filter(
            status__in=Submission.PENDING_STATUSES, created_at__lt=self._cutoff(now)
        )
        count = late.count()
        sample = late.order_by("created_at").only("reference", "status", "created_at", "last_error")
        limit = _duration(intake_settings.INBOX_INTAKE_BACKLOG_MAX_AGE)
        lines = [
            f"{count} submission(s) have waited more than {limit} for delivery to the Wix Inbox.",
            "",
            *(
                f"- {s.reference} ({s.status}, received {_when(s.created_at)})"
                + (f": {s.last_error}" if s.last_error else "")
                for s in sample[:SAMPLE_SIZE]
            ),
            *_more(count),
            "",
            "Check that the Celery worker and beat are running and that Wix answers "
            "(the last errors say what it answered). The pending submissions:",
            _admin_list_url({"status__in": ",".join(Submission.PENDING_STATUSES)}),
        ]
        return Mail(f"Inbox Intake: {count} submission(s) waiting over {limit}", "\n".join(lines))

    def recovery(self) -> Mail:
        limit = _duration(intake_settings.INBOX_INTAKE_BACKLOG_MAX_AGE)
        return Mail(
            "Inbox Intake recovered: the backlog has cleared",
            f"No submission has been waiting for delivery for more than {limit} any more.",
        )

    def _cutoff(self, now: datetime) -> datetime:
        return now - timedelta(seconds=intake_settings.INBOX_INTAKE_BACKLOG_MAX_AGE)


ALERTS = (FailedAlert(), BacklogAlert())


def send_alerts(*, now: datetime | None = None) -> int:
    """Mail staff what they have to know now; return how many mails went."""
    now = now or timezone.now()
    raised = set(AlertState.objects.filter(raised=True).values_list("kind", flat=True))
    sent = 0
    for alert in ALERTS:
        if not getattr(intake_settings, alert.setting):
            continue
        holds = alert.holds(now)
        if holds or alert.kind in raised:
            sent += _step(alert, holds, now)
    return sent


def _step(alert, holds: bool, now: datetime) -> int:
    """Mail a digest or the recovery, if one is due. The state row stays locked while the mail
    goes, so that beat and intake_relay, running at once, never both send it."""
    with transaction.atomic():
        AlertState.objects.get_or_create(kind=alert.kind)
        state = AlertState.objects.select_for_update().get(kind=alert.kind)
        if not holds:
            if not state.raised:
                return 0
            mail = alert.recovery()
            state.raised = False
        else:
            interval = timedelta(seconds=intake_settings.INBOX_INTAKE_ALERT_INTERVAL)
            if state.mailed_at and now - state.mailed_at < interval:
                return 0
            mail = alert.digest(state.reported_through, now)
            if mail is None:
                return 0
            state.raised, state.mailed_at, state.reported_through = True, now, now
        mail_admins(mail.subject, mail.body)
        state.save()
    logger.info("Alert mailed to the site's admins: %s", mail.subject)
    return 1


def _more(count: int) -> list[str]:
    return [f"- and {count - SAMPLE_SIZE} more."] if count > SAMPLE_SIZE else []


def _admin_list_url(filters: dict) -> str:
    """The admin's list of submissions with these filters, on INBOX_INTAKE_SITE_URL if set."""
    try:
        path = reverse("admin:inbox_intake_submission_changelist")
    except NoReverseMatch:  # the site does not serve the admin
        return "(the admin's list of submissions)"
    return f"{intake_settings.INBOX_INTAKE_SITE_URL.rstrip('/')}{path}?{urlencode(filters)}"


def _when(moment: datetime) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M %Z}"


def _duration(seconds: int) -> str:
    return f"{seconds // 60} minutes" if seconds % 60 == 0 else f"{seconds} seconds"
