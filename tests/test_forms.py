import pytest

from inbox_intake.conf import intake_settings
from inbox_intake.forms import ContactForm


def test_valid_contact_form(contact_data):
    form = ContactForm(contact_data)

    assert form.is_valid(), form.errors
    assert form.cleaned_data["subscribe_newsletter"] is True
    assert form.cleaned_data["email"] == "Jane.Doe@Example.com"


@pytest.mark.parametrize("missing", ["first_name", "last_name", "email", "message"])
def test_required_fields(contact_data, missing):
    del contact_data[missing]

    form = ContactForm(contact_data)

    assert not form.is_valid()
    assert form.errors[missing] == ["This field is required."]


def test_phone_and_newsletter_are_optional(contact_data):
    del contact_data["phone"], contact_data["subscribe_newsletter"]

    form = ContactForm(contact_data)

    assert form.is_valid(), form.errors
    assert form.cleaned_data["phone"] == ""
    assert form.cleaned_data["subscribe_newsletter"] is False


@pytest.mark.parametrize("email", ["not-an-email", "jane@", "@example.com", "a b@example.com"])
def test_invalid_email(contact_data, email):
    contact_data["email"] = email

    form = ContactForm(contact_data)

    assert not form.is_valid()
    assert form.errors["email"] == ["Enter a valid email address."]


def test_invalid_phone(contact_data):
    contact_data["phone"] = "call me maybe"

    assert "phone" in ContactForm(contact_data).errors


def test_oversized_message_is_refused_with_the_limit(contact_data, settings):
    contact_data["message"] = "x" * (intake_settings.INBOX_INTAKE_MESSAGE_MAX_LENGTH + 1)

    errors = ContactForm(contact_data).errors

    limit = intake_settings.INBOX_INTAKE_MESSAGE_MAX_LENGTH
    assert errors["message"] == [
        f"Ensure this value has at most {limit} characters (it has {limit + 1})."
    ]


def test_oversized_name_is_refused(contact_data):
    contact_data["first_name"] = "J" * 1001

    assert "first_name" in ContactForm(contact_data).errors


@pytest.mark.parametrize(
    "visitor_id", ["<script>", "-" * 36, "0" * 36, "88888888-8888-4888-8888-88888888888g"]
)
def test_anonymous_visitor_id_must_be_a_guid(contact_data, visitor_id):
    contact_data["anonymous_visitor_id"] = visitor_id

    assert "anonymous_visitor_id" in ContactForm(contact_data).errors


def test_anonymous_visitor_id_may_be_a_guid_in_either_case(contact_data):
    contact_data["anonymous_visitor_id"] = "8888AAAA-8888-4888-8888-888888888888"

    assert ContactForm(contact_data).is_valid()


def test_wix_rows_use_human_labels_in_form_order(contact_data):
    form = ContactForm(contact_data)
    assert form.is_valid()

    rows = form.wix_fields(form.cleaned_data)

    assert rows == [
        ("First name", "Jane"),
        ("Last name", "Doe"),
        ("Email", "Jane.Doe@Example.com"),
        ("Phone", "+1 555 555 0100"),
        ("Message", "Hello, I would like a quote."),
        ("Subscribe to newsletter", "Yes"),
    ]


def test_field_schema_describes_the_visible_fields_for_the_script_embed():
    schema = ContactForm.field_schema()

    assert schema[0] == {
        "name": "first_name",
        "label": "First name",
        "type": "text",
        "required": True,
        "max_length": 1000,
        "autocomplete": "given-name",
    }
    types = {field["name"]: field["type"] for field in schema}
    assert types == {
        "first_name": "text",
        "last_name": "text",
        "email": "email",
        "phone": "tel",
        "message": "textarea",
        "subscribe_newsletter": "checkbox",
    }, "hidden fields (the Wix visitor id) are not for visitors to fill in"
