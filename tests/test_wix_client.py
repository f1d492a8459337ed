"""Unit tests of the Wix client, with HTTP mocked by `responses` (the only place we mock)."""

import base64
import json

import pytest
import requests
import responses
from responses import matchers

from inbox_intake.wix import (
    ApiKeyAuth,
    OAuthAppAuth,
    WixAmbiguousError,
    WixAuthError,
    WixClient,
    WixConflictError,
    WixNotFoundError,
    WixPermanentError,
    WixRateLimitError,
    WixTokenError,
    WixTransientError,
    WixValidationError,
)

BASE = "https://www.wixapis.com"
KEY = "IST.secret-test-key"
SITE = "11111111-1111-4111-8111-111111111111"
CONTACT = "33333333-3333-4333-8333-333333333333"
CONVERSATION = "44444444-4444-4444-8444-444444444444"
FORM_MESSAGE = {
    "direction": "PARTICIPANT_TO_BUSINESS",
    "visibility": "BUSINESS",
    "content": {
        "previewText": "Jane",
        "form": {"title": "T", "fields": [{"name": "a", "value": "b"}]},
    },
}


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


@pytest.fixture
def client():
    return WixClient(base_url=BASE, auth=ApiKeyAuth(KEY, site_id=SITE), timeout=(1, 2))


def auth_headers():
    return matchers.header_matcher({"Authorization": KEY, "wix-site-id": SITE})


def sent_json(call):
    return json.loads(call.request.body)


# --- Requests are what the official SDK sends ---------------------------------------------------


def test_find_contact_queries_any_email_of_a_contact(mocked, client):
    mocked.post(
        f"{BASE}/contacts/v4/contacts/query",
        json={"contacts": [{"id": CONTACT}], "pagingMetadata": {"count": 1}},
        match=[auth_headers()],
    )

    assert client.find_contact_id("jane@example.com") == CONTACT
    assert sent_json(mocked.calls[0]) == {
        "query": {
            "filter": {"info.emails.email": {"$eq": "jane@example.com"}},
            "paging": {"limit": 1},
        }
    }
    assert mocked.calls[0].request.headers["Content-Type"] == "application/json"
    assert "wix-account-id" not in mocked.calls[0].request.headers


def test_find_contact_returns_none_when_nobody_has_the_email(mocked, client):
    mocked.post(f"{BASE}/contacts/v4/contacts/query", json={"contacts": []})

    assert client.find_contact_id("nobody@example.com") is None


def test_create_contact_sends_info_without_duplicates(mocked, client):
    mocked.post(f"{BASE}/contacts/v4/contacts", json={"contact": {"id": CONTACT}})
    info = {"name": {"first": "Jane", "last": "Doe"}}

    assert client.create_contact(info) == CONTACT
    assert sent_json(mocked.calls[0]) == {"info": info, "allowDuplicates": False}


def test_duplicate_contact_409_means_use_the_existing_one(mocked, client):
    mocked.post(
        f"{BASE}/contacts/v4/contacts",
        status=409,
        json={
            "message": "Contact already exists",
            "details": {
                "applicationError": {
                    "code": "DUPLICATE_CONTACT_EXISTS",
                    "description": "Contact with email jane@example.com already exists",
                    "data": {"duplicateContactId": CONTACT, "duplicateEmail": "jane@example.com"},
                }
            },
        },
    )

    assert client.create_contact({"name": {"first": "Jane"}}) == CONTACT


def test_other_409_stays_an_error(mocked, client):
    mocked.post(
        f"{BASE}/contacts/v4/contacts",
        status=409,
        json={
            "message": "exists",
            "details": {"applicationError": {"code": "CONTACT_ID_ALREADY_EXISTS"}},
        },
    )

    with pytest.raises(WixConflictError) as caught:
        client.create_contact({"name": {"first": "Jane"}})
    assert caught.value.code == "CONTACT_ID_ALREADY_EXISTS"


