"""What staff are shown of delivery as a whole: the counts per status and what is stuck or
failing (the admin summary, `intake_status`), the backlog's drain time, the last 30 days (the
admin chart), and the CSV export."""

import csv
import json
import math
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import CharField, Count, Exists, OuterRef, Value
from django.db.models.functions import Concat, TruncDate
from django.utils import timezone

from ..conf import intake_settings
from ..models import DeliveryAttempt, StatusTally, Submission, WixParticipant
from ..text import submissions

Status = Submission.Status


@dataclass
class DeliveryStatus:
    counts: dict
    oldest_pending: Submission | None
    last_failure: DeliveryAttempt | None
    uses_sandbox: bool
    api_base_url: str
    drain: "DrainEstimate | None"


#: Wix calls a pending submission costs: a known participant only the send; a new one also the
#: contact and the conversation (README, "Delivery states").
CALLS_KNOWN_PARTICIPANT, CALLS_NEW_PARTICIPANT = 1, 3
#: A backlog that drains within this many minutes is not worth a word.
DRAIN_WORTH_SAYING_MINUTES = 5


@dataclass(frozen=True)
class DrainEstimate:
    """How long the pending submissions take to reach Wix at the shared budget of calls."""

    pending: int
    calls: int
    per_minute: int

    @property
    def minutes(self) -> int:
        return math.ceil(self.calls / self.per_minute)

    def describe(self) -> str:
        hours, minutes = divmod(self.minutes, 60)
        duration = f"{hours} h {minutes} min" if hours else f"{minutes} min"
        return (
            f"{submissions(self.pending)} waiting: about {duration} at Wix's limit "
            f"({self.calls:,} calls at {self.per_minute} a minute)"
        )


def drain_estimate(counts: dict[str, int] | None = None) -> DrainEstimate | None:
    """The backlog's drain time, when it is more than a few minutes of Wix's budget (None when
    there is no budget, INBOX_INTAKE_WIX_REQUESTS_PER_MINUTE = 0). `counts`: the counts per
    status the caller already read (StatusTally.counts()), so the backlog is not counted twice.

    A submitter known by email is told from the participant cache; members and visitors are
    counted as new (a few, in practice), so the estimate errs long.
    """
    per_minute = intake_settings.INBOX_INTAKE_WIX_REQUESTS_PER_MINUTE
    if not per_minute:
        return None
    counts = StatusTally.counts() if counts is None else counts
    total = sum(counts[status] for status in Submission.PENDING_STATUSES)
    if total * CALLS_KNOWN_PARTICIPANT <= DRAIN_WORTH_SAYING_MINUTES * per_minute:
        return None  # even if every one is known, it drains within the minutes worth no word
    known_key = Concat(Value("email:"), OuterRef("email"), output_field=CharField())
    known = (
        Submission.objects.pending()
        .filter(Exists(WixParticipant.objects.filter(key=known_key)))
        .count()
    )
    calls = known * CALLS_KNOWN_PARTICIPANT + (total - known) * CALLS_NEW_PARTICIPANT
    estimate = DrainEstimate(pending=total, calls=calls, per_minute=per_minute)
    return estimate if estimate.minutes > DRAIN_WORTH_SAYING_MINUTES else None


def delivery_status() -> DeliveryStatus:
    """Counts per status, the oldest submission still waiting, and the latest failure while
    something is failing (an old error, since put right, is not news)."""
    counts = StatusTally.counts()
    failing = any(counts[status] for status in Submission.FAILING_STATUSES)
    return DeliveryStatus(
        counts=counts,
        oldest_pending=oldest_pending(),
        last_failure=DeliveryAttempt.objects.failures().order_by("-started_at").first()
        if failing
        else None,
        uses_sandbox=intake_settings.uses_sandbox,
        api_base_url=intake_settings.WIX_API_BASE_URL,
        drain=drain_estimate(counts),
    )


def oldest_pending() -> Submission | None:
    """The submission that has waited longest for delivery (its summary fields only)."""
    return (
        Submission.objects.pending()
        .only("reference", "status", "created_at", "last_error")
        .order_by("created_at")
        .first()
    )


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
