"""The intake forms: `IntakeForm` (how a form's fields become rows of a Wix form message), the
contact form the app ships, and the registry of the forms a site serves (`INBOX_INTAKE_FORMS`)."""

import datetime
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.validators import RegexValidator
from django.utils.module_loading import import_string
from django.utils.text import slugify
from django.utils.translation import ngettext

from .conf import intake_settings
from .uploads import LIMIT_SETTINGS, FileLimits, check_files, is_multiple

phone_validator = RegexValidator(
    re.compile(r"^\+?[0-9 ().\-/]{3,50}$"),
    "Enter a phone number using digits, spaces and + ( ) - . / only.",
)
#: Wix ids are GUIDs: 8-4-4-4-12 hexadecimal digits.
wix_id_validator = RegexValidator(
    re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z", re.IGNORECASE),
    "This is not a valid Wix visitor id.",
)


class MultipleFileInput(forms.FileInput):
    """A file input that lets the visitor choose several files (Django's recipe)."""

    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """One or several files in one field; its cleaned value is the list of them (none: [])."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        clean_one = super().clean
        uploads = [item for item in (data if isinstance(data, list | tuple) else [data]) if item]
        if not uploads:
            clean_one(None, initial)  # "This field is required." when it is
            return []
        return [clean_one(upload, initial) for upload in uploads]


class IntakeForm(forms.Form):
    """Base for intake forms: knows which fields go to Wix, with which labels.

    A form needs an `email` field (the Wix contact is found by it). The texts below are the
    defaults of each registered form; `INBOX_INTAKE_FORMS` options can replace them per site.

    File fields (FileField, ImageField, MultipleFileField) are checked together against the
    form's `file_limits` (uploads.py): what passes is in `checked_files`, in form order.
    """

    #: Fields that travel with the submission but are not shown as rows in the Inbox message.
    technical_fields = ("anonymous_visitor_id",)
    #: The field whose text previews the message in the Inbox's conversation list.
    preview_field = "message"
    #: What the form page says above the form, and to the visitor once it is sent.
    title = "Contact us"
    intro = ""
    thank_you = "We received your message and will get back to you soon."
    #: The Wix form message's title and description.
    message_title = "Website form"
    message_description = ""

    def __init__(self, *args, file_limits: FileLimits | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.file_limits = file_limits or FileLimits.from_options()
        self.checked_files = []
        for field in self.fields.values():
            if isinstance(field, forms.FileField):
                field.widget.attrs["accept"] = ",".join(self.file_limits.types_for(field))
                field.help_text = field.help_text or self.file_limits.describe(field)
                # The checks refuse an empty file themselves, naming it (Django's words do not).
                field.allow_empty_file = True

    @classmethod
    def file_fields(cls) -> list[str]:
        """The names of the fields that take files (FileField and its kin, ImageField…)."""
        fields = cls.base_fields.items()
        return [name for name, field in fields if isinstance(field, forms.FileField)]

    def clean(self):
        cleaned_data = super().clean()
        uploads = {
            name: _as_list(cleaned_data[name])
            for name in self.file_fields()
            if name in cleaned_data
        }
        self.checked_files, errors = check_files(uploads, self.file_limits, self.fields)
        for name, field_errors in errors.items():
            self.add_error(name, field_errors)
        return cleaned_data

    def submitted_data(self) -> dict:
        """The cleaned data as it is stored: each file field as the list of its files' names."""
        names = {name: [] for name in self.file_fields()}
        for checked in self.checked_files:
            names[checked.field_name].append(checked.original_name)
        return {**self.cleaned_data, **names}

    @classmethod
    def field_schema(cls, file_limits: FileLimits | None = None) -> list[dict]:
        """The visible fields, described for the script embed, which renders them itself."""
        file_limits = file_limits or FileLimits.from_options()
        return [
            _field_schema(name, field, file_limits)
            for name, field in cls.base_fields.items()
            if not field.widget.is_hidden
        ]

    @classmethod
    def wix_fields(cls, data: dict) -> list[tuple[str, str]]:
        """(label, value) rows for the Inbox message, in form order, from stored `data`.

        A choice shows its label, a date is written out in words, several choices are joined;
        an optional field left empty gives no row.
        """
        rows = []
        for name, field in cls.base_fields.items():
            if name in cls.technical_fields or name not in data:
                continue
            rows.append((str(field.label or name), display_value(field, data[name])))
        return rows

    @staticmethod
    def submitter_name(data: dict) -> dict[str, str]:
        """{"first": …, "last": …} for the Wix contact, from first_name/last_name or one `name`."""
        if data.get("first_name") or data.get("last_name"):
            parts = {"first": data.get("first_name") or "", "last": data.get("last_name") or ""}
        else:
            first, _, last = (data.get("name") or "").strip().partition(" ")
            parts = {"first": first, "last": last.strip()}
        return {key: value[:1000] for key, value in parts.items() if value}