def test_get_or_create_conversation(mocked, client):
    mocked.post(
        f"{BASE}/inbox/v2/conversations",
        json={"conversation": {"id": CONVERSATION}, "newConversation": True},
    )

    assert client.get_or_create_conversation({"contactId": CONTACT}) == CONVERSATION
    assert sent_json(mocked.calls[0]) == {"participantId": {"contactId": CONTACT}}


def test_get_conversation_repeats_the_path_id_in_the_query(mocked, client):
    mocked.get(
        f"{BASE}/inbox/v2/conversations/{CONVERSATION}",
        json={"conversation": {"id": CONVERSATION}},
        match=[matchers.query_param_matcher({"conversationId": CONVERSATION})],
    )

    assert client.get_conversation(CONVERSATION) == {"id": CONVERSATION}
    assert "Content-Type" not in mocked.calls[0].request.headers


def test_send_message_posts_as_participant_with_notifications(mocked, client):
    mocked.post(f"{BASE}/inbox/v2/messages", json={"message": {"id": "1736936430123456"}})

    assert client.send_message(CONVERSATION, FORM_MESSAGE) == {"id": "1736936430123456"}
    assert sent_json(mocked.calls[0]) == {
        "conversationId": CONVERSATION,
        "message": FORM_MESSAGE,
        "sendNotifications": True,
        "sendAs": "PARTICIPANT",
    }


def test_non_ascii_bodies_are_sent_as_utf8(mocked, client):
    mocked.post(f"{BASE}/inbox/v2/messages", json={"message": {"id": "1"}})
    message = {**FORM_MESSAGE, "content": {"form": {"title": "Grüße 😀", "fields": []}}}

    client.send_message(CONVERSATION, message)

    assert sent_json(mocked.calls[0])["message"]["content"]["form"]["title"] == "Grüße 😀"


def test_list_messages_plain_query_without_paging(mocked, client):
    mocked.get(
        f"{BASE}/inbox/v2/messages",
        json={"messages": [{"id": "1"}], "pagingMetadata": {"cursors": {"next": None}}},
        match=[
            matchers.query_param_matcher({"conversationId": CONVERSATION, "visibility": "BUSINESS"})
        ],
    )

    assert client.list_messages(CONVERSATION) == ([{"id": "1"}], None)


def test_list_messages_with_paging_uses_the_sdk_r_parameter(mocked, client):
    mocked.get(
        f"{BASE}/inbox/v2/messages",
        json={"messages": [], "pagingMetadata": {"cursors": {"next": "CURSOR-2"}}},
    )

    _, cursor = client.list_messages(CONVERSATION, limit=10, cursor="CURSOR-1", sort_order="DESC")

    assert cursor == "CURSOR-2"
    encoded = mocked.calls[0].request.params[".r"]
    decoded = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    assert decoded == {
        "conversationId": CONVERSATION,
        "visibility": "BUSINESS",
        "paging": {"limit": 10, "cursor": "CURSOR-1"},
        "sorting": {"fieldName": "sequence", "order": "DESC"},
    }
    assert "=" not in encoded


def test_consistency_token_is_echoed_on_later_requests(mocked, client):
    mocked.post(
        f"{BASE}/inbox/v2/conversations",
        json={"conversation": {"id": CONVERSATION}},
        headers={"X-Wix-Consistent": "TOKEN-1"},
    )
    mocked.post(
        f"{BASE}/inbox/v2/messages",
        json={"message": {"id": "1"}},
        match=[matchers.header_matcher({"X-Wix-Consistent": "TOKEN-1"})],
    )

    client.get_or_create_conversation({"contactId": CONTACT})
    client.send_message(CONVERSATION, FORM_MESSAGE)


def test_account_id_is_sent_only_without_a_site_id(mocked):
    client = WixClient(base_url=BASE, auth=ApiKeyAuth(KEY, account_id="acc-1"))
    mocked.post(f"{BASE}/inbox/v2/conversations", json={"conversation": {"id": CONVERSATION}})

    client.get_or_create_conversation({"memberId": "m"})

    headers = mocked.calls[0].request.headers
    assert headers["wix-account-id"] == "acc-1"
    assert "wix-site-id" not in headers


