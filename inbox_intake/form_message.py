"""Submission → Wix Inbox form message, always within Wix's limits.

Wix takes at most 15 fields of at most 8,192 characters each, a title of 1–256 and a preview text of
at most 256 characters. A submission is never cut short to fit: a long value is split over numbered
fields ("Message (1/2)", "Message (2/2)"), and when there are too many fields the last ones are
folded, as "Label: value" lines, into "Additional fields". The same input always gives the same
message. The last field is always the submission's `Reference`, which is how a delivery that may
have gone through is recognised later.

The visitor's files travel as the form's `media` (at most 15 items), each an `image` or a `file`
already in the site's Media Manager (services/wix_uploads.py puts them there).

Lengths are counted the way Wix counts them, in UTF-16 code units (an emoji counts 2), so a value
that passes here passes there.
"""

from dataclasses import dataclass

from .forms import get_registered_form

MAX_FIELDS = 15
MAX_FIELD_LENGTH = 8192
MAX_TITLE_LENGTH = 256
MAX_DESCRIPTION_LENGTH = 16384
MAX_PREVIEW_LENGTH = 256
REFERENCE_LABEL = "Reference"
FOLDED_LABEL = "Additional fields"
ELLIPSIS = "…"


class MessageTooLarge(ValueError):
    """The submission holds more text than one Wix form message can carry."""


@dataclass(frozen=True)
class FormMessage:
    title: str
    description: str
    fields: list[tuple[str, str]]
    preview_text: str
    #: The uploaded files, as `Attachment.as_wix_media()` items, in the submission's order.
    media: tuple[dict, ...] = ()

    def as_wix(self) -> dict:
        """The `message` object of a Send Message request."""
        form = {"title": self.title}
        if self.description:
            form["description"] = self.description
        form["fields"] = [{"name": name, "value": value} for name, value in self.fields]
        if self.media:
            form["media"] = list(self.media)
        return {
            "direction": "PARTICIPANT_TO_BUSINESS",
            "visibility": "BUSINESS",
            "content": {"previewText": self.preview_text, "form": form},
        }


def wix_length(text: str) -> int:
    """Length in UTF-16 code units, as Wix's validation counts it."""
    return len(text.encode("utf-16-le")) // 2


def build_form_message(
    *,
    title: str,
    description: str,
    fields: list[tuple[str, str]],
    reference: str,
    preview_text: str,
) -> FormMessage:
    """Build the form message for `fields` (label, value) in order; empty values are left out."""
    filled = [(label, value) for label, value in fields if value != ""]
    return FormMessage(
        title=truncate(title.strip(), MAX_TITLE_LENGTH) or "Form submission",
        description=truncate(description.strip(), MAX_DESCRIPTION_LENGTH),
        fields=_fit_fields(filled) + [(REFERENCE_LABEL, reference)],
        preview_text=truncate(" ".join(preview_text.split()), MAX_PREVIEW_LENGTH),
    )


def truncate(text: str, limit: int) -> str:
    if wix_length(text) <= limit:
        return text
    return _take(text, limit - wix_length(ELLIPSIS)) + ELLIPSIS


def _fit_fields(fields: list[tuple[str, str]]) -> list[tuple[str, str]]:
    slots = MAX_FIELDS - 1  # one is the Reference
    for kept in range(len(fields), -1, -1):
        packed = _split_each(fields[:kept])
        rest = fields[kept:]
        if rest:
            folded = "\n\n".join(f"{label}: {value}" for label, value in rest)
            packed += _split(FOLDED_LABEL, folded)
        if len(packed) <= slots:
            return packed
    raise MessageTooLarge(
        f"The submission needs more than {slots} fields of {MAX_FIELD_LENGTH} characters."
    )


def _split_each(fields: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [part for label, value in fields for part in _split(label, value)]


def _split(label: str, value: str) -> list[tuple[str, str]]:
    label = truncate(label, 200)
    chunks = []
    while value:
        chunk = _take(value, MAX_FIELD_LENGTH)
        chunks.append(chunk)
        value = value[len(chunk) :]
    if len(chunks) <= 1:
        return [(label, chunks[0] if chunks else "")]
    return [(f"{label} ({n}/{len(chunks)})", chunk) for n, chunk in enumerate(chunks, start=1)]


def _take(text: str, limit: int) -> str:
    """The longest prefix of `text` within `limit` UTF-16 units, never splitting a character."""
    if wix_length(text) <= limit:
        return text
    used = 0
    for index, character in enumerate(text):
        used += 2 if ord(character) > 0xFFFF else 1
        if used > limit:
            return text[:index]
    return text


def form_message_for(submission) -> FormMessage:
    """The Wix form message for a submission (a models.Submission), as it is or will be sent.

    A submission whose form is no longer registered is still delivered: its stored values, under
    their field names, with the form's slug as the title.
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
