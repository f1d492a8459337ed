import pytest
from django.test import Client
from django.urls import reverse

from inbox_intake.models import Submission, WixMemberLink

FORM_URL = "/intake/contact/"


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