def test_site_and_account_id_together_are_refused():
    with pytest.raises(ValueError, match="not both"):
        ApiKeyAuth(KEY, site_id=SITE, account_id="acc-1")


def test_base_url_is_the_only_thing_that_changes(mocked):
    sandbox = WixClient(
        base_url="http://127.0.0.1:9/wix-sandbox/", auth=ApiKeyAuth(KEY, site_id=SITE)
    )
    mocked.post(
        "http://127.0.0.1:9/wix-sandbox/inbox/v2/conversations",
        json={"conversation": {"id": CONVERSATION}},
    )

    assert sandbox.get_or_create_conversation({"contactId": CONTACT}) == CONVERSATION


# --- Error mapping ------------------------------------------------------------------------------


def test_only_200_is_success(mocked, client):
    mocked.post(f"{BASE}/inbox/v2/messages", status=201, json={"message": {"id": "1"}})

    with pytest.raises(WixPermanentError, match="unexpected HTTP 201"):
        client.send_message(CONVERSATION, FORM_MESSAGE)


def test_validation_error_lists_every_violation(mocked, client):
    mocked.post(
        f"{BASE}/inbox/v2/messages",
        status=400,
        headers={"x-wix-request-id": "req-16"},
        json={
            "message": "INVALID_ARGUMENT",
            "details": {
                "validationError": {
                    "fieldViolations": [
                        {
                            "field": "message.content.form.fields",
                            "description": "must have at most 15",
                        }
                    ]
                }
            },
        },
    )

    with pytest.raises(WixValidationError) as caught:
        client.send_message(CONVERSATION, FORM_MESSAGE)
    error = caught.value
    assert error.status == 400
    assert error.request_id == "req-16"
    assert error.violations == ["message.content.form.fields: must have at most 15"]
    assert "message.content.form.fields: must have at most 15" in str(error)


@pytest.mark.parametrize("status", [401, 403])
def test_auth_errors_are_permanent_and_never_show_the_key(mocked, client, status):
    mocked.post(
        f"{BASE}/inbox/v2/conversations",
        status=status,
        json={"message": "unauthorized", "details": {}},
        headers={"x-wix-request-id": "req-1"},
    )

    with pytest.raises(WixAuthError) as caught:
        client.get_or_create_conversation({"contactId": CONTACT})
    assert caught.value.status == status
    assert KEY not in str(caught.value)
    assert KEY not in repr(client.auth)


def test_not_found_carries_the_wix_code(mocked, client):
    mocked.post(
        f"{BASE}/inbox/v2/messages",
        status=404,
        json={
            "message": "Conversation not found",
            "details": {"applicationError": {"code": "CONVERSATION_NOT_FOUND", "description": "x"}},
        },
    )

    with pytest.raises(WixNotFoundError) as caught:
        client.send_message(CONVERSATION, FORM_MESSAGE)
    assert caught.value.code == "CONVERSATION_NOT_FOUND"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"Retry-After": "7"}, 7.0), ({}, None), ({"Retry-After": "soon"}, None)],
)
def test_rate_limit_is_transient_with_retry_after(mocked, client, headers, expected):
    mocked.post(f"{BASE}/contacts/v4/contacts/query", status=429, body="", headers=headers)

    with pytest.raises(WixRateLimitError) as caught:
        client.find_contact_id("jane@example.com")
    assert isinstance(caught.value, WixTransientError)
    assert caught.value.retry_after == expected
    assert "Too Many Requests" in str(caught.value)


def test_retry_after_as_http_date(mocked, client):
    mocked.post(
        f"{BASE}/contacts/v4/contacts/query",
        status=429,
        headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"},
    )

    with pytest.raises(WixRateLimitError) as caught:
        client.find_contact_id("jane@example.com")
    assert caught.value.retry_after == 0.0


def test_5xx_is_transient_for_lookups(mocked, client):
    mocked.post(f"{BASE}/inbox/v2/conversations", status=503, body="upstream exploded")

    with pytest.raises(WixTransientError) as caught:
        client.get_or_create_conversation({"contactId": CONTACT})
    assert caught.value.status == 503


