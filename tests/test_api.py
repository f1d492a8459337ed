"""The JSON endpoint (POST /intake/<form>/ with Accept: application/json), CORS, the schema and
the script embed's file."""

import json
from urllib.parse import urlencode

import pytest
import responses
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.test import Client
from django.test.client import MULTIPART_CONTENT
from kombu.exceptions import OperationalError

from inbox_intake import protection
from inbox_intake.conf import intake_settings
from inbox_intake.forms import ContactForm
from inbox_intake.models import Attachment, Submission
from site_project.celery import app as celery_app
from site_project.forms import QuoteRequestForm
from tests.conftest import LANDING

FORM_URL = "/intake/contact/"
SCHEMA_URL = "/intake/contact/schema.json"


@pytest.fixture(autouse=True)
def landing_is_allowed(allowed_origins):
    """Every test here posts as a page on LANDING would."""


@pytest.fixture
def api(django_capture_on_commit_callbacks):
    """POST to the JSON endpoint as a page on LANDING would (with CSRF checks on, as in a
    browser); return the response and the callbacks scheduled on commit."""
    client = Client(enforce_csrf_checks=True)

    def post(data, *, origin=LANDING, content_type="application/json", url=FORM_URL, **extra):
        as_json = content_type == "application/json" and not isinstance(data, str)
        body = json.dumps(data) if as_json else data
        headers = {"Accept": "application/json", **({"Origin": origin} if origin else {})}
        with django_capture_on_commit_callbacks() as callbacks:
            response = client.post(url, body, content_type=content_type, headers=headers, **extra)
        return response, callbacks

    return post


def errors(response) -> dict:
    return response.json()["errors"]


def post_json(data, url=FORM_URL):
    """POST to the JSON endpoint as a page on LANDING would, outside any test transaction."""
    return Client().post(
        url,
        json.dumps(data),
        content_type="application/json",
        headers={"Accept": "application/json", "Origin": LANDING},
    )


