"""The checks of a visitor's files: how many, how large, and of which type, told by their content.

A file's name and the Content-Type the browser sent say nothing reliable: anyone can rename an
executable `cv.pdf`. The type is read from the bytes themselves (puremagic's signatures; Pillow
then checks that an image opens, and gives its size in pixels); plain text, which has no signature,
is valid UTF-8 without control characters. `IntakeForm.clean` runs `check_files` on the form's
file fields; what it refuses becomes an error beside the field, naming the file and the reason.
"""

import codecs
import re
import warnings
from dataclasses import dataclass

import puremagic
from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from PIL import Image

from .conf import intake_settings

#: Wix's form message carries at most 15 media items: no form may take more files than that.
WIX_MAX_FILES = 15
#: Wix's Upload API takes one PUT up to this size; above it, Wix asks for a resumable upload.
WIX_SIMPLE_UPLOAD_BYTES = 10 * 1024 * 1024
TEXT_PLAIN = "text/plain"
#: What visitors read for the types they may send; any other type reads as its MIME type.
TYPE_LABELS = {
    "application/pdf": "PDF",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WebP",
    TEXT_PLAIN: "plain text",
}
#: The settings of the limits, by the name of their option in a form's INBOX_INTAKE_FORMS entry.
LIMIT_SETTINGS = {
    "max_file_size": "INBOX_INTAKE_MAX_FILE_SIZE",
    "max_total_file_size": "INBOX_INTAKE_MAX_TOTAL_FILE_SIZE",
    "max_files": "INBOX_INTAKE_MAX_FILES",
    "allowed_file_types": "INBOX_INTAKE_ALLOWED_FILE_TYPES",
}
MIME_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")
# Control characters other than tab, line feed, form feed and carriage return: not plain text.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class FileLimits:
    """What one submission of a form may carry: the four settings, or its own overrides."""

    max_file_size: int
    max_total_file_size: int
    max_files: int
    allowed_file_types: tuple[str, ...]

    @classmethod
    def from_options(cls, options: dict | None = None) -> "FileLimits":
        """The limits of a form's INBOX_INTAKE_FORMS entry: its own where it sets them, else the
        settings' (which the system checks validate). Raises ValueError, saying what is wrong,
        for a limit of the entry's own that cannot work."""
        options = options or {}
        values = {
            name: options.get(name, getattr(intake_settings, setting))
            for name, setting in LIMIT_SETTINGS.items()
        }
        problems = [text for name, text in limit_problems(values) if name in options]
        if problems:
            raise ValueError(" ".join(problems))
        return cls(**{**values, "allowed_file_types": tuple(values["allowed_file_types"])})

    def types_for(self, field) -> tuple[str, ...]:
        """The types `field` takes: an image field only the allowed image types."""
        if is_image_field(field):
            return tuple(kind for kind in self.allowed_file_types if kind.startswith("image/"))
        return self.allowed_file_types

    def describe(self, field) -> str:
        """The limits in a sentence for the visitor, shown below the field."""
        types = _either([TYPE_LABELS.get(kind, kind) for kind in self.types_for(field)])
        if not is_multiple(field):
            return f"{types}; at most {format_size(self.max_file_size)}."
        return (
            f"{types}; up to {self.max_files} files, {format_size(self.max_file_size)} each, "
            f"{format_size(self.max_total_file_size)} in all."
        )


def limit_problems(values: dict, names: dict | None = None) -> list[tuple[str, str]]:
    """(option, what is wrong) for each limit of `values` (by option) that cannot work: for the
    system checks, which name the settings (`names`: LIMIT_SETTINGS), and the registry, which
    names a form's options."""
    names = names or {option: option for option in LIMIT_SETTINGS}
    problems = []
    for option in ("max_file_size", "max_total_file_size", "max_files"):
        value = values[option]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(
                (option, f"{names[option]} must be a whole number above 0, not {value!r}.")
            )
    max_files = values["max_files"]
    if isinstance(max_files, int) and max_files > WIX_MAX_FILES:
        problems.append(
            (
                "max_files",
                f"{names['max_files']} is {max_files}, but a Wix form message carries at most "
                f"{WIX_MAX_FILES} files.",
            )
        )
    types, name = values["allowed_file_types"], names["allowed_file_types"]
    if isinstance(types, str) or not isinstance(types, list | tuple) or not types:
        problems.append(
            (
                "allowed_file_types",
                f'{name} must be a non-empty list of MIME types such as ["{TEXT_PLAIN}"], '
                f"not {types!r}.",
            )
        )
    else:
        problems += [
            (
                "allowed_file_types",
                f"{name}: {kind!r} is not a lower-case MIME type such as application/pdf.",
            )
            for kind in types
            if not (isinstance(kind, str) and MIME_TYPE.fullmatch(kind))
        ]
    return problems


@dataclass
class CheckedFile:
    """A file that passed every check, with what its content told."""

    field_name: str
    upload: UploadedFile
    content_type: str
    width: int | None = None
    height: int | None = None

    @property
    def original_name(self) -> str:
        return self.upload.name

    @property
    def size(self) -> int:
        return self.upload.size