def test_5xx_from_send_is_ambiguous(mocked, client):
    mocked.post(f"{BASE}/inbox/v2/messages", status=500, json={"message": "", "details": {}})

    with pytest.raises(WixAmbiguousError):
        client.send_message(CONVERSATION, FORM_MESSAGE)


def test_connection_refused_is_transient_even_for_send():
    client = WixClient(base_url="http://127.0.0.1:9", auth=ApiKeyAuth(KEY, site_id=SITE))

    with pytest.raises(WixTransientError) as caught:
        client.send_message(CONVERSATION, FORM_MESSAGE)
    assert not isinstance(caught.value, WixAmbiguousError)


def test_connect_timeout_is_transient(mocked, client):
    mocked.post(f"{BASE}/inbox/v2/messages", body=requests.ConnectTimeout("slow"))

    with pytest.raises(WixTransientError, match="timed out connecting"):
        client.send_message(CONVERSATION, FORM_MESSAGE)


def test_read_timeout_on_send_is_ambiguous(mocked, client):
    mocked.post(f"{BASE}/inbox/v2/messages", body=requests.ReadTimeout("slow"))

    with pytest.raises(WixAmbiguousError, match="may have taken effect"):
        client.send_message(CONVERSATION, FORM_MESSAGE)


def test_read_timeout_on_lookup_is_transient(mocked, client):
    mocked.post(f"{BASE}/contacts/v4/contacts/query", body=requests.ReadTimeout("slow"))

    with pytest.raises(WixTransientError):
        client.find_contact_id("jane@example.com")


def test_connection_reset_after_send_is_ambiguous(mocked, client):
    mocked.post(
        f"{BASE}/inbox/v2/messages",
        body=requests.ConnectionError(ConnectionResetError(104, "Connection reset by peer")),
    )

    with pytest.raises(WixAmbiguousError):
        client.send_message(CONVERSATION, FORM_MESSAGE)


def test_200_with_garbage_from_send_is_ambiguous(mocked, client):
    mocked.post(f"{BASE}/inbox/v2/messages", body="<html>proxy</html>")

    with pytest.raises(WixAmbiguousError):
        client.send_message(CONVERSATION, FORM_MESSAGE)


# --- OAuth app credentials ----------------------------------------------------------------------


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def oauth_client(clock):
    auth = OAuthAppAuth("app-1", "app-secret-value", "instance-1", clock=clock)
    return WixClient(base_url=BASE, auth=auth)


def token_response(mocked, token, expires_in=14400):
    mocked.post(
        f"{BASE}/oauth2/token",
        json={"access_token": token, "token_type": "Bearer", "expires_in": expires_in},
        match=[
            matchers.json_params_matcher(
                {
                    "grant_type": "client_credentials",
                    "client_id": "app-1",
                    "client_secret": "app-secret-value",
                    "instance_id": "instance-1",
                }
            )
        ],
    )


def test_oauth_token_is_fetched_once_and_sent_raw(mocked, oauth_client):
    token_response(mocked, "TOKEN-A")
    mocked.post(
        f"{BASE}/inbox/v2/conversations",
        json={"conversation": {"id": CONVERSATION}},
        match=[matchers.header_matcher({"Authorization": "TOKEN-A"})],
    )

    oauth_client.get_or_create_conversation({"contactId": CONTACT})
    oauth_client.get_or_create_conversation({"contactId": CONTACT})

    assert [call.request.url for call in mocked.calls].count(f"{BASE}/oauth2/token") == 1
    assert "wix-site-id" not in mocked.calls[1].request.headers
    assert "app-secret-value" not in repr(oauth_client.auth)


def test_oauth_token_is_renewed_before_it_expires(mocked, oauth_client, clock):
    token_response(mocked, "TOKEN-A", expires_in=3600)
    mocked.post(f"{BASE}/inbox/v2/conversations", json={"conversation": {"id": CONVERSATION}})
    oauth_client.get_or_create_conversation({"contactId": CONTACT})

    clock.now += 3600 - 200  # inside the safety margin
    oauth_client.get_or_create_conversation({"contactId": CONTACT})

    assert [call.request.url for call in mocked.calls].count(f"{BASE}/oauth2/token") == 2


