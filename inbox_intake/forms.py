"""The intake forms, and how each form's fields appear in the Wix form message."""

import re

from django import forms
from django.conf import settings
from django.core.validators import RegexValidator

phone_validator = RegexValidator(
    re.compile(r"^\+?[0-9 ().\-/]{3,50}$"),
    "Enter a phone number using digits, spaces and + ( ) - . / only.",
)
wix_id_validator = RegexValidator(
    re.compile(r"^[0-9a-fA-F-]{36}$"), "This is not a valid Wix visitor id."
)


class IntakeForm(forms.Form):
    """Base for intake forms: knows which fields go to Wix, with which labels."""

    #: Fields that travel with the submission but are not shown as rows in the Inbox message.
    technical_fields = ("anonymous_visitor_id",)
    #: What the form page says above the form, and to the visitor once it is sent.
    title: str
    intro: str
    thank_you: str

    @classmethod
    def field_schema(cls) -> list[dict]:
        """The visible fields, described for the script embed, which renders them itself."""
        return [
            {
                "name": name,
                "label": str(field.label),
                "type": "textarea"
                if isinstance(field.widget, forms.Textarea)
                else field.widget.input_type,
                "required": field.required,
                "max_length": getattr(field, "max_length", None),
                "autocomplete": field.widget.attrs.get("autocomplete", ""),
            }
            for name, field in cls.base_fields.items()
            if not field.widget.is_hidden
        ]

    def wix_fields(self, data: dict) -> list[tuple[str, str]]:
        """(label, value) rows for the Inbox message, in form order, from stored `data`."""
        rows = []
        for name, field in self.base_fields.items():
            if name in self.technical_fields or name not in data:
                continue
            rows.append((str(field.label), _display_value(data[name])))
        return rows


class ContactForm(IntakeForm):
    """The contact form of the seed's `sendFormData` example, validated on the server."""

    title = "Contact us"
    intro = "Send us a message and we will get back to you."
    thank_you = "We received your message and will get back to you soon."

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
        max_length=settings.INBOX_INTAKE_MESSAGE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    subscribe_newsletter = forms.BooleanField(label="Subscribe to newsletter", required=False)
    anonymous_visitor_id = forms.CharField(
        required=False, widget=forms.HiddenInput, validators=[wix_id_validator]
    )


INTAKE_FORMS: dict[str, type[IntakeForm]] = {"contact": ContactForm}


def _display_value(value) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return "" if value is None else str(value)