class ContactForm(IntakeForm):
    """The contact form of the seed's `sendFormData` example, validated on the server."""

    title = "Contact us"
    intro = "Send us a message and we will get back to you."
    thank_you = "We received your message and will get back to you soon."
    message_title = "Website contact form"
    message_description = "A visitor sent this through the website contact form."

    first_name = forms.CharField(
        label="First name",
        max_length=1000,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    last_name = forms.CharField(
        label="Last name",
        max_length=1000,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
    email = forms.EmailField(
        label="Email", max_length=320, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    phone = forms.CharField(
        label="Phone",
        max_length=50,
        required=False,
        validators=[phone_validator],
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    message = forms.CharField(
        label="Message",
        max_length=intake_settings.INBOX_INTAKE_MESSAGE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    subscribe_newsletter = forms.BooleanField(label="Subscribe to newsletter", required=False)
    anonymous_visitor_id = forms.CharField(
        required=False, widget=forms.HiddenInput, validators=[wix_id_validator]
    )


def display_value(field: forms.Field, value) -> str:
    """How a stored value reads in the Inbox (stored as JSON: dates and decimals are text)."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if value is None:
        return ""
    choices = dict(_flat_choices(field)) if hasattr(field, "choices") else {}
    if isinstance(value, list):
        return ", ".join(str(choices.get(str(item), item)) for item in value)
    if choices:
        return str(choices.get(str(value), value))
    if isinstance(field, forms.DateField) and not isinstance(field, forms.DateTimeField):
        return _written_date(value)
    if isinstance(field, forms.DecimalField | forms.FloatField):
        return _plain_number(value)
    return str(value)


def _as_list(value) -> list:
    """A file field's cleaned value as a list: a FileField gives one file or None."""
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def _flat_choices(field) -> list[tuple[str, str]]:
    flat = []
    for key, label in field.choices:
        if isinstance(label, list | tuple):  # a group of choices
            flat.extend((str(k), str(v)) for k, v in label)
        else:
            flat.append((str(key), str(label)))
    return flat


def _written_date(value) -> str:
    """ "3 December 2026 (2026-12-03)": no reader mistakes the day for the month."""
    try:
        day = datetime.date.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return f"{day.day} {day:%B %Y} ({day.isoformat()})"


def _plain_number(value) -> str:
    try:
        return format(Decimal(str(value)).normalize(), "f")
    except InvalidOperation:
        return str(value)


def _field_schema(name: str, field: forms.Field, file_limits: FileLimits) -> dict:
    widget = field.widget
    if isinstance(field, forms.FileField):
        return _file_field_schema(name, field, file_limits)
    if isinstance(widget, forms.Textarea):
        kind = "textarea"
    elif isinstance(widget, forms.CheckboxSelectMultiple):
        kind = "checkboxes"
    elif isinstance(widget, forms.RadioSelect):
        kind = "radio"
    elif isinstance(widget, forms.Select):
        kind = "select"
    else:
        kind = widget.input_type
    schema = {
        "name": name,
        "label": str(field.label or name),
        "type": kind,
        "required": field.required,
        "max_length": getattr(field, "max_length", None),
        "autocomplete": widget.attrs.get("autocomplete", ""),
    }
    if hasattr(field, "choices"):
        schema["choices"] = [[key, label] for key, label in _flat_choices(field) if key != ""]
        schema["multiple"] = isinstance(field, forms.MultipleChoiceField)
    if field.help_text:
        schema["help_text"] = str(field.help_text)
    return schema


def _file_field_schema(name: str, field: forms.FileField, file_limits: FileLimits) -> dict:
    """A file field: the script embed renders a file input, and checks sizes before sending."""
    return {
        "name": name,
        "label": str(field.label or name),
        "type": "file",
        "required": field.required,
        "multiple": is_multiple(field),
        "accept": list(file_limits.types_for(field)),
        "max_file_size": file_limits.max_file_size,
        "max_total_file_size": file_limits.max_total_file_size,
        # Of the whole form, as the server counts them: its file fields share one limit.
        "max_files": file_limits.max_files,
        "help_text": str(field.help_text or file_limits.describe(field)),
    }


# --- The registry --------------------------------------------------------------------------------

#: A form's texts in its INBOX_INTAKE_FORMS entry; each defaults to the form class's attribute of
#: the same name.
FORM_TEXTS = ("title", "intro", "thank_you", "message_title", "message_description")
#: What a form's entry may hold besides "form": its texts, and the limits of its files, each
#: defaulting to its setting (uploads.LIMIT_SETTINGS: max_file_size is INBOX_INTAKE_MAX_FILE_SIZE…).
FORM_OPTIONS = (*FORM_TEXTS, *LIMIT_SETTINGS)


class FormRegistryError(ValueError):
    """INBOX_INTAKE_FORMS names a form that cannot be served."""


@dataclass(frozen=True)
class RegisteredForm:
    """One form a site serves under /intake/<slug>/, with its texts and the limits of its files."""

    slug: str
    form_class: type[IntakeForm]
    title: str
    intro: str
    thank_you: str
    message_title: str
    message_description: str
    file_limits: FileLimits

    @property
    def max_file_bytes(self) -> int:
        """What the form's files may add to a request: 0 for a form without file fields."""
        return self.file_limits.max_total_file_size if self.form_class.file_fields() else 0

    def form(self, data=None, files=None) -> IntakeForm:
        """The form, bound to `data` and `files` if given, with this registration's limits."""
        return self.form_class(data, files, file_limits=self.file_limits)

    def field_schema(self) -> list[dict]:
        return self.form_class.field_schema(self.file_limits)


def registered_forms() -> dict[str, RegisteredForm]:
    """The forms of INBOX_INTAKE_FORMS, in order; raises FormRegistryError for a bad entry."""
    entries = intake_settings.INBOX_INTAKE_FORMS
    if not isinstance(entries, dict) or not entries:
        raise FormRegistryError("it must be a non-empty dict of slug → options.")
    return {slug: _registered(slug, options) for slug, options in entries.items()}


def get_registered_form(slug: str) -> RegisteredForm | None:
    options = intake_settings.INBOX_INTAKE_FORMS.get(slug)
    return None if options is None else _registered(slug, options)


def _registered(slug, options) -> RegisteredForm:
    if not isinstance(slug, str) or slugify(slug) != slug:
        raise FormRegistryError(f"{slug!r} is not a slug (lower-case letters, digits, hyphens).")
    if isinstance(options, str):
        options = {"form": options}
    if not isinstance(options, dict) or "form" not in options:
        raise FormRegistryError(f'{slug!r} needs a "form": the dotted path of its form class.')
    unknown = set(options) - {"form", *FORM_OPTIONS}
    if unknown:
        raise FormRegistryError(
            f"{slug!r} has unknown {ngettext('option', 'options', len(unknown))} "
            f"{', '.join(sorted(unknown))}; "
            f"known: form, {', '.join(FORM_OPTIONS)}."
        )
    form_class = _form_class(slug, options["form"])
    texts = {name: str(options.get(name, getattr(form_class, name))) for name in FORM_TEXTS}
    try:
        file_limits = FileLimits.from_options(options)
    except ValueError as error:
        raise FormRegistryError(f"{slug!r}: {error}") from None
    return RegisteredForm(slug=slug, form_class=form_class, file_limits=file_limits, **texts)


def _form_class(slug: str, path) -> type[IntakeForm]:
    if isinstance(path, type):
        form_class = path
    else:
        try:
            form_class = import_string(path)
        except ImportError as error:
            raise FormRegistryError(f"{slug!r}: cannot import {path!r} ({error}).") from None
    if not (isinstance(form_class, type) and issubclass(form_class, IntakeForm)):
        raise FormRegistryError(f"{slug!r}: {path!r} is not a subclass of IntakeForm.")
    if not isinstance(form_class.base_fields.get("email"), forms.EmailField):
        raise FormRegistryError(
            f"{slug!r}: {form_class.__name__} has no EmailField named email "
            "(the Wix contact is found by it)."
        )
    return form_class