def test_oauth_401_refreshes_the_token_once(mocked, oauth_client):
    token_response(mocked, "TOKEN-A")
    mocked.post(f"{BASE}/inbox/v2/conversations", status=401, json={"message": "expired"})
    mocked.post(f"{BASE}/inbox/v2/conversations", json={"conversation": {"id": CONVERSATION}})

    assert oauth_client.get_or_create_conversation({"contactId": CONTACT}) == CONVERSATION
    assert [call.request.url for call in mocked.calls].count(f"{BASE}/oauth2/token") == 2


def test_oauth_401_twice_is_an_auth_error(mocked, oauth_client):
    token_response(mocked, "TOKEN-A")
    mocked.post(f"{BASE}/inbox/v2/conversations", status=401, json={"message": "no"})

    with pytest.raises(WixAuthError):
        oauth_client.get_or_create_conversation({"contactId": CONTACT})
    assert len(mocked.calls) == 4  # token, 401, token, 401


def test_oauth_bad_credentials_are_an_auth_error(mocked, oauth_client):
    mocked.post(f"{BASE}/oauth2/token", status=401, json={"error": "invalid_client"})

    with pytest.raises(WixAuthError):
        oauth_client.get_or_create_conversation({"contactId": CONTACT})


@pytest.mark.parametrize("status", [400, 403, 404])
def test_a_refused_token_request_is_a_token_error_never_a_missing_conversation(
    mocked, oauth_client, status
):
    mocked.post(f"{BASE}/oauth2/token", status=status, json={"message": "no such app"})

    with pytest.raises(WixTokenError) as refused:
        oauth_client.get_or_create_conversation({"contactId": CONTACT})

    assert isinstance(refused.value, WixAuthError)
    assert str(refused.value).startswith("The OAuth access token request failed: ")
    assert refused.value.status == status


def test_a_token_endpoint_outage_stays_transient(mocked, oauth_client):
    mocked.post(f"{BASE}/oauth2/token", status=503)

    with pytest.raises(WixTransientError):
        oauth_client.get_or_create_conversation({"contactId": CONTACT})


def test_api_key_401_is_final(mocked, client):
    mocked.post(f"{BASE}/inbox/v2/conversations", status=401, json={"message": "no"})

    with pytest.raises(WixAuthError):
        client.get_or_create_conversation({"contactId": CONTACT})
    assert len(mocked.calls) == 1


def test_the_throttle_is_asked_before_every_request(mocked):
    asked = []
    client = WixClient(
        base_url=BASE, auth=ApiKeyAuth(KEY, site_id=SITE), throttle=lambda: asked.append(1)
    )
    mocked.post(f"{BASE}/contacts/v4/contacts/query", json={"contacts": []})
    mocked.post(f"{BASE}/contacts/v4/contacts", json={"contact": {"id": CONTACT}})

    client.find_contact_id("jane@example.com")
    client.create_contact({"name": {"first": "Jane"}})

    assert len(asked) == 2


def test_a_200_answer_without_the_expected_object_is_transient_for_lookups(mocked, client):
    mocked.post(f"{BASE}/inbox/v2/conversations", json={"unexpected": True})

    with pytest.raises(WixTransientError, match="has no conversation.id"):
        client.get_or_create_conversation({"contactId": CONTACT})


def test_a_200_send_without_a_message_id_is_ambiguous(mocked, client):
    mocked.post(f"{BASE}/inbox/v2/messages", json={"message": {}})

    with pytest.raises(WixAmbiguousError, match="without a message id"):
        client.send_message(CONVERSATION, FORM_MESSAGE)


def test_before_send_runs_after_the_throttle_and_can_call_the_send_off(mocked):
    order = []
    client = WixClient(
        base_url=BASE, auth=ApiKeyAuth(KEY, site_id=SITE), throttle=lambda: order.append("throttle")
    )

    def call_off():
        order.append("before_send")
        raise LookupError("lease lost")

    with pytest.raises(LookupError):
        client.send_message(CONVERSATION, FORM_MESSAGE, before_send=call_off)
    assert order == ["throttle", "before_send"]
    assert len(mocked.calls) == 0