# --- 201 -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_json_submission_is_accepted_with_its_reference(api, contact_data):
    contact_data["subscribe_newsletter"] = True

    response, callbacks = api(contact_data, REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 201
    submission = Submission.objects.get()
    assert response.json() == {
        "reference": str(submission.reference),
        "message": "We received your message and will get back to you soon.",
        "redirect": None,
    }
    assert submission.status == Submission.Status.QUEUED
    assert submission.data["subscribe_newsletter"] is True
    assert submission.client_ip == "203.0.113.9"
    assert len(callbacks) == 1
    assert response["Access-Control-Allow-Origin"] == LANDING
    assert "Origin" in response["Vary"]


@pytest.mark.django_db
def test_form_encoded_body_is_accepted_too(api, contact_data):
    response, _ = api(urlencode(contact_data), content_type="application/x-www-form-urlencoded")

    assert response.status_code == 201
    assert Submission.objects.get().data["subscribe_newsletter"] is True


@pytest.mark.django_db
def test_json_path_needs_no_csrf_token_and_takes_no_cookie_identity(
    api, contact_data, django_user_model
):
    """Cross-origin calls carry no session; a same-site one must not act as its user either."""
    from inbox_intake.models import WixMemberLink

    user = django_user_model.objects.create_user("member", password="pw-123456")
    WixMemberLink.objects.create(user=user, member_id="88888888-8888-4888-8888-888888888888")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    response = client.post(
        FORM_URL,
        json.dumps(contact_data),
        content_type="application/json",
        headers={"Accept": "application/json", "Origin": LANDING},
    )

    assert response.status_code == 201
    assert Submission.objects.get().wix_member_id == ""


@pytest.mark.django_db
def test_request_without_origin_is_not_a_cross_site_browser_and_is_accepted(api, contact_data):
    response, _ = api(contact_data, origin=None)

    assert response.status_code == 201
    assert "Access-Control-Allow-Origin" not in response


@pytest.mark.django_db
def test_same_origin_script_may_post(api, contact_data):
    response, _ = api(contact_data, origin="http://testserver")

    assert response.status_code == 201


@pytest.mark.django_db
def test_honeypot_gets_the_same_success_but_is_stored_as_spam(api, contact_data):
    contact_data[protection.HONEYPOT_FIELD] = "http://spam.example"

    response, callbacks = api(contact_data)

    assert response.status_code == 201
    submission = Submission.objects.get()
    assert response.json() == {
        "reference": str(submission.reference),
        "message": "We received your message and will get back to you soon.",
        "redirect": None,
    }
    assert submission.status == Submission.Status.SPAM
    assert not callbacks


@pytest.mark.django_db
def test_redirect_is_returned_only_for_allowed_origins(api, contact_data):
    contact_data["next"] = "https://landing.example/thank-you/"
    allowed, _ = api(contact_data)
    contact_data["next"] = "https://evil.com/phish"
    evil, _ = api(contact_data)
    contact_data["next"] = "/intake/contact/thanks/"
    own_site, _ = api(contact_data)

    assert allowed.json()["redirect"] == "https://landing.example/thank-you/"
    assert evil.json()["redirect"] is None
    assert own_site.json()["redirect"] == "http://testserver/intake/contact/thanks/"


@pytest.mark.django_db
def test_a_submission_costs_one_query(api, contact_data, django_assert_num_queries):
    """The INSERT alone: no transaction (or savepoint) of its own around it."""
    with django_assert_num_queries(1):
        response, callbacks = api(contact_data)

    assert response.status_code == 201
    assert len(callbacks) == 1


@pytest.mark.django_db(transaction=True)
def test_the_task_is_published_once_the_submission_is_committed(contact_data, monkeypatch):
    seen_by_another_connection = []

    def publish(name, args, **options):
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT status FROM inbox_intake_submission WHERE id = %s", args)
                seen_by_another_connection.append(cursor.fetchone())
        finally:
            other.close()

    monkeypatch.setattr(celery_app, "send_task", publish)

    response = post_json(contact_data)

    assert response.status_code == 201
    assert seen_by_another_connection == [("queued",)]


@pytest.mark.django_db(transaction=True)
def test_a_broker_outage_still_answers_201_and_keeps_the_submission(
    contact_data, monkeypatch, caplog
):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(celery_app, "send_task", broker_down)

    response = post_json(contact_data)

    assert response.status_code == 201
    assert Submission.objects.get().status == Submission.Status.QUEUED, "the relay enqueues it"
    assert "Connection refused" in caplog.text


# --- 400 -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_field_errors_have_the_documented_shape(api, contact_data):
    contact_data["email"] = "not-an-email"
    del contact_data["last_name"]

    response, callbacks = api(contact_data)

    assert response.status_code == 400
    assert errors(response) == {
        "last_name": [{"message": "This field is required.", "code": "required"}],
        "email": [{"message": "Enter a valid email address.", "code": "invalid"}],
    }
    assert response["Access-Control-Allow-Origin"] == LANDING, "the page must read its errors"
    assert not Submission.objects.exists()
    assert not callbacks


@pytest.mark.django_db
def test_a_field_over_its_length_is_a_field_error(api, contact_data, settings):
    contact_data["message"] = "x" * (intake_settings.INBOX_INTAKE_MESSAGE_MAX_LENGTH + 1)

    response, _ = api(contact_data)

    assert response.status_code == 400
    assert errors(response)["message"][0]["code"] == "max_length"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{oops", "The request body is not valid JSON."),
        ('["Jane"]', "The request body must be a JSON object of field names and values."),
    ],
)
def test_malformed_json_is_400(api, body, message):
    response, _ = api(body)

    assert response.status_code == 400
    assert errors(response) == {"__all__": [{"message": message, "code": "malformed_body"}]}


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["first_name", "message", "next", "cf-turnstile-response"])
def test_a_lone_surrogate_is_400_naming_the_field_and_nothing_is_saved(api, contact_data, field):
    contact_data[field] = "x\udfff"
    # json.dumps writes it as the escape \udfff, as the review's curl did.
    response, callbacks = api(contact_data)

    assert response.status_code == 400
    [error] = errors(response)[field]
    assert error["code"] == "lone_surrogate"
    assert f"“{field}”" in error["message"]
    assert not Submission.objects.exists()
    assert not callbacks


@pytest.mark.django_db
def test_a_form_encoded_body_django_will_not_read_is_400_in_json(api, contact_data):
    body = urlencode(contact_data)

    response, _ = api(body, content_type="application/x-www-form-urlencoded; charset=utf-7")

    assert response.status_code == 400
    assert errors(response)["__all__"][0]["code"] == "malformed_body"


@pytest.mark.django_db
@pytest.mark.parametrize("value", [False, 20260101, 1.5])
def test_a_number_or_boolean_for_a_date_is_a_field_error(value):
    """Found by schemathesis: Django's DateField failed (500) on anything but text."""
    data = {"name": "Jane", "email": "j@example.com", "service": "web", "details": "Hi"}

    response = post_json(data | {"start_date": value}, url="/intake/quote/")

    assert response.status_code == 400
    assert errors(response)["start_date"][0]["code"] == "invalid"


