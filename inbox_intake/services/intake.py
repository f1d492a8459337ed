"""Accepting a submission: saved first, its delivery published once the row is committed.

The checks before it (origins, rate limits, honeypot, CAPTCHA, validation) are protection.py's;
this is what happens to a submission that passed them.
"""

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from .. import metrics
from ..forms import IntakeForm
from ..models import Submission
from .broker import enqueue_on_commit


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
        status=Submission.Status.SPAM if spam else Submission.Status.QUEUED,
        enqueued_at=None if spam else timezone.now(),
    )
    if not spam:
        enqueue_on_commit(submission.pk)
    metrics.submission(form_name, "spam" if spam else "accepted")
    return submission


def _member_id_of(user) -> str:
    link = getattr(user, "wix_member_link", None) if user and user.is_authenticated else None
    return link.member_id if link else ""