# --- Media: upload URL and upload (media-upload.md §2.2, §3) ------------------------------------

UPLOAD_URL = "https://upload.wixmp.com/upload/TOKEN-123"
PDF_DESCRIPTOR = {
    "id": "0abec0_bbbb.pdf",
    "displayName": "cv.pdf",
    "url": "https://0abec0-xyz.filesusr.com/ugd/0abec0_bbbb.pdf",
    "sizeInBytes": "5",
    "mediaType": "DOCUMENT",
    "operationStatus": "READY",
}
IMAGE_DESCRIPTOR = {
    "id": "0abec0_aaaa~mv2.png",
    "displayName": "shot.png",
    "url": "https://static.wixstatic.com/media/0abec0_aaaa~mv2.png",
    "sizeInBytes": "15359",
    "mediaType": "IMAGE",
    "operationStatus": "READY",
    "media": {"image": {"image": {"id": "0abec0_aaaa~mv2.png", "width": 370, "height": 226}}},
}


def application_error(code, description):
    return {
        "message": description,
        "details": {"applicationError": {"code": code, "description": description, "data": {}}},
    }


def test_generate_upload_url_posts_the_name_and_type(mocked, client):
    mocked.post(
        f"{BASE}/communication-channels-media/v1/upload-url",
        json={"uploadUrl": UPLOAD_URL},
        match=[auth_headers()],
    )

    assert client.generate_upload_url("cv.pdf", "application/pdf") == UPLOAD_URL
    assert sent_json(mocked.calls[0]) == {"fileName": "cv.pdf", "mimeType": "application/pdf"}
    assert mocked.calls[0].request.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("answer", [{}, {"uploadUrl": ""}, {"uploadUrl": None}])
def test_an_upload_url_answer_without_a_url_is_transient(mocked, client, answer):
    mocked.post(f"{BASE}/communication-channels-media/v1/upload-url", json=answer)

    with pytest.raises(WixTransientError, match="upload"):
        client.generate_upload_url("cv.pdf", "application/pdf")


def test_an_upload_url_application_error_is_a_validation_error(mocked, client):
    mocked.post(
        f"{BASE}/communication-channels-media/v1/upload-url",
        status=400,
        json=application_error("UNSUPPORTED_FILE_FORMAT", "Unsupported file format"),
    )

    with pytest.raises(WixValidationError) as caught:
        client.generate_upload_url("run.exe", "application/x-msdownload")
    assert caught.value.code == "UNSUPPORTED_FILE_FORMAT"
    assert "/communication-channels-media/v1/upload-url" in str(caught.value)


def test_upload_puts_the_raw_bytes_without_credentials(mocked, client):
    mocked.put(UPLOAD_URL, json={"file": PDF_DESCRIPTOR})

    descriptor = client.upload_file(
        UPLOAD_URL, b"%PDF-", mime_type="application/pdf", file_name="cv.pdf"
    )

    assert descriptor == PDF_DESCRIPTOR
    request = mocked.calls[0].request
    assert request.method == "PUT"
    assert request.url == f"{UPLOAD_URL}?filename=cv.pdf"
    assert request.body == b"%PDF-"
    assert request.headers["Content-Type"] == "application/pdf"
    for credential_header in ("Authorization", "wix-site-id", "wix-account-id"):
        assert credential_header not in request.headers


def test_upload_streams_a_binary_file_object(mocked, client, tmp_path):
    mocked.put(UPLOAD_URL, json={"file": IMAGE_DESCRIPTOR})
    path = tmp_path / "shot.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)

    with path.open("rb") as content:
        descriptor = client.upload_file(
            UPLOAD_URL, content, mime_type="image/png", file_name="shot.png"
        )

    assert descriptor["media"]["image"]["image"] == {
        "id": "0abec0_aaaa~mv2.png",
        "width": 370,
        "height": 226,
    }
    assert descriptor["sizeInBytes"] == "15359"
    request = mocked.calls[0].request
    assert request.body == path.read_bytes()
    assert request.headers["Content-Length"] == "108"