@pytest.mark.django_db
def test_deeply_nested_json_is_400(api):
    response, _ = api("[" * 100_000)

    assert response.status_code == 400
    assert errors(response)["__all__"][0]["code"] == "malformed_body"
    assert "nests more than" in errors(response)["__all__"][0]["message"]


@pytest.mark.django_db
def test_a_json_body_without_accept_is_the_json_endpoint_too(contact_data):
    client = Client(enforce_csrf_checks=True)

    response = client.post(FORM_URL, json.dumps(contact_data), content_type="application/json")

    assert response.status_code == 201
    assert response.json()["reference"] == str(Submission.objects.get().reference)


# --- 403, 413, 415, 429, 503 ---------------------------------------------------------------------


@pytest.mark.django_db
def test_refused_requests_count_against_the_clients_rate_limit(api, contact_data, settings):
    settings.INBOX_INTAKE_RATE_LIMIT_PER_IP = 4
    settings.INBOX_INTAKE_MAX_REQUEST_BYTES = 10_000
    api("{oops")  # 400
    api(contact_data, origin="https://evil.example")  # 403
    api("x" * 20_000)  # 413
    api("first_name=Jane", content_type="text/plain")  # 415

    response, _ = api(contact_data)

    assert response.status_code == 429
    assert not Submission.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("origin", ["https://evil.example", "http://landing.example", "null"])
