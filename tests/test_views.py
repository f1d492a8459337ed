import re

import pytest
import responses
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from kombu.exceptions import OperationalError

from inbox_intake import protection
from inbox_intake.models import Attachment, Submission, WixMemberLink
from site_project.celery import app as celery_app

FORM_URL = "/intake/contact/"
EMBED_URL = "/intake/contact/embed/"


@pytest.fixture
def post_form(client, django_capture_on_commit_callbacks):
    """POST the contact form; return the response and the callbacks scheduled on commit."""

    def post(data, **extra):
        with django_capture_on_commit_callbacks() as callbacks:
            response = client.post(FORM_URL, data, **extra)
        return response, callbacks

    return post


def test_form_page_renders_with_csrf_token(client):
    response = client.get(FORM_URL)

    assert response.status_code == 200
    assert b"csrfmiddlewaretoken" in response.content
    assert b'name="first_name"' in response.content


def test_site_root_leads_to_the_form(client):
    assert client.get("/").url == FORM_URL


@pytest.mark.django_db
def test_valid_submission_is_saved_then_redirects_to_thanks(post_form, contact_data):
    response, callbacks = post_form(
        contact_data, HTTP_USER_AGENT="pytest-browser/1.0", REMOTE_ADDR="203.0.113.9"
    )

    assert response.status_code == 302
    assert response.url == reverse("inbox_intake:thanks", kwargs={"form_name": "contact"})
    submission = Submission.objects.get()
    assert submission.status == Submission.Status.QUEUED
    assert submission.email == "jane.doe@example.com"
    assert submission.name == "Jane Doe"
    assert submission.data == {
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "Jane.Doe@Example.com",
        "phone": "+1 555 555 0100",
        "message": "Hello, I would like a quote.",
        "subscribe_newsletter": True,
    }
    assert submission.client_ip == "203.0.113.9"
    assert submission.user_agent == "pytest-browser/1.0"
    assert len(callbacks) == 1, "delivery is scheduled once, after the commit"


@pytest.mark.django_db
def test_thank_you_page_shows_the_reference(client, post_form, contact_data):
    post_form(contact_data)

    response = client.get(reverse("inbox_intake:thanks", kwargs={"form_name": "contact"}))

    assert str(Submission.objects.get().reference) in response.content.decode()


@pytest.mark.django_db
def test_invalid_submission_shows_errors_and_keeps_what_was_typed(post_form, contact_data):
    contact_data["email"] = "not-an-email"
    contact_data["last_name"] = ""

    response, callbacks = post_form(contact_data)

    assert response.status_code == 400
    page = response.content.decode()
    assert "Enter a valid email address." in page
    assert "This field is required." in page
    assert 'value="not-an-email"' in page
    assert "Hello, I would like a quote." in page
    assert not Submission.objects.exists()
    assert not callbacks


@pytest.mark.django_db
def test_submitted_text_is_escaped_when_shown_again(post_form, contact_data):
    contact_data["first_name"] = "<script>alert(1)</script>"
    contact_data["email"] = "bad"

    response, _ = post_form(contact_data)

    assert b"<script>alert(1)</script>" not in response.content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in response.content


@pytest.mark.django_db
def test_csrf_stays_on_for_the_same_site_form(contact_data):
    response = Client(enforce_csrf_checks=True).post(FORM_URL, contact_data)

    assert response.status_code == 403
    assert not Submission.objects.exists()


@pytest.mark.django_db
def test_logged_in_member_submits_with_their_wix_member_id(
    client, post_form, contact_data, django_user_model
):
    user = django_user_model.objects.create_user("member", password="pw-123456")
    WixMemberLink.objects.create(user=user, member_id="88888888-8888-4888-8888-888888888888")
    client.force_login(user)

    post_form(contact_data)

    assert Submission.objects.get().wix_member_id == "88888888-8888-4888-8888-888888888888"


