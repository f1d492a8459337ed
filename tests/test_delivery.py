"""End to end with real parts: form POST → PostgreSQL → Redis → a `celery worker` process → the
Wix sandbox over HTTP on loopback."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from inbox_intake.models import DeliveryAttempt, Submission
from tests.conftest import PDF_BYTES, png_bytes, wait_until
from wix_sandbox.models import ApiCall, SandboxMediaFile, SandboxMessage

pytestmark = pytest.mark.e2e


def submit(client, data) -> Submission:
    response = client.post("/intake/contact/", data)
    assert response.status_code == 302, response.content
    return Submission.objects.latest("created_at")


def delivered(submission: Submission) -> Submission:
    def is_done():
        submission.refresh_from_db()
        return submission.status in (Submission.Status.SENT, Submission.Status.FAILED)

    wait_until(is_done, timeout=60, what=f"delivery of {submission.reference}")
    return submission


@pytest.fixture(params=["redis", "rabbitmq"])
def broker_worker(request, start_worker):
    """A real worker over Redis (the tests' broker), and once over RabbitMQ: a private virtual
    host that this process publishes to as well."""
    if request.param == "redis":
        return start_worker()
    rabbitmq = request.getfixturevalue("rabbitmq_broker")
    return start_worker(CELERY_BROKER_URL=rabbitmq.url)


def test_form_to_inbox_through_a_real_worker(client, broker_worker, contact_data):
    first = delivered(submit(client, contact_data))

    assert first.status == Submission.Status.SENT, first.last_error
    message = SandboxMessage.objects.get()
    assert str(message.conversation.id) == first.wix_conversation_id
    assert message.data["id"] == first.wix_message_id
    form = message.data["content"]["form"]
    assert form["title"] == "Website contact form"
    assert [field["name"] for field in form["fields"]] == [
        "First name",
        "Last name",
        "Email",
        "Phone",
        "Message",
        "Subscribe to newsletter",
        "Reference",
    ]
    assert form["fields"][-1]["value"] == str(first.reference)
    calls = list(ApiCall.objects.values_list("method", "path", "status"))
    assert len(calls) == 3, calls  # create contact, conversation, send

    contact_data["message"] = "A second question."
    second = delivered(submit(client, contact_data))

    assert second.status == Submission.Status.SENT
    assert ApiCall.objects.count() == 4, "a repeat submitter costs one call: the send"
    assert second.wix_conversation_id == first.wix_conversation_id
    assert second.wix_contact_id == first.wix_contact_id
    assert SandboxMessage.objects.filter(conversation=message.conversation).count() == 2


def test_wrong_api_key_fails_clearly_without_a_retry_storm(client, start_worker, contact_data):
    start_worker(WIX_SANDBOX_API_KEY="IST.not-the-right-key")

    failed = delivered(submit(client, contact_data))

    assert failed.status == Submission.Status.FAILED
    assert "HTTP 401" in failed.last_error
    assert failed.attempts.count() == 1
    assert ApiCall.objects.count() == 1
    assert "IST.not-the-right-key" not in failed.last_error


def test_a_second_form_shows_every_field_type_in_the_inbox(client, celery_worker):
    """The example site's quote form (site_project/forms.py), registered by INBOX_INTAKE_FORMS:
    a choice reads as its label, several choices are joined, a date is written out, numbers are
    plain and an optional field left empty gives no row."""
    response = client.post(
        "/intake/quote/",
        {
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "service": "shop",
            "features": ["booking", "multilingual"],
            "start_date": "2027-03-04",
            "budget": "12500.50",
            "pages": "",
            "details": "An online shop for hand-made notebooks.",
        },
    )
    assert response.status_code == 302, response.content
    quote = delivered(Submission.objects.get(form_name="quote"))

    assert quote.status == Submission.Status.SENT, quote.last_error
    form = SandboxMessage.objects.get().data["content"]["form"]
    assert form["title"] == "Quote request"
    assert form["description"] == "A visitor asked for a quote through the website."
    assert [(field["name"], field["value"]) for field in form["fields"]] == [
        ("Your name", "Ada Lovelace"),
        ("Email", "ada@example.com"),
        ("Service", "Online shop"),
        ("Features", "Online booking, Several languages"),
        ("Preferred start date", "4 March 2027 (2027-03-04)"),
        ("Budget (EUR)", "12500.5"),
        ("Project details", "An online shop for hand-made notebooks."),
        ("Reference", str(quote.reference)),
    ]
    assert quote.name == "Ada Lovelace"
    contact = json.loads(ApiCall.objects.get(path="/contacts/v4/contacts").body)
    assert contact["info"]["name"] == {"first": "Ada", "last": "Lovelace"}


def quote_with_files(client) -> Submission:
    """The example site's quote form, sent with a PDF and a PNG (multipart, as a browser does)."""
    response = client.post(
        "/intake/quote/",
        {
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "service": "shop",
            "details": "An online shop for hand-made notebooks.",
            "drawings": [
                SimpleUploadedFile("plan.pdf", PDF_BYTES, "application/pdf"),
                SimpleUploadedFile("photo.png", png_bytes(40, 30), "image/png"),
            ],
        },
    )
    assert response.status_code == 302, response.content
    return Submission.objects.get(form_name="quote")


def media_ids(message: SandboxMessage) -> list[str]:
    media = message.data["content"]["form"]["media"]
    return [item["image" if "image" in item else "file"]["id"] for item in media]


def test_a_pdf_and_a_png_reach_the_inbox_as_the_messages_media(client, celery_worker):
    quote = delivered(quote_with_files(client))

    assert quote.status == Submission.Status.SENT, quote.last_error
    plan, photo = quote.attachments.all()
    message = SandboxMessage.objects.get()
    assert media_ids(message) == [plan.wix_file_id, photo.wix_file_id]
    media = message.data["content"]["form"]["media"]
    assert media[0]["file"]["filename"] == "plan.pdf"
    assert media[0]["file"]["mimeType"] == "application/pdf"
    assert (media[1]["image"]["width"], media[1]["image"]["height"]) == (40, 30)
    uploaded = SandboxMediaFile.objects.in_bulk([plan.wix_file_id, photo.wix_file_id])
    assert bytes(uploaded[plan.wix_file_id].content) == PDF_BYTES
    assert bytes(uploaded[photo.wix_file_id].content) == png_bytes(40, 30)
    fields = {field["name"]: field["value"] for field in message.data["content"]["form"]["fields"]}
    assert fields["Drawings or photos"] == "plan.pdf, photo.png"


def test_a_retry_after_the_send_timed_out_uploads_nothing_again_and_sends_once(
    client, start_worker, sandbox_faults
):
    # The worker gives up on the send after a second; the sandbox holds it for three.
    start_worker(WIX_READ_TIMEOUT="1", INBOX_INTAKE_BACKOFF_BASE="3")
    sandbox_faults({"messages.send": {"hang": 1, "hang_seconds": 3}})
    quote = quote_with_files(client)

    wait_until(quote.attempts.exists, timeout=60, what="the first attempt")
    sandbox_faults({})
    first = quote.attempts.order_by("started_at").first()
    assert first.outcome == DeliveryAttempt.Outcome.AMBIGUOUS, first.error
    assert "did not answer in time" in first.error
    uploaded = list(quote.attachments.values_list("wix_file_id", flat=True))
    assert all(uploaded)

    quote = delivered(quote)

    assert quote.status == Submission.Status.SENT, quote.last_error
    assert quote.attempts.order_by("-started_at").first().outcome == DeliveryAttempt.Outcome.SENT
    upload_urls = ApiCall.objects.filter(path="/communication-channels-media/v1/upload-url")
    assert upload_urls.count() == 2, "each file uploaded once, by the first attempt"
    assert list(quote.attachments.values_list("wix_file_id", flat=True)) == uploaded
    assert media_ids(SandboxMessage.objects.get()) == uploaded
    # Let the sandbox finish the held request, so its log row does not land in the next test.
    wait_until(lambda: ApiCall.objects.filter(status=504).exists(), timeout=10, what="the hang")