def test_origin_not_allowed_is_403_without_cors_headers(api, contact_data, origin):
    response, callbacks = api(contact_data, origin=origin)

    assert response.status_code == 403
    assert errors(response)["__all__"][0]["code"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in response
    assert not Submission.objects.exists()


@pytest.mark.django_db
def test_body_over_the_limit_is_413(api, contact_data, settings):
    settings.INBOX_INTAKE_MAX_REQUEST_BYTES = 200
    contact_data["message"] = "x" * 300

    response, _ = api(contact_data)

    assert response.status_code == 413
    assert errors(response) == {
        "__all__": [{"message": "This submission is too large: at most 200 bytes can be sent.",
                     "code": "too_large"}]
    }  # fmt: skip
    assert not Submission.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("content_type", ["text/plain", "application/xml"])
def test_unsupported_content_type_is_415(api, content_type):
    response, _ = api("first_name=Jane", content_type=content_type)

    assert response.status_code == 415
    assert errors(response)["__all__"][0]["code"] == "unsupported_media_type"


@pytest.mark.django_db
def test_rate_limited_is_429_with_retry_after(api, contact_data, settings):
    settings.INBOX_INTAKE_RATE_LIMIT_PER_IP = 2
    api(contact_data)
    api(contact_data)

    response, callbacks = api(contact_data)

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= intake_settings.INBOX_INTAKE_RATE_LIMIT_WINDOW
    assert errors(response)["__all__"][0]["code"] == "rate_limited"
    assert response["Access-Control-Expose-Headers"] == "Retry-After"
    assert Submission.objects.count() == 2
    assert not callbacks


@pytest.mark.django_db
def test_rate_limit_follows_the_client_behind_trusted_proxies(api, contact_data, settings):
    settings.INBOX_INTAKE_RATE_LIMIT_PER_IP = 1
    settings.INBOX_INTAKE_TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.1"}

    first, _ = api(contact_data, HTTP_X_FORWARDED_FOR="203.0.113.1", **proxy)
    other_client, _ = api(contact_data, HTTP_X_FORWARDED_FOR="203.0.113.2", **proxy)
    forged, _ = api(contact_data, HTTP_X_FORWARDED_FOR="9.9.9.9, 203.0.113.1", **proxy)

    assert (first.status_code, other_client.status_code, forged.status_code) == (201, 201, 429)
    assert set(Submission.objects.values_list("client_ip", flat=True)) == {
        "203.0.113.1",
        "203.0.113.2",
    }


@pytest.mark.django_db
@responses.activate
def test_captcha_outage_is_503(api, contact_data, settings):
    settings.INBOX_INTAKE_CAPTCHA_SITE_KEY = "site-key"
    settings.INBOX_INTAKE_CAPTCHA_SECRET_KEY = "secret"
    responses.post(protection.CAPTCHA_PROVIDERS["turnstile"].verify_url, status=500)
    contact_data["cf-turnstile-response"] = "token"

    response, _ = api(contact_data)

    assert response.status_code == 503
    assert errors(response)["__all__"][0]["code"] == "captcha_unavailable"
    assert not Submission.objects.exists()


@pytest.mark.django_db
def test_missing_captcha_answer_is_400(api, contact_data, settings):
    settings.INBOX_INTAKE_CAPTCHA_SITE_KEY = "site-key"
    settings.INBOX_INTAKE_CAPTCHA_SECRET_KEY = "secret"

    response, _ = api(contact_data)

    assert response.status_code == 400
    assert errors(response)["__all__"][0]["code"] == "captcha_failed"


# --- CORS preflight ------------------------------------------------------------------------------
# django-cors-headers' middleware answers preflights itself, before any view, and asks the app
# (inbox_intake/cors.py) whether the request may have CORS headers. Header names are compared as
# HTTP compares them, without case.


def header_names(response, header: str) -> set[str]:
    return {name.strip().lower() for name in response.get(header, "").split(",") if name.strip()}


@pytest.mark.parametrize("url", [FORM_URL, SCHEMA_URL])
def test_preflight_from_an_allowed_origin(client, url):
    response = client.options(
        url,
        headers={
            "Origin": LANDING,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )

    assert response.status_code == 200  # corsheaders' answer (the view's own was a 204)
    assert response["Access-Control-Allow-Origin"] == LANDING
    assert "post" in header_names(response, "Access-Control-Allow-Methods")
    assert "content-type" in header_names(response, "Access-Control-Allow-Headers")
    assert int(response["Access-Control-Max-Age"]) > 0
    assert "Access-Control-Allow-Credentials" not in response
    assert "origin" in header_names(response, "Vary")


@pytest.mark.parametrize("origin", ["https://evil.example", None])
def test_preflight_from_another_origin_is_refused(client, origin):
    headers = {"Access-Control-Request-Method": "POST"}
    if origin:
        headers["Origin"] = origin

    response = client.options(FORM_URL, headers=headers)

    # corsheaders answers every preflight of a site that leaves CORS_URLS_REGEX at its default
    # (all URLs); without these headers the browser sends nothing. The app's own 403 answers
    # the POST (test_origin_not_allowed_is_403_without_cors_headers) and the preflights the
    # middleware leaves to the view (below).
    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Methods" not in response


def test_a_host_with_cors_for_its_own_urls_only(client, settings):
    """A host whose corsheaders covers its own API (CORS_URLS_REGEX): the app's URLs still get
    their CORS headers, through the signal, and the view answers every other OPTIONS."""
    settings.CORS_URLS_REGEX = r"^/api/"
    preflight = {"Access-Control-Request-Method": "POST"}

    allowed = client.options(FORM_URL, headers={"Origin": LANDING, **preflight})
    refused = client.options(FORM_URL, headers={"Origin": "https://evil.example", **preflight})
    no_origin = client.options(FORM_URL, headers=preflight)
    not_a_preflight = client.options(SCHEMA_URL, headers={"Origin": LANDING})
    schema = client.get(SCHEMA_URL)

    assert allowed.status_code == 200
    assert allowed["Access-Control-Allow-Origin"] == LANDING
    assert (refused.status_code, no_origin.status_code) == (403, 403)
    assert "Access-Control-Allow-Origin" not in refused
    assert not_a_preflight.status_code == 204
    assert not_a_preflight["Access-Control-Allow-Origin"] == LANDING
    assert "post" in header_names(not_a_preflight, "Access-Control-Allow-Methods")
    # Cacheable, and its CORS headers depend on the Origin: a cache must keep them apart.
    assert "origin" in header_names(schema, "Vary")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["/intake/contact/embed.js", "/intake/openapi.json", "/intake/contact/thanks/", "/"]
)
def test_an_allowed_origin_gets_cors_headers_on_the_endpoint_and_schema_only(client, url):
    response = client.get(url, headers={"Origin": LANDING})

    assert response.status_code in (200, 302)
    assert "Access-Control-Allow-Origin" not in response


# --- Schema and script ---------------------------------------------------------------------------


def test_schema_describes_the_fields_and_where_to_send_them(client):
    response = client.get(SCHEMA_URL, headers={"Origin": LANDING})

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == LANDING
    schema = response.json()
    assert schema["form"] == "contact"
    assert schema["action"] == "http://testserver/intake/contact/"
    assert schema["honeypot"] == protection.HONEYPOT_FIELD
    assert schema["captcha"] is None
    assert [field["name"] for field in schema["fields"]] == [
        "first_name",
        "last_name",
        "email",
        "phone",
        "message",
        "subscribe_newsletter",
    ]


def test_schema_for_another_origin_has_no_cors_header(client):
    response = client.get(SCHEMA_URL, headers={"Origin": "https://evil.example"})

    assert "Access-Control-Allow-Origin" not in response


def test_schema_tells_the_captcha_widget_but_never_the_secret(client, settings):
    settings.INBOX_INTAKE_CAPTCHA_PROVIDER = "hcaptcha"
    settings.INBOX_INTAKE_CAPTCHA_SITE_KEY = "public-site-key"
    settings.INBOX_INTAKE_CAPTCHA_SECRET_KEY = "the-secret"

    response = client.get(SCHEMA_URL)

    assert response.json()["captcha"] == {
        "provider": "hcaptcha",
        "site_key": "public-site-key",
        "script_url": "https://js.hcaptcha.com/1/api.js",
        "widget_class": "h-captcha",
    }
    assert b"the-secret" not in response.content


def test_openapi_document_lists_every_forms_fields_and_every_answer(client):
    response = client.get("/intake/openapi.json")

    document = response.json()
    assert response.status_code == 200
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {"/intake/contact/", "/intake/quote/"}
    for path, form_class in (
        ("/intake/contact/", ContactForm),
        ("/intake/quote/", QuoteRequestForm),
    ):
        post = document["paths"][path]["post"]
        content = post["requestBody"]["content"]
        schema = content["application/json"]["schema"]
        # JSON carries every field but files; a form with files takes multipart, with them all.
        text_fields = set(form_class.base_fields) - set(form_class.file_fields())
        assert text_fields <= set(schema["properties"])
        assert set(form_class.base_fields) <= set(
            content.get("multipart/form-data", content["application/json"])["schema"]["properties"]
        )
        assert set(post["responses"]) == {"201", "400", "403", "413", "415", "429", "503"}


def test_embed_script_is_served_per_form_as_javascript(client):
    response = client.get("/intake/contact/embed.js")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript"
    assert b"schema.json" in b"".join(response.streaming_content)


@pytest.mark.parametrize(
    "url", ["/intake/nope/schema.json", "/intake/nope/embed.js", "/intake/nope/embed/"]
)
def test_unknown_form_is_404_everywhere(client, url):
    assert client.get(url).status_code == 404


def test_unknown_form_json_post_is_404(contact_data):
    response = Client().post(
        "/intake/nope/", contact_data, headers={"Accept": "application/json", "Origin": LANDING}
    )

    assert response.status_code == 404


@pytest.mark.django_db
def test_a_second_form_takes_several_choices_as_a_list(api):
    response, _ = api(
        {
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "service": "web",
            "features": ["booking", "blog"],
            "start_date": "2027-01-31",
            "budget": 900,
            "details": "A site.",
        },
        url="/intake/quote/",
    )

    assert response.status_code == 201, response.content
    assert response.json()["message"] == "We will send your quote within two working days."
    stored = Submission.objects.get(form_name="quote")
    assert stored.data["features"] == ["booking", "blog"]
    assert stored.data["start_date"] == "2027-01-31"
    assert stored.data["budget"] == "900"
    assert stored.name == "Ada Lovelace"


@pytest.mark.django_db
def test_a_list_for_a_field_of_one_value_is_refused(api, contact_data):
    response, _ = api(contact_data | {"first_name": ["Jane", "Jo"]})

    assert response.status_code == 400
    assert "first_name" in errors(response)["__all__"][0]["message"]
    assert not Submission.objects.exists()


# --- Files: multipart/form-data ------------------------------------------------------------------

QUOTE_URL = "/intake/quote/"
QUOTE = {"name": "Jane Doe", "email": "jane@example.com", "service": "web", "details": "A site."}
PDF = b"%PDF-1.4\n%%EOF\n"


def multipart(api, data, **kwargs):
    """POST `data` (files included) to the quote form's JSON endpoint as multipart/form-data."""
    return api(data, content_type=MULTIPART_CONTENT, url=QUOTE_URL, **kwargs)


@pytest.mark.django_db
def test_the_json_endpoint_takes_files_as_multipart(api):
    files = [SimpleUploadedFile("plan.pdf", PDF), SimpleUploadedFile("notes.txt", b"Two floors.")]

    response, callbacks = multipart(
        api, QUOTE | {"drawings": files, "features": ["blog", "members"]}
    )

    assert response.status_code == 201, response.content
    submission = Submission.objects.get(reference=response.json()["reference"])
    assert submission.data["drawings"] == ["plan.pdf", "notes.txt"]
    assert submission.data["features"] == ["blog", "members"]
    assert [(a.original_name, a.content_type) for a in submission.attachments.all()] == [
        ("plan.pdf", "application/pdf"),
        ("notes.txt", "text/plain"),
    ]
    assert len(callbacks) == 1
    assert response["Access-Control-Allow-Origin"] == LANDING


@pytest.mark.django_db
def test_a_refused_file_is_a_field_error_in_json_and_nothing_is_saved(api):
    files = [SimpleUploadedFile("plan.pdf", PDF), SimpleUploadedFile("empty.pdf", b"")]

    response, callbacks = multipart(api, QUOTE | {"drawings": files})

    assert response.status_code == 400
    assert errors(response) == {
        "drawings": [{"message": "“empty.pdf” is empty (0 bytes).", "code": "empty_file"}]
    }
    assert not Submission.objects.exists()
    assert not Attachment.objects.exists()
    assert callbacks == []


@pytest.mark.django_db
def test_a_16th_file_over_the_json_endpoint(api):
    files = [SimpleUploadedFile(f"{n}.pdf", PDF) for n in range(16)]

    response, _ = multipart(api, QUOTE | {"drawings": files})

    assert response.status_code == 400
    assert errors(response)["drawings"][0]["code"] == "too_many_files"
    assert not Submission.objects.exists()


@pytest.mark.django_db
def test_a_multipart_body_over_the_files_limit_is_413_in_json(api, settings):
    settings.INBOX_INTAKE_MAX_REQUEST_BYTES = 1024
    settings.INBOX_INTAKE_MAX_TOTAL_FILE_SIZE = 1024

    response, _ = multipart(api, QUOTE | {"drawings": [SimpleUploadedFile("a.pdf", PDF * 300)]})

    assert response.status_code == 413
    assert errors(response) == {
        "__all__": [
            {
                "message": "This submission is too large: at most 2 KB can be sent, files "
                "included (1 KB of files).",
                "code": "too_large",
            }
        ]
    }


@pytest.mark.django_db
def test_files_cannot_come_in_json(api):
    response, _ = api(QUOTE | {"drawings": ["plan.pdf"]}, url=QUOTE_URL)

    assert response.status_code == 400
    assert errors(response)["__all__"] == [
        {
            "message": "drawings: files cannot be sent in JSON; send the form as "
            "multipart/form-data.",
            "code": "malformed_body",
        }
    ]


@pytest.mark.django_db
def test_a_form_with_optional_files_still_takes_json_without_them(api):
    response, _ = api(QUOTE, url=QUOTE_URL)

    assert response.status_code == 201, response.content
    assert Submission.objects.get().data["drawings"] == []


@pytest.mark.django_db
def test_a_multipart_body_from_an_origin_not_allowed_is_refused(api):
    response, _ = multipart(
        api, QUOTE | {"drawings": [SimpleUploadedFile("a.pdf", PDF)]}, origin="https://evil.example"
    )

    assert response.status_code == 403
    assert not Submission.objects.exists()


def test_the_schema_describes_file_fields_for_the_script_embed(client):
    fields = client.get("/intake/quote/schema.json").json()["fields"]

    (drawings,) = [spec for spec in fields if spec["name"] == "drawings"]
    assert drawings["type"] == "file"
    assert drawings["multiple"] is True
    assert drawings["accept"][0] == "application/pdf"
    assert drawings["max_file_size"] == intake_settings.INBOX_INTAKE_MAX_FILE_SIZE


def test_the_openapi_document_describes_the_multipart_body(client):
    document = client.get("/intake/openapi.json").json()

    content = document["paths"]["/intake/quote/"]["post"]["requestBody"]["content"]
    multipart_body = content["multipart/form-data"]
    assert multipart_body["schema"]["properties"]["drawings"] == {
        "type": "array",
        "items": {"type": "string", "format": "binary"},
        "maxItems": 15,
        "description": "PDF, PNG, JPEG, GIF, WebP or plain text; up to 15 files, 10 MB each, "
        "25 MB in all. Types are told by the content, not by the name.",
        "title": "Drawings or photos",
    }
    assert multipart_body["encoding"]["drawings"]["contentType"].startswith("application/pdf, ")
    assert "drawings" not in content["application/json"]["schema"]["properties"]
    contact = document["paths"]["/intake/contact/"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" not in contact, "a form without files takes none"