@pytest.mark.parametrize(
    ("upload_url", "expected"),
    [
        # A name with ? & = # and spaces stays one query value.
        (UPLOAD_URL, f"{UPLOAD_URL}?filename=a%3Fb%26c%3Dd+%23e.pdf"),
        # A URL that has a query already gets the name with &.
        (f"{UPLOAD_URL}?sig=abc", f"{UPLOAD_URL}?sig=abc&filename=a%3Fb%26c%3Dd+%23e.pdf"),
    ],
)
def test_the_file_name_travels_in_the_query(mocked, client, upload_url, expected):
    mocked.put(UPLOAD_URL, json={"file": PDF_DESCRIPTOR})

    client.upload_file(upload_url, b"x", mime_type="application/pdf", file_name="a?b&c=d #e.pdf")

    request = mocked.calls[0].request
    assert request.url == expected
    assert request.params["filename"] == "a?b&c=d #e.pdf"


def test_non_ascii_file_names_are_percent_encoded(mocked, client):
    mocked.put(UPLOAD_URL, json={"file": PDF_DESCRIPTOR})

    client.upload_file(UPLOAD_URL, b"x", mime_type="application/pdf", file_name="Übersicht.pdf")

    assert mocked.calls[0].request.url == f"{UPLOAD_URL}?filename=%C3%9Cbersicht.pdf"


def test_uploads_go_through_the_throttle_and_are_heard(mocked):
    asked, heard = [], []
    client = WixClient(
        base_url=BASE,
        auth=ApiKeyAuth(KEY, site_id=SITE),
        throttle=lambda: asked.append(1),
        on_call=heard.append,
    )
    mocked.post(
        f"{BASE}/communication-channels-media/v1/upload-url", json={"uploadUrl": UPLOAD_URL}
    )
    mocked.put(UPLOAD_URL, json={"file": PDF_DESCRIPTOR}, headers={"x-wix-request-id": "req-9"})

    url = client.generate_upload_url("cv.pdf", "application/pdf")
    client.upload_file(url, b"x", mime_type="application/pdf", file_name="cv.pdf")

    assert len(asked) == 2
    assert [(call.endpoint, call.status) for call in heard] == [
        ("media.upload_url", 200),
        ("media.upload", 200),
    ]
    assert heard[1].request_id == "req-9"


def test_a_failed_upload_is_heard_as_a_timeout(mocked):
    heard = []
    client = WixClient(base_url=BASE, auth=ApiKeyAuth(KEY, site_id=SITE), on_call=heard.append)
    mocked.put(UPLOAD_URL, body=requests.ReadTimeout("slow"))

    with pytest.raises(WixTransientError):
        client.upload_file(UPLOAD_URL, b"x", mime_type="application/pdf", file_name="cv.pdf")
    assert [(call.endpoint, call.status) for call in heard] == [("media.upload", "timeout")]


def upload(client):
    return client.upload_file(UPLOAD_URL, b"x", mime_type="application/pdf", file_name="cv.pdf")


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, WixValidationError),
        (401, WixAuthError),
        (403, WixAuthError),
        (404, WixNotFoundError),
        (413, WixPermanentError),
        (415, WixPermanentError),
    ],
)
def test_a_4xx_on_upload_is_permanent(mocked, client, status, error_class):
    mocked.put(
        UPLOAD_URL,
        status=status,
        json={"message": "refused", "details": {}},
        headers={"x-wix-request-id": "req-4"},
    )

    with pytest.raises(error_class) as caught:
        upload(client)
    assert isinstance(caught.value, WixPermanentError)
    assert caught.value.status == status
    assert caught.value.request_id == "req-4"


def test_an_upload_error_never_shows_the_url_token(mocked, client):
    mocked.put(UPLOAD_URL, status=401, json={"message": "token expired", "details": {}})

    with pytest.raises(WixAuthError) as caught:
        upload(client)
    assert "TOKEN-123" not in str(caught.value)
    assert str(caught.value).startswith("PUT upload.wixmp.com/… (upload URL): token expired")


