"""Uploading a submission's files to the Wix Media Manager, the step of a delivery before the send
(the checks of a visitor's files when they arrive are inbox_intake/uploads.py's).

This module owns what Wix learns of an attachment: the name and type each file is uploaded under,
the order of the upload's two calls (an upload URL, then a PUT of the bytes), the record of the
file's Wix id and URL, and the wording of an upload's failure. The form message then refers to
each file by that id and URL (`Attachment.as_wix_media`).

Each file's id and URL are saved the moment its upload succeeds, under the worker's lease: a retry
uploads only the files still missing, and a worker whose lease passed to another writes nothing.
An upload cannot send a message, so uploading a file again is never worse than an unused file in
the Media Manager: a failed upload is retried or given up like any other call, never looked for.
"""

import copy
import mimetypes

from django.db import transaction
from django.utils import timezone

from ..form_message import MessageTooLarge, truncate, wix_length
from ..models import Attachment, Submission
from ..uploads import WIX_MAX_FILES
from ..wix import WixClient, WixError, WixPermanentError, WixTransientError

#: The longest `fileName` Wix's upload-URL call takes.
MAX_FILE_NAME_LENGTH = 200
#: The longest extension kept whole when a long name is shortened.
MAX_EXTENSION_LENGTH = 16
#: Python's own table of types and their extensions (never the machine's /etc/mime.types, so that
#: every machine names a file alike), and WebP, which it learns only in Python 3.13.
FILE_TYPES = mimetypes.MimeTypes()
FILE_TYPES.add_type("image/webp", ".webp")


def upload_attachments(client: WixClient, submission: Submission, lease) -> list[Attachment]:
    """Upload each of the submission's files not uploaded yet, in order; return all its files.

    `lease` is the worker's `delivery.Lease`: each file's record renews it, or raises LeaseLost
    (nothing written) when it has passed to another worker. A WixError names the file it was for.
    """
    attachments = list(submission.attachments.all())
    if len(attachments) > WIX_MAX_FILES:
        raise MessageTooLarge(
            f"The submission has {len(attachments)} files; a Wix form message carries at most "
            f"{WIX_MAX_FILES}."
        )
    for attachment in attachments:
        if not attachment.is_uploaded:
            _upload(client, attachment, lease)
    return attachments


def _upload(client: WixClient, attachment: Attachment, lease) -> None:
    name = upload_name(attachment.original_name, attachment.content_type)
    try:
        with _stored_file(attachment) as content:
            upload_url = client.generate_upload_url(name, attachment.content_type)
            descriptor = client.upload_file(
                upload_url, content, mime_type=attachment.content_type, file_name=name
            )
        if not (isinstance(descriptor, dict) and descriptor.get("id") and descriptor.get("url")):
            # Like any answer the client cannot read: worth a later try, not a crash.
            raise WixTransientError("Wix's upload answer has no file id and URL", status=200)
        if descriptor.get("operationStatus") == "FAILED":
            # Wix took the bytes but could not process them: a new upload may succeed. A PENDING
            # file is sent as it is: the Inbox refers to it by id, and Wix finishes it meanwhile.
            raise WixTransientError("Wix could not process the file (FAILED)", status=200)
    except WixError as error:
        raise _naming(error, attachment) from error
    attachment.wix_file_id = descriptor["id"]
    attachment.wix_url = descriptor["url"]
    attachment.uploaded_at = timezone.now()
    with transaction.atomic():
        # Renewing locks the submission's row until the commit: no other worker can take it
        # over between the check and the write. Long uploads keep the lease this way too.
        lease.renew()
        attachment.save(update_fields=["wix_file_id", "wix_url", "uploaded_at"])


def _stored_file(attachment: Attachment):
    """The file, opened for reading from its storage; a file that is gone cannot be sent, ever."""
    try:
        return attachment.file.storage.open(attachment.file.name, "rb")
    except FileNotFoundError as error:
        raise WixPermanentError(
            f"its file is no longer in the storage ({attachment.file.name})"
        ) from error


def _naming(error: WixError, attachment: Attachment) -> WixError:
    """The same error (class, status, code, request id), its message led by the file's name."""
    named = copy.copy(error)
    named.message = f'Attachment "{attachment.original_name}": {error.message}'
    return named


def upload_name(original_name: str, content_type: str) -> str:
    """The name a file is uploaded under: its own, with the extension of the type its content
    was found to be when its own says another (Wix refuses a name that contradicts the type,
    MIME_TYPE_MISMATCH: a PNG sent as plan.pdf goes as plan.pdf.png), shortened to what Wix
    takes, its extension kept, so that the Media Manager still shows what kind of file it is."""
    name = original_name
    _stem, dot, extension = name.rpartition(".")
    extension = f".{extension.lower()}"
    says_a_type = dot and FILE_TYPES.guess_type("x" + extension)[0]
    if says_a_type and extension not in FILE_TYPES.guess_all_extensions(content_type):
        name += FILE_TYPES.guess_extension(content_type) or ""
    if wix_length(name) <= MAX_FILE_NAME_LENGTH:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or wix_length(extension) > MAX_EXTENSION_LENGTH:
        return truncate(original_name, MAX_FILE_NAME_LENGTH)
    return truncate(stem, MAX_FILE_NAME_LENGTH - wix_length(dot + extension)) + dot + extension