def check_files(uploads_by_field: dict, limits: FileLimits, fields: dict):
    """Check the files of one submission, field by field in form order.

    Returns the files that passed, and {field name: [ValidationError, …]} for the others. The
    file past the count or the total is refused before it is read, and the check stops there:
    the field it came in says so, once.
    """
    checked, errors = [], {}
    count = total = 0
    for name, uploads in uploads_by_field.items():
        for upload in uploads:
            if over := _over_submission_limits(upload, count + 1, total + upload.size, limits):
                errors.setdefault(name, []).append(over)
                return checked, errors
            try:
                checked.append(check_file(name, upload, limits, fields[name]))
            except ValidationError as error:
                # Refused, it will not be sent: it takes no place from the files that pass.
                errors.setdefault(name, []).append(error)
            else:
                count += 1
                total += upload.size
    return checked, errors


def _over_submission_limits(upload, count: int, total: int, limits: FileLimits):
    if count > limits.max_files:
        return ValidationError(
            f"At most {limits.max_files} files can be sent with this form; "
            f"“{upload.name}” would be file number {count}.",
            code="too_many_files",
        )
    # A file too large on its own is refused as such (check_file), whatever the total.
    if total > limits.max_total_file_size and upload.size <= limits.max_file_size:
        return ValidationError(
            f"With “{upload.name}” the files come to {format_size(total)}; "
            f"at most {format_size(limits.max_total_file_size)} can be sent in all.",
            code="files_too_large",
        )
    return None


def check_file(field_name: str, upload, limits: FileLimits, field) -> CheckedFile:
    """One file: not empty, not too large, of an allowed type by its content; an image opens."""
    name = upload.name
    if not upload.size:
        raise ValidationError(f"“{name}” is empty (0 bytes).", code="empty_file")
    if upload.size > limits.max_file_size:
        raise ValidationError(
            f"“{name}” is {format_size(upload.size)}; "
            f"a file may be at most {format_size(limits.max_file_size)}.",
            code="file_too_large",
        )
    allowed = limits.types_for(field)
    content_type, description = sniff(upload, allowed)
    if content_type not in allowed:
        raise ValidationError(
            f"“{name}” is {description} by its content, which is not accepted here: "
            f"send {_either([TYPE_LABELS.get(kind, kind) for kind in allowed])}.",
            code="file_type",
        )
    checked = CheckedFile(field_name=field_name, upload=upload, content_type=content_type)
    if content_type.startswith("image/"):
        checked.width, checked.height = image_size(upload, TYPE_LABELS.get(content_type, name))
    return checked


def sniff(upload, allowed=()) -> tuple[str, str]:
    """(MIME type, description for the visitor) of the file, told by its bytes only.

    When puremagic's best matches (several formats share a signature, such as the Office ones
    in a ZIP) include an allowed type, that is the type; otherwise the first match that has a
    MIME type describes what it is. A file that no signature with a MIME type matches (a UTF-8
    byte-order mark is a signature without one) is plain text if it reads as such, and of an
    unknown type otherwise.
    """
    try:
        matches = puremagic.magic_stream(upload)
    except (puremagic.PureError, ValueError):  # no signature matched; ValueError: empty
        matches = []
    finally:
        upload.seek(0)
    best = [match for match in matches if match.confidence == matches[0].confidence]
    for match in best:
        if match.mime_type in allowed:
            return match.mime_type, _described(match.mime_type)
    named = next((match for match in matches if match.mime_type), None)
    if named is not None:
        return named.mime_type, f"{_described(named.mime_type)} ({named.name})"
    if is_plain_text(upload):
        return TEXT_PLAIN, _described(TEXT_PLAIN)
    if matches:
        return "", f"a file of another kind ({matches[0].name})"
    return "", "of a type that could not be told"


def is_plain_text(upload) -> bool:
    """Valid UTF-8 (ASCII included) without control characters: what `text/plain` means here."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        for chunk in upload.chunks():
            if CONTROL_CHARACTERS.search(decoder.decode(chunk)):
                return False
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    finally:
        upload.seek(0)
    return True


def image_size(upload, label: str) -> tuple[int, int]:
    """(width, height) of an image that Pillow opens and verifies; a ValidationError otherwise,
    for a broken or truncated file, or one whose size in pixels could exhaust the server."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(upload) as image:
                size = image.size  # read from the header; verify() then checks the data
                image.verify()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Warning):
        raise ValidationError(
            f"“{upload.name}” starts like a {label} image but does not open as one.",
            code="invalid_image",
        ) from None
    finally:
        upload.seek(0)
    return size


def is_image_field(field) -> bool:
    return isinstance(field, forms.ImageField)


def is_multiple(field) -> bool:
    return getattr(field.widget, "allow_multiple_selected", False)


def format_size(size: int) -> str:
    """A size as people read it: 10 MB, 512 KB, 300 bytes (1 KB = 1,024 bytes)."""
    for unit, factor in (("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


def _described(mime_type: str) -> str:
    label = TYPE_LABELS.get(mime_type)
    return f"{label} ({mime_type})" if label else mime_type


def _either(labels: list[str]) -> str:
    """ "PDF, PNG or plain text"."""
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} or {labels[-1]}"
