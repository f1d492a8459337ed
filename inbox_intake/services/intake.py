"""Accepting a submission: saved first, its delivery published once the row is committed.

The checks before it (origins, rate limits, honeypot, CAPTCHA, validation) are protection.py's;
this is what happens to a submission that passed them.
"""

import json
import logging

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from .. import metrics
from ..forms import IntakeForm
from ..models import Attachment, Submission
from .broker import enqueue_on_commit

logger = logging.getLogger(__name__)


def accept_submission(
    *,
    form_name: str,
    data: dict,
    files=(),
    client_ip: str | None = None,
    user_agent: str = "",
    user=None,
    spam: bool = False,
) -> Submission:
    """Save a valid submission, with its files, and schedule its delivery.

    `data` is the form's `submitted_data()` (a file field: the list of its files' names);
    `files` the files that passed the checks (uploads.CheckedFile), stored as Attachment rows.
    The visitor never waits on Wix: the task is published only after the rows are committed.
    Spam (a bot filled the honeypot) is kept as SPAM for staff to see, and never scheduled; its
    files are not kept (their names stay in `data`), so a bot cannot fill the disk.
    """
    # Stored as JSON: dates and decimals as ISO text, which the message builder reads back.
    data = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    visitor_id = data.pop("anonymous_visitor_id", "") or ""
    submission = Submission(
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
    if files and not spam:
        _save_with_files(submission, files)
    else:
        # No atomic block: the one INSERT commits on its own (autocommit) and on_commit then
        # publishes at once; BEGIN and COMMIT around it only cost two more round trips. Inside a
        # caller's transaction, the task still waits for that transaction to commit.
        submission.save()
    if not spam:
        enqueue_on_commit(submission.pk)
    metrics.submission(form_name, "spam" if spam else "accepted")
    return submission


def _save_with_files(submission: Submission, files) -> None:
    """The files written to storage first, outside any transaction (a remote storage may take a
    while, and no row should stay locked meanwhile); then the submission and its attachments in
    one transaction. If anything fails, the files already written are deleted: no file outlives
    a submission that was never saved."""
    written = []
    try:
        attachments = []
        for position, checked in enumerate(files):
            attachment = Attachment(
                field_name=checked.field_name,
                position=position,
                original_name=checked.original_name,
                content_type=checked.content_type,
                size=checked.size,
                width=checked.width,
                height=checked.height,
            )
            attachment.file.save(checked.original_name, checked.upload, save=False)
            written.append(attachment.file)
            attachments.append(attachment)
        with transaction.atomic():
            submission.save()
            for attachment in attachments:
                attachment.submission = submission
            Attachment.objects.bulk_create(attachments)
    except BaseException:
        for file in written:
            _delete_quietly(file)
        raise


def _delete_quietly(file) -> None:
    """Delete a file written for a submission that was not saved; the original error matters
    more than a failure to clean up, which is logged."""
    try:
        file.storage.delete(file.name)
    except Exception:
        logger.exception("Could not delete %s after the submission failed to save", file.name)


def _member_id_of(user) -> str:
    link = getattr(user, "wix_member_link", None) if user and user.is_authenticated else None
    return link.member_id if link else ""
