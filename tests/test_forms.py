import json

import pytest
from django.core.serializers.json import DjangoJSONEncoder

from inbox_intake.conf import intake_settings
from inbox_intake.form_message import build_form_message
from inbox_intake.forms import ContactForm, get_registered_form, registered_forms
from site_project.forms import QuoteRequestForm


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


# --- Forms registered by setting ------------------------------------------------------------------


def test_the_example_site_registers_two_forms():
    forms = registered_forms()

    assert list(forms) == ["contact", "quote"]
    assert forms["quote"].form_class is QuoteRequestForm
    assert forms["quote"].message_title == "Quote request"
    assert forms["contact"].message_title == "Website contact form"


def test_options_replace_a_form_class_texts(settings):
    settings.INBOX_INTAKE_FORMS = {
        "support": {
            "form": "inbox_intake.forms.ContactForm",
            "title": "Get support",
            "message_title": "Support request",
            "thank_you": "Our support team will answer within a day.",
        }
    }

    support = get_registered_form("support")

    assert (support.title, support.message_title) == ("Get support", "Support request")
    assert support.thank_you == "Our support team will answer within a day."
    assert support.intro == ContactForm.intro, "what is not set keeps the class's text"
    assert get_registered_form("contact") is None


QUOTE = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "service": "seo",
    "features": ["blog", "members"],
    "start_date": "2027-12-03",
    "budget": "1000",
    "pages": "12",
    "details": "A blog.",
}


def test_every_field_type_reads_well_in_the_inbox():
    form = QuoteRequestForm(QUOTE)
    assert form.is_valid(), form.errors

    rows = dict(QuoteRequestForm.wix_fields(form.cleaned_data))

    assert rows["Service"] == "Search engine optimisation", "a choice shows its label"
    assert rows["Features"] == "Blog, Members area", "several choices are joined"
    assert rows["Preferred start date"] == "3 December 2027 (2027-12-03)", "no day/month doubt"
    assert rows["Budget (EUR)"] == "1000"
    assert rows["Number of pages"] == "12"


def test_stored_values_read_the_same_as_fresh_ones():
    """Submissions are stored as JSON (dates and decimals as text); the Inbox rows are built
    from what is stored, so both must read alike."""
    form = QuoteRequestForm(QUOTE | {"budget": "1234.50"})
    assert form.is_valid(), form.errors
    stored = json.loads(json.dumps(form.cleaned_data, cls=DjangoJSONEncoder))

    assert QuoteRequestForm.wix_fields(stored) == QuoteRequestForm.wix_fields(form.cleaned_data)
    assert dict(QuoteRequestForm.wix_fields(stored))["Budget (EUR)"] == "1234.5"


def test_optional_fields_left_empty_give_no_row():
    form = QuoteRequestForm(QUOTE | {"features": [], "start_date": "", "budget": "", "pages": ""})
    assert form.is_valid(), form.errors

    message = build_form_message(
        title="t",
        description="",
        fields=QuoteRequestForm.wix_fields(form.cleaned_data),
        reference="r",
        preview_text="p",
    )

    assert [label for label, _ in message.fields] == [
        "Your name",
        "Email",
        "Service",
        "Project details",
        "Reference",
    ]


def test_an_unknown_choice_is_a_field_error():
    form = QuoteRequestForm(QUOTE | {"service": "hacking", "features": ["blog", "root"]})

    assert set(form.errors) == {"service", "features"}


def test_the_schema_describes_choices_for_the_script_embed():
    schema = {field["name"]: field for field in QuoteRequestForm.field_schema()}

    assert schema["service"]["type"] == "select"
    assert schema["service"]["choices"][0] == ["web", "Website design"]
    assert schema["service"]["multiple"] is False
    assert schema["features"]["type"] == "checkboxes"
    assert schema["features"]["multiple"] is True
    assert schema["start_date"]["type"] == "date"
    assert schema["start_date"]["help_text"] == "Leave empty if you are flexible."
    assert schema["budget"]["type"] == "number"