@pytest.mark.django_db
def test_anonymous_visitor_id_is_kept_apart_from_the_form_data(post_form, contact_data):
    contact_data["anonymous_visitor_id"] = "99999999-9999-4999-8999-999999999999"

    post_form(contact_data)

    submission = Submission.objects.get()
    assert submission.wix_anonymous_visitor_id == "99999999-9999-4999-8999-999999999999"
    assert "anonymous_visitor_id" not in submission.data


def test_unknown_form_is_404(client):
    assert client.get("/intake/nope/").status_code == 404


def test_the_contact_form_keeps_its_own_url_and_name():
    assert reverse("inbox_intake:contact") == FORM_URL
    assert reverse("inbox_intake:form", args=["contact"]) == FORM_URL


def test_form_pages_may_not_be_framed(client):
    assert client.get(FORM_URL)["X-Frame-Options"] == "DENY"
    assert client.get("/intake/contact/thanks/")["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_honeypot_gets_the_same_thank_you_but_is_stored_as_spam(post_form, contact_data):
    contact_data[protection.HONEYPOT_FIELD] = "http://spam.example"

    response, callbacks = post_form(contact_data)

    assert response.status_code == 302
    assert response.url == reverse("inbox_intake:thanks", args=["contact"])
    assert Submission.objects.get().status == Submission.Status.SPAM
    assert not callbacks


def test_form_page_has_a_honeypot_people_do_not_reach(client):
    page = client.get(FORM_URL).content.decode()

    assert f'name="{protection.HONEYPOT_FIELD}"' in page
    assert 'tabindex="-1"' in page
    assert 'class="honeypot" aria-hidden="true"' in page


@pytest.mark.django_db
def test_rate_limited_form_says_so_and_keeps_what_was_typed(post_form, contact_data, settings):
    settings.INBOX_INTAKE_RATE_LIMIT_PER_IP = 1
    post_form(contact_data)
    contact_data["message"] = "My second message, typed with care."

    response, callbacks = post_form(contact_data)

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    page = response.content.decode()
    assert 'role="alert">Too many submissions: please wait' in page
    assert "My second message, typed with care." in page
    assert 'value="Jane.Doe@Example.com"' in page
    assert Submission.objects.count() == 1
    assert not callbacks


@pytest.mark.django_db
def test_request_over_the_size_limit_is_413_with_a_clear_message(post_form, contact_data, settings):
    settings.INBOX_INTAKE_MAX_REQUEST_BYTES = 100

    response, _ = post_form(contact_data)

    assert response.status_code == 413
    assert (
        "This submission is too large: at most 100 bytes can be sent." in response.content.decode()
    )
    assert not Submission.objects.exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("allowed_origins")
def test_next_leads_to_an_allowed_origin_after_success(post_form, contact_data):
    contact_data["next"] = "https://landing.example/thanks/"

    response, _ = post_form(contact_data)

    assert response.status_code == 302
    assert response.url == "https://landing.example/thanks/"


@pytest.mark.django_db
@pytest.mark.usefixtures("allowed_origins")
@pytest.mark.parametrize(
    "next_url",
    [
        "//evil.com",
        "https://evil.com",
        "javascript:alert(1)",
        "/\\evil.com",
        "\\\\evil.com",
        "http://landing.example/",
    ],
)
def test_next_never_leads_elsewhere(post_form, contact_data, next_url):
    contact_data["next"] = next_url

    response, _ = post_form(contact_data)

    assert response.status_code == 302
    assert response.url == reverse("inbox_intake:thanks", args=["contact"])


@pytest.mark.usefixtures("allowed_origins")
def test_form_page_passes_an_allowed_next_on_and_drops_others(client):
    allowed = client.get(FORM_URL, {"next": "https://landing.example/thanks/"})
    evil = client.get(FORM_URL, {"next": "https://evil.com/"})

    assert 'name="next" value="https://landing.example/thanks/"' in allowed.content.decode()
    assert 'name="next"' not in evil.content.decode()


# --- CAPTCHA -------------------------------------------------------------------------------------


@pytest.fixture
def turnstile(settings):
    settings.INBOX_INTAKE_CAPTCHA_PROVIDER = "turnstile"
    settings.INBOX_INTAKE_CAPTCHA_SITE_KEY = "public-site-key"
    settings.INBOX_INTAKE_CAPTCHA_SECRET_KEY = "the-secret"
    return protection.CAPTCHA_PROVIDERS["turnstile"]


def test_captcha_widget_is_shown_when_configured(client, turnstile):
    page = client.get(FORM_URL).content.decode()

    assert 'class="field cf-turnstile" data-sitekey="public-site-key"' in page
    assert turnstile.script_url in page
    assert "the-secret" not in page


def test_no_captcha_without_keys(client):
    assert "data-sitekey" not in client.get(FORM_URL).content.decode()


@pytest.mark.django_db
@responses.activate
def test_captcha_failure_is_shown_and_keeps_what_was_typed(post_form, contact_data, turnstile):
    responses.post(
        turnstile.verify_url, json={"success": False, "error-codes": ["invalid-input-response"]}
    )
    contact_data[turnstile.response_field] = "wrong"

    response, _ = post_form(contact_data)

    assert response.status_code == 400
    page = response.content.decode()
    assert "The check that you are human did not succeed." in page
    assert "Hello, I would like a quote." in page
    assert not Submission.objects.exists()


@pytest.mark.django_db
@responses.activate
def test_captcha_outage_is_shown_as_such(post_form, contact_data, turnstile):
    responses.post(turnstile.verify_url, status=503)
    contact_data[turnstile.response_field] = "token"

    response, _ = post_form(contact_data)

    assert response.status_code == 503
    assert "We could not check that you are human right now." in response.content.decode()


@pytest.mark.django_db
@responses.activate
def test_solved_captcha_lets_the_submission_through(post_form, contact_data, turnstile):
    responses.post(turnstile.verify_url, json={"success": True})
    contact_data[turnstile.response_field] = "good"

    response, _ = post_form(contact_data)

    assert response.status_code == 302
    assert Submission.objects.get().status == Submission.Status.QUEUED


# --- The iframe embed ----------------------------------------------------------------------------


@pytest.mark.usefixtures("allowed_origins")
def test_embed_may_be_framed_by_allowed_origins_only(client):
    response = client.get(EMBED_URL)

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == "frame-ancestors 'self' https://landing.example"
    assert "X-Frame-Options" not in response


def test_embed_is_the_form_without_the_page_around_it(client):
    page = client.get(EMBED_URL).content.decode()

    assert '<body class="inbox-intake-page embed">' in page
    assert "<h1>" not in page
    assert "site-header" not in page, "the host site's own layout stays out of the iframe"
    assert 'name="first_name"' in page
    assert "inbox_intake/iframe-child.js" in page


@pytest.fixture
def iframe_client():
    """A browser inside the iframe: CSRF checks on, with the cookie its first GET received."""
    client = Client(enforce_csrf_checks=True)
    page = client.get(EMBED_URL).content.decode()
    client.csrf_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    return client


@pytest.mark.django_db
@pytest.mark.usefixtures("allowed_origins")
def test_post_from_inside_the_iframe_with_the_token_succeeds(iframe_client, contact_data):
    contact_data["csrfmiddlewaretoken"] = iframe_client.csrf_token
    contact_data["next"] = "https://landing.example/thanks/"

    response = iframe_client.post(EMBED_URL, contact_data)

    assert response.status_code == 302
    assert (
        response.url
        == "/intake/contact/embed/thanks/?next=https%3A%2F%2Flanding.example%2Fthanks%2F"
    )
    thanks = iframe_client.get(response.url)
    assert thanks["Content-Security-Policy"] == "frame-ancestors 'self' https://landing.example"
    assert "X-Frame-Options" not in thanks
    reference = str(Submission.objects.get().reference)
    assert f'data-reference="{reference}"' in thanks.content.decode()
    assert 'data-next="https://landing.example/thanks/"' in thanks.content.decode()


@pytest.mark.django_db
def test_post_from_inside_the_iframe_without_the_token_fails(iframe_client, contact_data):
    response = iframe_client.post(EMBED_URL, contact_data)

    assert response.status_code == 403
    assert not Submission.objects.exists()


@pytest.mark.django_db
def test_embed_shows_field_errors_inside_the_frame(iframe_client, contact_data):
    contact_data["csrfmiddlewaretoken"] = iframe_client.csrf_token
    contact_data["email"] = "nope"

    response = iframe_client.post(EMBED_URL, contact_data)

    assert response.status_code == 400
    assert "X-Frame-Options" not in response
    page = response.content.decode()
    assert 'aria-invalid="true" aria-describedby="id_email_error"' in page
    assert '<ul class="errorlist" id="id_email_error"><li>Enter a valid email address.' in page


def test_embed_thanks_drops_a_next_that_is_not_allowed(client):
    page = client.get("/intake/contact/embed/thanks/", {"next": "https://evil.com/"})

    assert 'data-next=""' in page.content.decode()


@pytest.mark.django_db
def test_a_broker_outage_neither_fails_the_visitor_nor_loses_the_submission(
    client, contact_data, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(celery_app, "send_task", broker_down)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/intake/contact/", contact_data)

    assert response.status_code == 302
    submission = Submission.objects.get()
    assert submission.status == Submission.Status.QUEUED, "the relay will enqueue it again"


# --- More than one form ---------------------------------------------------------------------------


def test_each_registered_form_has_its_page_embed_and_schema(client):
    page = client.get("/intake/quote/").content.decode()

    assert "<h1>Request a quote</h1>" in page
    assert '<legend>Features <span class="optional">(optional)</span></legend>' in page, (
        "several choices form one fieldset"
    )
    assert 'type="date"' in page
    assert client.get("/intake/quote/embed/").status_code == 200
    assert client.get("/intake/quote/embed.js").status_code == 200
    assert client.get("/intake/quote/schema.json").json()["title"] == "Request a quote"


def test_a_form_that_is_not_registered_is_404(client, settings):
    settings.INBOX_INTAKE_FORMS = {"contact": {"form": "inbox_intake.forms.ContactForm"}}

    assert client.get("/intake/quote/").status_code == 404
    assert client.get("/intake/quote/schema.json").status_code == 404


@pytest.mark.django_db
def test_the_thank_you_page_speaks_for_its_form(client):
    response = client.get("/intake/quote/thanks/")

    assert "We will send your quote within two working days." in response.content.decode()


def test_the_form_page_sits_in_the_sites_layout_through_a_template_override(client):
    """templates/inbox_intake/base.html (the example site's) extends the site's base.html."""
    page = client.get(FORM_URL).content.decode()

    assert 'class="site-header"' in page
    assert "inbox_intake/form.css" in page


@pytest.mark.django_db
def test_a_bad_anonymous_visitor_id_is_shown_on_the_page(post_form, contact_data):
    """Found by the fuzz tests: the hidden field's error was not shown, a 400 with no reason."""
    response, _ = post_form(contact_data | {"anonymous_visitor_id": "-" * 36})

    assert response.status_code == 400
    assert "This is not a valid Wix visitor id." in response.content.decode()


@pytest.mark.django_db
def test_a_name_longer_than_its_column_is_kept_whole_in_the_data(post_form, contact_data):
    """Found by the fuzz tests: two 1,000-character name parts overflowed the name column."""
    contact_data |= {"first_name": "J" * 1000, "last_name": "D" * 1000}

    response, _ = post_form(contact_data)

    assert response.status_code == 302
    submission = Submission.objects.get()
    assert len(submission.name) == Submission.NAME_MAX_LENGTH
    assert submission.data["last_name"] == "D" * 1000


def test_labels_have_no_colon_and_optional_fields_say_so(client):
    page = client.get("/intake/contact/").content.decode()

    assert '<label for="id_first_name">First name</label>' in page
    assert '<label for="id_phone">Phone <span class="optional">(optional)</span></label>' in page
    assert '<label for="id_subscribe_newsletter">Subscribe to newsletter</label>' in page
    assert ":</label>" not in page


# --- Files: the form page and the iframe embed ---------------------------------------------------

QUOTE_URL = "/intake/quote/"
QUOTE = {"name": "Jane Doe", "email": "jane@example.com", "service": "web", "details": "A site."}
PDF = b"%PDF-1.4\n%%EOF\n"


def pdf(name="plan.pdf", content=PDF):
    return SimpleUploadedFile(name, content, "application/pdf")


def test_a_form_with_file_fields_is_sent_as_multipart(client):
    quote = client.get(QUOTE_URL).content.decode()
    contact = client.get(FORM_URL).content.decode()

    assert '<form method="post" enctype="multipart/form-data" novalidate>' in quote
    assert 'type="file" name="drawings" multiple accept="application/pdf,image/png,' in quote
    assert "PDF, PNG, JPEG, GIF, WebP or plain text; up to 15 files, 10 MB each" in quote
    assert '<form method="post" novalidate>' in contact


@pytest.mark.django_db
def test_files_sent_with_the_form_page_are_stored_with_it(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(QUOTE_URL, QUOTE | {"drawings": [pdf("a.pdf"), pdf("b.pdf")]})

    assert response.status_code == 302
    submission = Submission.objects.get()
    assert submission.data["drawings"] == ["a.pdf", "b.pdf"]
    assert [a.original_name for a in submission.attachments.all()] == ["a.pdf", "b.pdf"]
    assert len(callbacks) == 1, "delivery is scheduled once, after the commit"


@pytest.mark.django_db
def test_a_refused_file_is_an_error_beside_its_field_and_nothing_is_saved(client):
    renamed = SimpleUploadedFile("plan.pdf", b"MZ\x90\x00" + b"\x00" * 60 + b"PE\x00\x00")

    response = client.post(QUOTE_URL, QUOTE | {"drawings": [pdf(), renamed]})

    assert response.status_code == 400
    page = response.content.decode()
    assert '<ul class="errorlist" id="id_drawings_error"><li>“plan.pdf” is ' in page
    assert "by its content, which is not accepted here: send PDF, PNG" in page
    assert "Your files were not kept: please choose them again." in page
    assert 'value="Jane Doe"' in page, "what was typed is kept"
    assert not Submission.objects.exists()
    assert not Attachment.objects.exists()


@pytest.mark.django_db
def test_a_request_over_the_files_limit_is_refused_unread_saying_so(client, settings):
    settings.INBOX_INTAKE_MAX_REQUEST_BYTES = 1024
    settings.INBOX_INTAKE_MAX_TOTAL_FILE_SIZE = 2048

    response = client.post(QUOTE_URL, QUOTE | {"drawings": [pdf(content=PDF + b"%" * 4096)]})

    assert response.status_code == 413
    assert (
        "This submission is too large: at most 3 KB can be sent, files included (2 KB of files)."
        in response.content.decode()
    )
    assert not Submission.objects.exists()


@pytest.mark.django_db
def test_a_request_with_files_within_the_limits_passes_the_size_guard(client, settings):
    settings.INBOX_INTAKE_MAX_REQUEST_BYTES = 1024
    big = PDF + b"%" * 4096  # over the request limit alone, within the files' limits

    response = client.post(QUOTE_URL, QUOTE | {"drawings": [pdf(content=big)]})

    assert response.status_code == 302
    assert Submission.objects.get().attachments.get().size == len(big)


@pytest.mark.django_db
def test_the_iframe_embed_takes_files_with_its_csrf_token():
    client = Client(enforce_csrf_checks=True)
    page = client.get("/intake/quote/embed/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert 'enctype="multipart/form-data"' in page

    without_token = client.post("/intake/quote/embed/", QUOTE | {"drawings": [pdf()]})
    response = client.post(
        "/intake/quote/embed/", QUOTE | {"drawings": [pdf()], "csrfmiddlewaretoken": token}
    )

    assert without_token.status_code == 403, "CSRF stays on for files too"
    assert response.status_code == 302
    assert response.url == "/intake/quote/embed/thanks/"
    assert Submission.objects.get().attachments.get().original_name == "plan.pdf"