def test_a_400_on_upload_carries_wix_application_error(mocked, client):
    mocked.put(UPLOAD_URL, status=400, json=application_error("FILE_SIZE_OVER_LIMIT", "Too large"))

    with pytest.raises(WixValidationError) as caught:
        upload(client)
    assert caught.value.code == "FILE_SIZE_OVER_LIMIT"


def test_an_html_error_page_still_says_what_went_wrong(mocked, client):
    page = (
        "<!DOCTYPE html><html><head><title>Error</title><style>p {color: red}</style></head>"
        "<body><h1>400 Bad Request</h1><p>Private 3D models are not supported &amp; were"
        " refused.</p><script>track()</script></body></html>"
    )
    mocked.put(UPLOAD_URL, status=400, body=page, content_type="text/html; charset=utf-8")

    with pytest.raises(WixValidationError) as caught:
        upload(client)
    assert str(caught.value) == (
        "PUT upload.wixmp.com/… (upload URL): Bad Request: the answer is text/html, not Wix's"
        ' JSON: "400 Bad Request Private 3D models are not supported & were refused." · HTTP 400'
    )


def test_a_long_error_page_is_quoted_in_part(mocked, client):
    mocked.put(
        UPLOAD_URL, status=502, body="<p>" + "word " * 200 + "</p>", content_type="text/html"
    )

    with pytest.raises(WixTransientError) as caught:
        upload(client)
    quoted = str(caught.value).split('"')[1]
    assert len(quoted) == 200


def test_a_binary_error_body_is_named_not_quoted(mocked, client):
    mocked.put(UPLOAD_URL, status=400, body=b"\x00\x01", content_type="application/octet-stream")

    with pytest.raises(WixValidationError, match="the answer is application/octet-stream, not"):
        upload(client)


@pytest.mark.parametrize(("headers", "expected"), [({"Retry-After": "30"}, 30.0), ({}, None)])
def test_a_429_on_upload_is_transient_with_retry_after(mocked, client, headers, expected):
    mocked.put(UPLOAD_URL, status=429, body="", headers=headers)

    with pytest.raises(WixRateLimitError) as caught:
        upload(client)
    assert caught.value.retry_after == expected


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_on_upload_is_transient_never_ambiguous(mocked, client, status):
    mocked.put(UPLOAD_URL, status=status, json={"message": "", "details": {}})

    with pytest.raises(WixTransientError) as caught:
        upload(client)
    assert not isinstance(caught.value, WixAmbiguousError)
    assert caught.value.status == status


@pytest.mark.parametrize(
    "failure",
    [
        requests.ConnectTimeout("slow"),
        requests.ReadTimeout("slow"),
        requests.ConnectionError(ConnectionResetError(104, "Connection reset by peer")),
    ],
)
def test_an_upload_without_an_answer_is_transient_never_ambiguous(mocked, client, failure):
    mocked.put(UPLOAD_URL, body=failure)

    with pytest.raises(WixTransientError) as caught:
        upload(client)
    assert not isinstance(caught.value, WixAmbiguousError)
    assert "TOKEN-123" not in str(caught.value)


def test_upload_connection_refused_is_transient():
    client = WixClient(base_url=BASE, auth=ApiKeyAuth(KEY, site_id=SITE))

    with pytest.raises(WixTransientError, match="could not connect"):
        client.upload_file(
            "http://127.0.0.1:9/_upload/T", b"x", mime_type="text/plain", file_name="a.txt"
        )


@pytest.mark.parametrize(
    ("body", "match"),
    [("<html>gateway</html>", "not a JSON object"), ('{"id": "x"}', "has no file")],
)
def test_a_200_upload_answer_without_a_descriptor_is_transient(mocked, client, body, match):
    mocked.put(UPLOAD_URL, body=body)

    with pytest.raises(WixTransientError, match=match) as caught:
        upload(client)
    assert not isinstance(caught.value, WixAmbiguousError)
