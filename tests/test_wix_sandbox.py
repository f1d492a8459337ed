"""The Wix sandbox (`wix_sandbox`): a local emulator of the Wix REST endpoints Inbox Intake uses.

Checked against the contract in /work/shared/wix/sdk-contract.md: paths, exact 200s, always-present
response fields, Wix's error shapes and limits, auth, the call log, the inbox page, fault injection
and the OAuth token flow.
"""

import base64
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
import requests
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import F
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image as PilImage

from inbox_intake.wix import ApiKeyAuth, WixClient, WixValidationError
from tests.conftest import ROOT
from wix_sandbox import checks, contacts, faults, inbox, rate_limit
from wix_sandbox.conf import CREDENTIALS, sandbox_setting
from wix_sandbox.errors import ApiError
from wix_sandbox.models import (
    AdmittedCall,
    ApiCall,
    FaultConfig,
    SandboxAccessToken,
    SandboxContact,
    SandboxConversation,
    SandboxMediaFile,
    SandboxMessage,
)

MOUNT = "/wix-sandbox"
FAULT_PAGE = MOUNT + "/faults/"
ISO_MILLIS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


class AnyGuid:
    def __eq__(self, other):
        return isinstance(other, str) and bool(re.fullmatch(r"[0-9a-f-]{36}", other))

    def __repr__(self):
        return "<any GUID>"


ANY_GUID = AnyGuid()


# --- Helpers and fixtures ------------------------------------------------------------------------


class Api:
    """Calls the sandbox through Django's test client the way the official SDK calls Wix."""

    def __init__(self, client, headers: dict[str, str]):
        self.client = client
        self.headers = headers

    def post(self, path: str, body, **headers):
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        return self.client.post(
            MOUNT + path,
            data=data,
            content_type="application/json",
            headers={**self.headers, **headers},
        )

    def get(self, path: str, params: dict | None = None, **headers):
        return self.client.get(MOUNT + path, params or {}, headers={**self.headers, **headers})


def auth_headers() -> dict[str, str]:
    return {
        "Authorization": sandbox_setting("WIX_SANDBOX_API_KEY"),
        "wix-site-id": sandbox_setting("WIX_SANDBOX_SITE_ID"),
    }


def contact_info(email="jane@example.com", **info) -> dict:
    return {
        "name": {"first": "Jane", "last": "Doe"},
        "emails": {"items": [{"tag": "MAIN", "email": email, "primary": True}]},
        "phones": {"items": [{"tag": "MOBILE", "phone": "+15555550100"}]},
        **info,
    }


def form_message(*, fields=None, preview="New form submission from Jane Doe", **form) -> dict:
    return {
        "direction": "PARTICIPANT_TO_BUSINESS",
        "visibility": "BUSINESS",
        "content": {
            "previewText": preview,
            "form": {
                "title": "Contact form submission",
                "description": "Submitted via example.com",
                "fields": [{"name": "Name", "value": "Jane Doe"}] if fields is None else fields,
                **form,
            },
        },
    }


def numbered_fields(count: int) -> list[dict]:
    return [{"name": f"Field {i}", "value": f"value {i}"} for i in range(count)]


def violations(response) -> list[tuple[str, str]]:
    assert response.status_code == 400, response.content
    found = response.json()["details"]["validationError"]["fieldViolations"]
    return [(v["field"], v["violatedRule"]) for v in found]


def application_error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    return response.json()["details"]["applicationError"]


def encode_r(payload: dict) -> str:
    raw = base64.urlsafe_b64encode(json.dumps(payload).encode())
    return raw.rstrip(b"=").decode()


@pytest.fixture(autouse=True)
def no_fault_rules_from_the_environment(monkeypatch):
    monkeypatch.delenv(faults.ENV_VAR, raising=False)


@pytest.fixture
def api(client, db):
    return Api(client, auth_headers())


@pytest.fixture
def contact(api) -> dict:
    response = api.post("/contacts/v4/contacts", {"info": contact_info(), "allowDuplicates": False})
    assert response.status_code == 200, response.content
    return response.json()["contact"]


@pytest.fixture
def conversation(api, contact) -> dict:
    response = api.post("/inbox/v2/conversations", {"participantId": {"contactId": contact["id"]}})
    assert response.status_code == 200, response.content
    return response.json()["conversation"]


@pytest.fixture
def send(api, conversation):
    """send(message=None, **request) posts a message to the conversation; returns the response."""

    def post(message=None, **request):
        body = {
            "conversationId": conversation["id"],
            "message": form_message() if message is None else message,
            **request,
        }
        return api.post("/inbox/v2/messages", body)

    return post


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """Fault delays, recorded instead of slept."""
    recorded = []
    monkeypatch.setattr(faults.time, "sleep", recorded.append)
    return recorded


def run_concurrently(count: int, work) -> list:
    """`work()` in `count` threads released together; each result, or the exception it raised."""
    barrier, results = threading.Barrier(count), [None] * count

    def run(index):
        try:
            barrier.wait()
            results[index] = work()
        except Exception as error:
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


# --- Contacts ------------------------------------------------------------------------------------


def test_create_contact_answers_the_full_contact(api):
    response = api.post("/contacts/v4/contacts", {"info": contact_info(), "allowDuplicates": False})

    assert response.status_code == 200
    contact = response.json()["contact"]
    assert UUID4.fullmatch(contact["id"])
    assert contact["revision"] == 1
    assert contact["source"] == {
        "sourceType": "WIX_APP",
        "appId": sandbox_setting("WIX_SANDBOX_APP_ID"),
    }
    assert ISO_MILLIS.fullmatch(contact["createdDate"])
    assert contact["updatedDate"] == contact["createdDate"]
    assert contact["lastActivity"] == {
        "activityDate": contact["createdDate"],
        "activityType": "CONTACT_CREATED",
    }
    assert contact["primaryInfo"] == {"email": "jane@example.com", "phone": "+15555550100"}
    assert contact["info"]["name"] == {"first": "Jane", "last": "Doe"}
    [email] = contact["info"]["emails"]["items"]
    assert UUID4.fullmatch(email.pop("id"))
    assert email == {"tag": "MAIN", "email": "jane@example.com", "primary": True}
    assert contact["info"]["extendedFields"]["items"]["contacts.displayByFirstName"] == "Jane Doe"
    assert contact["primaryEmail"] == {
        "email": "jane@example.com",
        "subscriptionStatus": "NOT_SET",
        "deliverabilityStatus": "NOT_SET",
    }
    assert contact["primaryPhone"]["phone"] == "+15555550100"
    assert response["Content-Type"] == "application/json"


def test_create_contact_needs_a_name_an_email_or_a_phone(api):
    response = api.post("/contacts/v4/contacts", {"info": {"company": "Acme"}})

    assert application_error(response, 400)["code"] == "INSUFFICIENT_CONTACT_DATA"
    assert SandboxContact.objects.count() == 0


def test_create_contact_with_a_known_email_answers_409_with_the_existing_contact(api, contact):
    response = api.post(
        "/contacts/v4/contacts",
        {"info": contact_info(email="JANE@Example.com"), "allowDuplicates": False},
    )

    assert response.status_code == 409
    assert response.json() == {
        "message": "Contact already exists",
        "details": {
            "applicationError": {
                "code": "DUPLICATE_CONTACT_EXISTS",
                "description": "Contact with email JANE@Example.com already exists",
                "data": {"duplicateContactId": contact["id"], "duplicateEmail": "JANE@Example.com"},
            }
        },
    }
    assert SandboxContact.objects.count() == 1


def test_duplicate_check_covers_every_email_of_existing_contacts(api):
    info = contact_info(email="first@example.com")
    info["emails"]["items"].append({"tag": "WORK", "email": "second@example.com"})
    existing = api.post("/contacts/v4/contacts", {"info": info}).json()["contact"]

    response = api.post("/contacts/v4/contacts", {"info": contact_info(email="second@example.com")})

    assert application_error(response, 409)["data"]["duplicateContactId"] == existing["id"]


def test_allow_duplicates_creates_a_second_contact(api, contact):
    response = api.post("/contacts/v4/contacts", {"info": contact_info(), "allowDuplicates": True})

    assert response.status_code == 200
    assert response.json()["contact"]["id"] != contact["id"]


def test_duplicate_phone_counts_only_when_no_email_is_given(api):
    phone_only = {"phones": {"items": [{"phone": "+15555550199"}]}}
    first = api.post("/contacts/v4/contacts", {"info": phone_only}).json()["contact"]

    response = api.post("/contacts/v4/contacts", {"info": phone_only})

    assert application_error(response, 409)["data"] == {
        "duplicateContactId": first["id"],
        "duplicatePhone": "+15555550199",
    }


@pytest.mark.django_db(transaction=True)
def test_concurrent_creations_with_one_email_make_one_contact():
    payload = {"info": contact_info(email="race@example.com"), "allowDuplicates": False}

    results = run_concurrently(6, lambda: contacts.create_contact(payload))

    created = [r for r in results if isinstance(r, dict)]
    rejected = [r for r in results if isinstance(r, ApiError)]
    assert len(created) == 1 and len(rejected) == 5, results
    winner = created[0]["contact"]["id"]
    assert {
        r.body["details"]["applicationError"]["data"]["duplicateContactId"] for r in rejected
    } == {winner}
    assert SandboxContact.objects.count() == 1


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        (contact_info(email="a" * 308 + "@example.com"), None),
        (contact_info(email="a" * 309 + "@example.com"), "info.emails.items[0].email"),
        (contact_info(email=""), "info.emails.items[0].email"),
        (contact_info(name={"first": "J" * 1000}), None),
        (contact_info(name={"first": "J" * 1001}), "info.name.first"),
        (contact_info(name={"last": "D" * 1001}), "info.name.last"),
        (contact_info(phones={"items": [{"phone": "1" * 50}]}), None),
        (contact_info(phones={"items": [{"phone": "1" * 51}]}), "info.phones.items[0].phone"),
        (contact_info(phones={"items": [{"phone": ""}]}), "info.phones.items[0].phone"),
        (
            contact_info(emails={"items": [{"email": f"p{i}@example.com"} for i in range(50)]}),
            None,
        ),
        (
            contact_info(emails={"items": [{"email": f"p{i}@example.com"} for i in range(51)]}),
            "info.emails.items",
        ),
        (
            contact_info(phones={"items": [{"phone": f"+1555555{i:04}"} for i in range(51)]}),
            "info.phones.items",
        ),
    ],
)
def test_contact_limits(api, info, expected):
    response = api.post("/contacts/v4/contacts", {"info": info, "allowDuplicates": True})

    if expected is None:
        assert response.status_code == 200, response.content
    else:
        assert expected in [field for field, _rule in violations(response)]


def create_contacts_directly(*emails: str) -> list[str]:
    return [
        contacts.create_contact({"info": contact_info(email=email)})["contact"]["id"]
        for email in emails
    ]


@pytest.mark.parametrize(
    "contact_filter",
    [
        {"info.emails.email": {"$eq": "JANE@example.COM"}},
        {"info.emails.email": "jane@EXAMPLE.com"},
        {"primaryInfo.email": "Jane@Example.com"},
        {"info.emails.email": {"$in": ["nobody@example.com", "JANE@example.com"]}},
        {
            "$and": [
                {"info.emails.email": "jane@example.com"},
                {"primaryInfo.email": {"$eq": "jane@example.com"}},
            ]
        },
    ],
)
def test_query_contacts_by_email_ignores_case(api, contact, contact_filter):
    create_contacts_directly("other@example.com")

    response = api.post(
        "/contacts/v4/contacts/query",
        {"query": {"filter": contact_filter, "paging": {"limit": 1}}},
    )

    assert response.status_code == 200
    assert response.json() == {
        "contacts": [contact],
        "pagingMetadata": {"count": 1, "offset": 0, "total": 1, "tooManyToCount": False},
    }


def test_primary_email_filter_skips_secondary_emails(api):
    info = contact_info(email="main@example.com")
    info["emails"]["items"].append({"tag": "WORK", "email": "work@example.com"})
    contact_id = api.post("/contacts/v4/contacts", {"info": info}).json()["contact"]["id"]

    def found(contact_filter):
        response = api.post("/contacts/v4/contacts/query", {"query": {"filter": contact_filter}})
        return [c["id"] for c in response.json()["contacts"]]

    assert found({"info.emails.email": "work@example.com"}) == [contact_id]
    assert found({"primaryInfo.email": "work@example.com"}) == []
    assert found({"primaryInfo.email": "main@example.com"}) == [contact_id]


def test_query_contacts_by_id_and_with_an_empty_filter(api, contact):
    [other_id] = create_contacts_directly("other@example.com")

    by_id = api.post("/contacts/v4/contacts/query", {"query": {"filter": {"id": other_id}}}).json()
    everyone = api.post(
        "/contacts/v4/contacts/query",
        {"query": {"filter": {}, "sort": [{"fieldName": "createdDate", "order": "ASC"}]}},
    ).json()
    unknown = api.post(
        "/contacts/v4/contacts/query", {"query": {"filter": {"id": str(uuid.uuid4())}}}
    ).json()

    assert [c["id"] for c in by_id["contacts"]] == [other_id]
    assert [c["id"] for c in everyone["contacts"]] == [contact["id"], other_id]
    assert everyone["pagingMetadata"]["total"] == 2
    assert unknown["contacts"] == [] and unknown["pagingMetadata"]["total"] == 0


def test_query_contacts_pages_with_offset_and_defaults_to_50(api):
    ids = create_contacts_directly(*(f"p{i}@example.com" for i in range(52)))
    ascending = [{"fieldName": "createdDate", "order": "ASC"}]

    default_page = api.post("/contacts/v4/contacts/query", {"query": {"sort": ascending}}).json()
    last_page = api.post(
        "/contacts/v4/contacts/query",
        {"query": {"sort": ascending, "paging": {"limit": 50, "offset": 50}}},
    ).json()

    assert [c["id"] for c in default_page["contacts"]] == ids[:50]
    assert [c["id"] for c in last_page["contacts"]] == ids[50:]
    assert last_page["pagingMetadata"] == {
        "count": 2,
        "offset": 50,
        "total": 52,
        "tooManyToCount": False,
    }


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"filter": {"info.company": "Acme"}}, "UNSUPPORTED_FILTER_FIELD_UNKNOWN"),
        ({"filter": {"info.emails.email": {"$regex": "x"}}}, "UNSUPPORTED_FILTER_OPERATOR"),
        ({"filter": {"info.emails.email": {"$in": "x"}}}, "UNSUPPORTED_FILTER_VALUE_TYPE"),
        ({"paging": {"limit": 1001}}, "ILLEGAL_LIMIT"),
        ({"sort": [{"fieldName": "info.company"}]}, "UNSUPPORTED_SORT_FIELD"),
    ],
)
def test_query_contacts_rejects_what_it_cannot_do(api, query, code):
    response = api.post("/contacts/v4/contacts/query", {"query": query})

    assert application_error(response, 400)["code"] == code


def test_query_contacts_accepts_the_largest_limit(api, contact):
    response = api.post("/contacts/v4/contacts/query", {"query": {"paging": {"limit": 1000}}})

    assert response.status_code == 200
    assert response.json()["pagingMetadata"]["count"] == 1


def test_get_contact_ignores_the_repeated_id_in_the_query(api, contact):
    response = api.get(
        f"/contacts/v4/contacts/{contact['id']}", {"id": contact["id"], "fieldsets": "BASIC"}
    )

    assert response.status_code == 200
    assert response.json() == {"contact": contact, "responseType": "REGULAR"}


def test_get_unknown_contact_is_404(api):
    response = api.get(f"/contacts/v4/contacts/{uuid.uuid4()}")

    assert application_error(response, 404)["code"] == "CONTACT_NOT_FOUND"


# --- Conversations -------------------------------------------------------------------------------


def test_get_or_create_conversation_returns_one_conversation_per_contact(api, contact):
    body = {"participantId": {"contactId": contact["id"]}}

    first = api.post("/inbox/v2/conversations", body)
    second = api.post("/inbox/v2/conversations", body)

    assert (first.status_code, second.status_code) == (200, 200)
    conversation = first.json()["conversation"]
    assert first.json()["newConversation"] is True
    assert second.json() == {"conversation": conversation, "newConversation": False}
    assert UUID4.fullmatch(conversation["id"])
    assert conversation == {
        "id": conversation["id"],
        "participant": {"contactId": contact["id"]},
        "channels": ["CHAT"],
        "businessDisplayData": {
            "name": sandbox_setting("WIX_SANDBOX_BUSINESS_NAME"),
            "imageUrl": inbox.BUSINESS_IMAGE_URL,
        },
        "participantDisplayData": {"name": "Jane Doe"},
    }
    assert SandboxConversation.objects.count() == 1


def test_member_and_visitor_participants_get_their_own_conversations(api):
    member, visitor = str(uuid.uuid4()), str(uuid.uuid4())

    by_member = api.post("/inbox/v2/conversations", {"participantId": {"memberId": member}})
    by_visitor = api.post(
        "/inbox/v2/conversations", {"participantId": {"anonymousVisitorId": visitor}}
    )

    member_participant = by_member.json()["conversation"]["participant"]
    visitor_participant = by_visitor.json()["conversation"]["participant"]
    assert member_participant == {"memberId": member, "contactId": ANY_GUID}
    assert visitor_participant == {"anonymousVisitorId": visitor, "contactId": ANY_GUID}
    assert by_member.json()["conversation"]["participantDisplayData"] == {"name": "Site member"}
    assert by_member.json()["conversation"]["id"] != by_visitor.json()["conversation"]["id"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_get_or_create_makes_one_conversation():
    contact_id = create_contacts_directly("race@example.com")[0]
    payload = {"participantId": {"contactId": contact_id}}

    results = run_concurrently(8, lambda: inbox.get_or_create_conversation(payload))

    assert all(isinstance(r, dict) for r in results), results
    assert len({r["conversation"]["id"] for r in results}) == 1
    assert sorted(r["newConversation"] for r in results) == [False] * 7 + [True]
    assert SandboxConversation.objects.count() == 1


@pytest.mark.parametrize(
    ("participant", "expected"),
    [
        ({}, [("participantId", "ONE_OF_ALIGNMENT")]),
        (
            {"contactId": str(uuid.uuid4()), "memberId": str(uuid.uuid4())},
            [("participantId", "ONE_OF_ALIGNMENT")],
        ),
        ({"contactId": "not-a-guid"}, [("participantId.contactId", "FORMAT")]),
        ({"memberId": ""}, [("participantId.memberId", "FORMAT")]),
    ],
)
def test_get_or_create_needs_exactly_one_participant_id(api, participant, expected):
    response = api.post("/inbox/v2/conversations", {"participantId": participant})

    assert violations(response) == expected


def test_get_or_create_without_participant_is_a_validation_error(api):
    response = api.post("/inbox/v2/conversations", {})

    assert violations(response) == [("participantId", "REQUIRED_FIELD")]


def test_get_or_create_for_an_unknown_contact_is_404(api):
    response = api.post(
        "/inbox/v2/conversations", {"participantId": {"contactId": str(uuid.uuid4())}}
    )

    assert application_error(response, 404)["code"] == "CONTACT_NOT_FOUND"
    assert SandboxConversation.objects.count() == 0


def test_get_conversation_ignores_the_repeated_id_in_the_query(api, conversation):
    response = api.get(
        f"/inbox/v2/conversations/{conversation['id']}", {"conversationId": conversation["id"]}
    )

    assert response.status_code == 200
    assert response.json() == {"conversation": conversation}


def test_get_unknown_conversation_is_404(api):
    response = api.get(f"/inbox/v2/conversations/{uuid.uuid4()}")

    assert response.status_code == 404
    assert response.json() == {
        "message": "Conversation not found",
        "details": {
            "applicationError": {
                "code": "CONVERSATION_NOT_FOUND",
                "description": "Conversation not found",
                "data": {},
            }
        },
    }


def test_get_conversation_with_a_malformed_id_is_a_validation_error(api):
    response = api.get("/inbox/v2/conversations/not-a-guid")

    assert violations(response) == [("conversationId", "FORMAT")]


# --- Send Message --------------------------------------------------------------------------------


def test_send_form_message_answers_the_full_message(send, contact):
    response = send(sendNotifications=True, sendAs="PARTICIPANT")

    assert response.status_code == 200
    message = response.json()["message"]
    assert message["id"] == message["sequence"]
    assert message["id"].isdigit()
    assert ISO_MILLIS.fullmatch(message["createdDate"])
    sent = form_message()
    assert {k: v for k, v in message.items() if k not in ("id", "sequence", "createdDate")} == {
        "content": {
            "previewText": sent["content"]["previewText"],
            "contentType": "FORM",
            "form": {**sent["content"]["form"], "media": []},
        },
        "sender": {"contactId": contact["id"]},
        "badges": [],
        "targetChannels": [],
        "sourceChannel": "UNKNOWN_CHANNEL_TYPE",
        "appId": sandbox_setting("WIX_SANDBOX_APP_ID"),
        "visibility": "BUSINESS",
        "direction": "PARTICIPANT_TO_BUSINESS",
        "targetChannelIds": [],
        "silent": False,
    }


def test_send_as_caller_is_sent_by_the_app(send):
    message = send(sendAs="CALLER").json()["message"]
    default = send().json()["message"]

    assert (
        message["sender"] == default["sender"] == {"appId": sandbox_setting("WIX_SANDBOX_APP_ID")}
    )


def test_sent_form_fields_always_have_a_name_and_a_value(send):
    response = send(form_message(fields=[{"name": "Only a name"}, {"value": "Only a value"}]))

    assert response.json()["message"]["content"]["form"]["fields"] == [
        {"name": "Only a name", "value": ""},
        {"name": "", "value": "Only a value"},
    ]


def test_sent_message_echoes_channels_and_silence(send):
    message = {
        **form_message(),
        "silent": True,
        "sourceChannel": "CHAT",
        "targetChannels": ["CHAT"],
    }

    answered = send(message).json()["message"]

    assert (answered["silent"], answered["sourceChannel"], answered["targetChannels"]) == (
        True,
        "CHAT",
        ["CHAT"],
    )


def test_messages_in_the_same_microsecond_get_increasing_sequences(send, monkeypatch):
    instant = datetime(2025, 1, 15, 10, 20, 30, 123456, tzinfo=UTC)
    monkeypatch.setattr(inbox.timezone, "now", lambda: instant)

    first, second = send().json()["message"], send().json()["message"]

    assert first["sequence"] == "1736936430123456"
    assert second["sequence"] == "1736936430123457"
    assert first["createdDate"] == second["createdDate"] == "2025-01-15T10:20:30.123Z"


@pytest.mark.django_db(transaction=True)
def test_concurrent_messages_get_distinct_sequences():
    contact_id = create_contacts_directly("busy@example.com")[0]
    conversation_id = inbox.get_or_create_conversation(
        {"participantId": {"contactId": contact_id}}
    )["conversation"]["id"]
    payload = {"conversationId": conversation_id, "message": form_message()}

    results = run_concurrently(8, lambda: inbox.send_message(payload))

    assert all(isinstance(r, dict) for r in results), results
    assert len({r["message"]["sequence"] for r in results}) == 8
    assert SandboxMessage.objects.count() == 8


def test_send_to_unknown_conversation_is_404(api):
    response = api.post(
        "/inbox/v2/messages", {"conversationId": str(uuid.uuid4()), "message": form_message()}
    )

    assert application_error(response, 404)["code"] == "CONVERSATION_NOT_FOUND"


def long_field(index: int, name_length: int = 4, value_length: int = 4) -> list[dict]:
    """Four fields, the one at `index` with a name and a value of the given lengths."""
    fields = numbered_fields(4)
    fields[index] = {"name": "n" * name_length, "value": "v" * value_length}
    return fields


MEDIA_ITEM = {"image": {"url": "https://static.wixstatic.com/media/picture.png"}}


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        pytest.param(form_message(fields=numbered_fields(15)), None, id="15 fields"),
        pytest.param(
            form_message(fields=numbered_fields(16)),
            ("message.content.form.fields", "MAX_SIZE"),
            id="16 fields",
        ),
        pytest.param(
            form_message(fields=[]), ("message.content.form.fields", "MIN_SIZE"), id="no fields"
        ),
        pytest.param(
            form_message(fields=long_field(3, name_length=8192, value_length=8192)),
            None,
            id="name and value of 8192",
        ),
        pytest.param(
            form_message(fields=long_field(3, value_length=8193)),
            ("message.content.form.fields[3].value", "MAX_LENGTH"),
            id="value of 8193",
        ),
        pytest.param(
            form_message(fields=long_field(0, name_length=8193)),
            ("message.content.form.fields[0].name", "MAX_LENGTH"),
            id="name of 8193",
        ),
        pytest.param(form_message(title="t" * 256), None, id="title of 256"),
        pytest.param(
            form_message(title="t" * 257),
            ("message.content.form.title", "MAX_LENGTH"),
            id="title of 257",
        ),
        pytest.param(
            form_message(title=""), ("message.content.form.title", "MIN_LENGTH"), id="empty title"
        ),
        pytest.param(form_message(description="d" * 16384), None, id="description of 16384"),
        pytest.param(
            form_message(description="d" * 16385),
            ("message.content.form.description", "MAX_LENGTH"),
            id="description of 16385",
        ),
        pytest.param(
            form_message(description=""),
            ("message.content.form.description", "MIN_LENGTH"),
            id="empty description",
        ),
        pytest.param(form_message(preview="p" * 256), None, id="previewText of 256"),
        pytest.param(
            form_message(preview="p" * 257),
            ("message.content.previewText", "MAX_LENGTH"),
            id="previewText of 257",
        ),
        pytest.param(form_message(media=[MEDIA_ITEM] * 15), None, id="15 media items"),
        pytest.param(
            form_message(media=[MEDIA_ITEM] * 16),
            ("message.content.form.media", "MAX_SIZE"),
            id="16 media items",
        ),
    ],
)
def test_form_limits_at_their_edges(send, message, expected):
    response = send(message)

    if expected is None:
        assert response.status_code == 200, response.content
    else:
        assert violations(response) == [expected]
        assert SandboxMessage.objects.count() == 0


def test_form_without_description_is_valid(send):
    message = form_message()
    del message["content"]["form"]["description"]

    response = send(message)

    assert response.status_code == 200
    assert "description" not in response.json()["message"]["content"]["form"]


def test_every_broken_limit_is_reported_at_once(send):
    fields = numbered_fields(16)
    fields[3]["value"] = "v" * 8193

    response = send(form_message(fields=fields, title="t" * 257, preview="p" * 257))

    assert violations(response) == [
        ("message.content.previewText", "MAX_LENGTH"),
        ("message.content.form.title", "MAX_LENGTH"),
        ("message.content.form.fields", "MAX_SIZE"),
        ("message.content.form.fields[3].value", "MAX_LENGTH"),
    ]
    title_violation = response.json()["details"]["validationError"]["fieldViolations"][1]
    assert title_violation == {
        "field": "message.content.form.title",
        "description": "must not be longer than 256",
        "violatedRule": "MAX_LENGTH",
        "ruleName": "MAX_LENGTH",
        "data": {"threshold": 256},
    }
    assert response.json()["message"].startswith("INVALID_ARGUMENT: ")


def message_with(content=None, **message) -> dict:
    return {
        "direction": "BUSINESS_TO_PARTICIPANT",
        "visibility": "BUSINESS",
        "content": content,
        **message,
    }


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        pytest.param(message_with({"basic": {"items": [{"text": "Hi"}]}}), None, id="basic"),
        pytest.param(
            message_with({"basic": {"items": []}}),
            ("message.content.basic.items", "MIN_SIZE"),
            id="basic without items",
        ),
        pytest.param(
            message_with({"basic": {"items": [{"text": "x" * 16384}]}}),
            None,
            id="basic text of 16384",
        ),
        pytest.param(
            message_with({"basic": {"items": [{"text": "x" * 16385}]}}),
            ("message.content.basic.items[0].text", "MAX_LENGTH"),
            id="basic text of 16385",
        ),
        pytest.param(
            message_with({"basic": {"items": [{"text": ""}]}}),
            ("message.content.basic.items[0].text", "MIN_LENGTH"),
            id="empty basic text",
        ),
        pytest.param(
            message_with({"minimal": {"text": "x" * 16384}}), None, id="minimal text of 16384"
        ),
        pytest.param(
            message_with({"minimal": {"text": ""}}),
            ("message.content.minimal.text", "MIN_LENGTH"),
            id="empty minimal text",
        ),
        pytest.param(
            message_with({"minimal": {"text": "x" * 16385}}),
            ("message.content.minimal.text", "MAX_LENGTH"),
            id="minimal text of 16385",
        ),
        pytest.param(message_with({}), ("message.content", "ONE_OF_ALIGNMENT"), id="no payload"),
        pytest.param(
            message_with({"minimal": {"text": "a"}, "basic": {"items": [{"text": "b"}]}}),
            ("message.content", "ONE_OF_ALIGNMENT"),
            id="two payloads",
        ),
        pytest.param(
            message_with({"system": {"text": "a"}}),
            ("message.content.system", "FIELD_NOT_ALLOWED"),
            id="system payload",
        ),
        pytest.param(message_with(None), ("message.content", "REQUIRED_FIELD"), id="no content"),
        pytest.param(
            message_with({"minimal": {"text": "a"}}, direction=None),
            ("message.direction", "REQUIRED_FIELD"),
            id="no direction",
        ),
        pytest.param(
            message_with({"minimal": {"text": "a"}}, visibility="EVERYONE"),
            ("message.visibility", "INVALID_ENUM_VALUE"),
            id="unknown visibility",
        ),
    ],
)
def test_other_message_kinds_and_required_fields(send, message, expected):
    response = send({k: v for k, v in message.items() if v is not None})

    if expected is None:
        assert response.status_code == 200, response.content
        kind = next(iter(message["content"]))
        assert response.json()["message"]["content"]["contentType"] == kind.upper()
    else:
        assert violations(response) == [expected]


def test_send_without_message_or_conversation_is_a_validation_error(api):
    response = api.post("/inbox/v2/messages", {})

    assert violations(response) == [
        ("conversationId", "REQUIRED_FIELD"),
        ("message", "REQUIRED_FIELD"),
    ]


# --- List Messages -------------------------------------------------------------------------------


@pytest.fixture
def five_messages(send) -> list[dict]:
    """Five messages, oldest first; the second and fourth visible to the participant too."""
    sent = []
    for number in range(5):
        message = form_message(title=f"Message {number}")
        if number in (1, 3):
            message["visibility"] = "BUSINESS_AND_PARTICIPANT"
        response = send(message)
        assert response.status_code == 200, response.content
        sent.append(response.json()["message"])
    return sent


def titles(messages: list[dict]) -> list[str]:
    return [m["content"]["form"]["title"] for m in messages]


def test_list_messages_plain_query_is_newest_first(api, conversation, five_messages):
    response = api.get(
        "/inbox/v2/messages", {"conversationId": conversation["id"], "visibility": "BUSINESS"}
    )

    assert response.status_code == 200
    assert response.json() == {
        "messages": five_messages[::-1],
        "pagingMetadata": {
            "count": 5,
            "cursors": {"next": None, "prev": None},
            "tooManyToCount": False,
        },
    }


@pytest.mark.parametrize("form", ["plain", ".r"])
def test_list_messages_pages_with_cursors(api, conversation, five_messages, form):
    def page(payload: dict) -> dict:
        if form == ".r":
            params = {".r": encode_r(payload)}
        else:
            params = {"conversationId": payload["conversationId"], "visibility": "BUSINESS"}
            params |= {f"paging.{k}": v for k, v in payload.get("paging", {}).items()}
            params |= {f"sorting.{k}": v for k, v in payload.get("sorting", {}).items()}
        response = api.get("/inbox/v2/messages", params)
        assert response.status_code == 200, response.content
        return response.json()

    first_payload = {
        "conversationId": conversation["id"],
        "visibility": "BUSINESS",
        "paging": {"limit": 2},
        "sorting": {"fieldName": "sequence", "order": "DESC"},
    }
    pages = [page(first_payload)]
    while cursor := pages[-1]["pagingMetadata"]["cursors"]["next"]:
        pages.append(page({**first_payload, "paging": {"limit": 2, "cursor": cursor}}))

    assert [titles(p["messages"]) for p in pages] == [
        ["Message 4", "Message 3"],
        ["Message 2", "Message 1"],
        ["Message 0"],
    ]
    assert [p["pagingMetadata"]["count"] for p in pages] == [2, 2, 1]


def test_list_messages_ascending_and_participant_visible_only(api, conversation, five_messages):
    ascending = api.get(
        "/inbox/v2/messages",
        {
            ".r": encode_r(
                {
                    "conversationId": conversation["id"],
                    "visibility": "BUSINESS",
                    "sorting": {"fieldName": "sequence", "order": "ASC"},
                }
            )
        },
    ).json()
    shared = api.get(
        "/inbox/v2/messages",
        {"conversationId": conversation["id"], "visibility": "BUSINESS_AND_PARTICIPANT"},
    ).json()

    assert titles(ascending["messages"]) == [f"Message {n}" for n in range(5)]
    assert titles(shared["messages"]) == ["Message 3", "Message 1"]


def test_list_messages_defaults_to_30_a_page(api, conversation):
    for _ in range(31):
        inbox.send_message({"conversationId": conversation["id"], "message": form_message()})

    first = api.get(
        "/inbox/v2/messages", {"conversationId": conversation["id"], "visibility": "BUSINESS"}
    ).json()

    assert first["pagingMetadata"]["count"] == 30
    assert first["pagingMetadata"]["cursors"]["next"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"visibility": "BUSINESS"}, [("conversationId", "REQUIRED_FIELD")]),
        ({"conversationId": "{id}"}, [("visibility", "REQUIRED_FIELD")]),
        (
            {"conversationId": "{id}", "visibility": "BUSINESS", "paging.limit": "101"},
            [("paging.limit", "MAX")],
        ),
        (
            {"conversationId": "{id}", "visibility": "BUSINESS", "paging.cursor": "not-ours"},
            [("paging.cursor", "FORMAT")],
        ),
        ({".r": "%%%"}, [(".r", "FORMAT")]),
    ],
)
def test_list_messages_validation(api, conversation, params, expected):
    params = {k: v.replace("{id}", conversation["id"]) for k, v in params.items()}

    assert violations(api.get("/inbox/v2/messages", params)) == expected


def test_list_messages_accepts_the_largest_page(api, conversation, five_messages):
    response = api.get(
        "/inbox/v2/messages",
        {"conversationId": conversation["id"], "visibility": "BUSINESS", "paging.limit": "100"},
    )

    assert response.json()["pagingMetadata"]["count"] == 5


def test_list_messages_of_unknown_conversation_is_404(api):
    response = api.get(
        "/inbox/v2/messages", {"conversationId": str(uuid.uuid4()), "visibility": "BUSINESS"}
    )

    assert application_error(response, 404)["code"] == "CONVERSATION_NOT_FOUND"


# --- Auth ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"wix-site-id": sandbox_setting("WIX_SANDBOX_SITE_ID")}, id="missing key"),
        pytest.param(
            {"Authorization": "IST.wrong", "wix-site-id": sandbox_setting("WIX_SANDBOX_SITE_ID")},
            id="wrong key",
        ),
        pytest.param(
            {
                "Authorization": f"Bearer {sandbox_setting('WIX_SANDBOX_API_KEY')}",
                "wix-site-id": sandbox_setting("WIX_SANDBOX_SITE_ID"),
            },
            id="Bearer prefix",
        ),
    ],
)
def test_calls_without_the_raw_api_key_are_401(client, db, headers):
    response = Api(client, headers).get(f"/inbox/v2/conversations/{uuid.uuid4()}")

    assert response.status_code == 401
    body = response.json()
    assert body["message"] == "unauthorized"
    assert body["details"]["applicationError"]["code"] == "UNAUTHENTICATED"
    assert sandbox_setting("WIX_SANDBOX_API_KEY") not in response.content.decode()
    assert response["x-wix-request-id"]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"wix-site-id": str(uuid.uuid4())}, id="wrong site id"),
        pytest.param({"wix-site-id": ""}, id="no site id"),
        pytest.param({"wix-account-id": str(uuid.uuid4())}, id="both site and account id"),
    ],
)
def test_api_key_for_another_site_is_403(api, headers):
    response = api.get(f"/inbox/v2/conversations/{uuid.uuid4()}", **headers)

    assert application_error(response, 403)["code"] == "PERMISSION_DENIED"
    assert response.json()["message"] == "Permission denied"


def test_rejected_calls_change_nothing(client, db):
    response = Api(client, {"Authorization": "IST.wrong"}).post(
        "/contacts/v4/contacts", {"info": contact_info()}
    )

    assert response.status_code == 401
    assert SandboxContact.objects.count() == 0


def test_the_credentials_once_committed_open_nothing(client, db):
    api_call = Api(
        client,
        {
            "Authorization": "IST.sandbox-api-key",
            "wix-site-id": "5a9d1b7e-0c1d-4c39-9f57-0a7d5e3b2c11",
        },
    ).post("/contacts/v4/contacts", {"info": contact_info()})
    token = Api(client, {}).post(
        "/oauth2/token",
        {
            "grant_type": "client_credentials",
            "client_id": "0f3c8a52-7d4e-4b1a-9c6f-2e8d5a1b3c47",
            "client_secret": "sandbox-app-secret",
            "instance_id": "d2b6f1e4-3a8c-4e5f-8b7d-9c0a1e2f3b4d",
        },
    )

    assert application_error(api_call, 401)["code"] == "UNAUTHENTICATED"
    assert (token.status_code, token.json()["error"]) == (401, "invalid_client")
    assert SandboxContact.objects.count() == 0
    assert SandboxAccessToken.objects.count() == 0


def test_credentials_are_derived_from_the_secret_key(settings):
    settings.SECRET_KEY = "one-site-" + "k" * 50
    first = {name: sandbox_setting(name) for name in CREDENTIALS}
    settings.SECRET_KEY = "another-site-" + "k" * 50
    second = {name: sandbox_setting(name) for name in CREDENTIALS}

    assert all(first[name] != second[name] for name in CREDENTIALS), (first, second)


# Run in a fresh process: which apps and URLs exist is decided when Django starts.
PRODUCTION_PROBE = """
import json

import django

django.setup()
from django.conf import settings
from django.test import Client

client = Client(HTTP_HOST="127.0.0.1")
statuses = {
    f"{method} {path}": getattr(client, method.lower())(path).status_code
    for method, path in [
        ("POST", "/wix-sandbox/contacts/v4/contacts"),
        ("POST", "/wix-sandbox/oauth2/token"),
        ("GET", "/wix-sandbox/"),
        ("GET", "/wix-sandbox/faults/"),
    ]
}
print(json.dumps({"installed": "wix_sandbox" in settings.INSTALLED_APPS, "statuses": statuses}))
"""


def test_with_real_credentials_the_sandbox_urls_do_not_exist(tmp_path):
    environment = os.environ | {
        "DJANGO_SETTINGS_MODULE": "site_project.settings",
        "DEBUG": "false",
        "SECRET_KEY": "a-production-secret-" + "s" * 40,
        "WIX_API_KEY": "IST.real-looking-" + "r" * 40,
        "WIX_SITE_ID": str(uuid.uuid4()),
        "INBOX_INTAKE_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    del environment["INBOX_INTAKE_WIX_SANDBOX"]  # set by tests/settings.py for this process

    done = subprocess.run(
        [sys.executable, "-c", PRODUCTION_PROBE],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {
        "installed": False,
        "statuses": {
            "POST /wix-sandbox/contacts/v4/contacts": 404,
            "POST /wix-sandbox/oauth2/token": 404,
            "GET /wix-sandbox/": 404,
            "GET /wix-sandbox/faults/": 404,
        },
    }


# --- Call log, request ids, malformed requests ---------------------------------------------------


def test_every_api_call_is_recorded_with_what_was_sent_and_answered(api, client):
    unknown_id = str(uuid.uuid4())
    created = api.post("/contacts/v4/contacts", {"info": contact_info()})
    missing = api.get(f"/inbox/v2/conversations/{unknown_id}", **{"x-wix-consistent": "T1"})
    rejected = Api(client, {"Authorization": "IST.wrong"}).get("/inbox/v2/messages", {"a": "1"})
    client.get(MOUNT + "/")  # the inbox page is not an API call

    calls = list(ApiCall.objects.order_by("pk"))
    assert [(c.method, c.path, c.endpoint, c.status) for c in calls] == [
        ("POST", "/contacts/v4/contacts", "contacts.create", 200),
        ("GET", f"/inbox/v2/conversations/{unknown_id}", "conversations.get", 404),
        ("GET", "/inbox/v2/messages", "messages.list", 401),
    ]
    own_key = sandbox_setting("WIX_SANDBOX_API_KEY").encode()
    assert calls[0].headers == {
        # Even the sandbox's own key is kept only as a fingerprint: staff read this log.
        "authorization": "sha256:" + hashlib.sha256(own_key).hexdigest()[:16],
        "wix-site-id": sandbox_setting("WIX_SANDBOX_SITE_ID"),
        "content-type": "application/json",
    }
    assert json.loads(calls[0].body) == {"info": contact_info()}
    assert calls[1].headers["x-wix-consistent"] == "T1"
    assert "content-type" not in calls[1].headers
    assert calls[2].query_string == "a=1"
    wrong_key_fingerprint = "sha256:" + hashlib.sha256(b"IST.wrong").hexdigest()[:16]
    assert calls[2].headers == {"authorization": wrong_key_fingerprint}
    assert [c.request_id for c in calls] == [
        r["x-wix-request-id"] for r in (created, missing, rejected)
    ]
    assert len({c.request_id for c in calls}) == 3


def test_unknown_paths_and_methods_are_recorded_too(api, client):
    unknown = api.post("/crm/inbox/v2/conversations", {"participantId": {}})
    wrong_method = api.get("/contacts/v4/contacts")

    assert unknown.status_code == 404 and unknown["x-wix-request-id"]
    assert wrong_method.status_code == 405 and wrong_method["Allow"] == "POST"
    assert list(ApiCall.objects.order_by("pk").values_list("path", "endpoint", "status")) == [
        ("/crm/inbox/v2/conversations", "", 404),
        ("/contacts/v4/contacts", "", 405),
    ]


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", b"\xff\xfe"])
def test_malformed_json_is_400(api, body):
    response = api.post("/inbox/v2/conversations", body)

    assert application_error(response, 400)["code"] == "INVALID_ARGUMENT"
    assert ApiCall.objects.get().status == 400


def test_the_call_log_keeps_the_newest_calls(api, settings):
    settings.WIX_SANDBOX_API_CALL_LOG_SIZE = 20

    request_ids = [api.get("/nowhere")["x-wix-request-id"] for _ in range(50)]

    kept = list(ApiCall.objects.order_by("pk").values_list("request_id", flat=True))
    # Pruned on every other call (a tenth of the size): at most one call over.
    assert len(kept) in (20, 21)
    assert kept == request_ids[-len(kept) :]


def test_pruning_the_call_log_is_one_delete_by_id(api, settings):
    settings.WIX_SANDBOX_API_CALL_LOG_SIZE = 10

    with CaptureQueriesContext(connection) as queries:
        api.get("/nowhere")

    newest = ApiCall.objects.latest("pk").pk
    statements = [query["sql"] for query in queries if "wix_sandbox_apicall" in query["sql"]]
    assert len(statements) == 2  # the INSERT, then the DELETE
    assert statements[1].startswith("DELETE") and f"<= {newest - 10}" in statements[1]


# --- Inbox page ----------------------------------------------------------------------------------


def test_inbox_page_renders_form_messages_escaped(admin_client, send):
    fields = [
        {"name": "Name", "value": "Jane Doe"},
        {"name": "Message", "value": "<script>alert('x')</script>"},
    ]
    message = send(form_message(fields=fields, title="Quote request")).json()["message"]

    response = admin_client.get(MOUNT + "/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    for text in (
        "Quote request",
        "Submitted via example.com",
        "<dt>Name</dt><dd>Jane Doe</dd>",
        "New form submission from Jane Doe",
        message["sequence"],
        message["createdDate"],
        "jane@example.com",
        f'href="{FAULT_PAGE}"',
    ):
        assert text in page
    assert ApiCall.objects.filter(path="/").count() == 0


def test_inbox_page_shows_one_conversation_on_request(admin_client, api):
    ids = []
    for email in ("one@example.com", "two@example.com"):
        contact_id = api.post("/contacts/v4/contacts", {"info": contact_info(email=email)}).json()[
            "contact"
        ]["id"]
        conversation = api.post(
            "/inbox/v2/conversations", {"participantId": {"contactId": contact_id}}
        )
        ids.append(conversation.json()["conversation"]["id"])

    everything = admin_client.get(MOUNT + "/").content.decode()
    one = admin_client.get(MOUNT + "/", {"conversation": ids[0]}).content.decode()
    unknown = admin_client.get(MOUNT + "/", {"conversation": "x"}).content.decode()

    assert ids[0] in everything and ids[1] in everything
    assert ids[0] in one and ids[1] not in one
    assert "No conversation with id" in unknown


# --- Who may use the pages and the fault endpoint ------------------------------------------------

ADD_A_RULE = {"action": "add", "endpoint": "*", "fault": "down", "rate": "1"}
SANDBOX_PAGES = {
    "inbox page": lambda c: c.get(MOUNT + "/"),
    "fault page": lambda c: c.get(FAULT_PAGE),
    "fault page, add": lambda c: c.post(FAULT_PAGE, ADD_A_RULE),
    "fault page, clear": lambda c: c.post(FAULT_PAGE, {"action": "clear"}),
}
FAULT_ENDPOINT = {
    "_faults GET": lambda c: c.get(MOUNT + "/_faults"),
    "_faults POST": lambda c: c.post(
        MOUNT + "/_faults", {"*": {"down": 1}}, content_type="application/json"
    ),
    "_faults DELETE": lambda c: c.delete(MOUNT + "/_faults"),
}


def requests_to(*tables: dict) -> list:
    return [pytest.param(call, id=name) for table in tables for name, call in table.items()]


@pytest.fixture
def client_as(client, django_user_model):
    """The test client signed in as "staff" (without the sandbox permission), "permitted" (staff
    with it) or "superuser"."""

    def sign_in(role: str) -> Client:
        user = django_user_model.objects.create_user(
            role, password="pw-123456", is_staff=True, is_superuser=role == "superuser"
        )
        if role == "permitted":
            user.user_permissions.add(
                Permission.objects.get(
                    content_type__app_label="wix_sandbox", codename="use_sandbox"
                )
            )
        client.force_login(user)
        return client

    return sign_in


def test_the_permission_has_its_name_in_the_admin(db):
    permission = Permission.objects.get(codename="use_sandbox")

    assert (permission.content_type.app_label, permission.name) == (
        "wix_sandbox",
        "Can use the Wix sandbox",
    )


@pytest.mark.parametrize("call", requests_to(SANDBOX_PAGES, FAULT_ENDPOINT))
def test_staff_without_the_permission_get_403_everywhere(client_as, call):
    response = call(client_as("staff"))

    assert response.status_code == 403
    assert FaultConfig.objects.count() == 0


@pytest.mark.parametrize("role", ["permitted", "superuser"])
@pytest.mark.parametrize("call", requests_to(SANDBOX_PAGES, FAULT_ENDPOINT))
def test_the_permission_or_a_superuser_opens_everything(client_as, role, call):
    response = call(client_as(role))

    # A form posted on the fault page redirects back to it.
    assert (response.status_code, response.get("Location")) in {(200, None), (302, FAULT_PAGE)}


@pytest.mark.parametrize("call", requests_to(SANDBOX_PAGES))
def test_visitors_are_sent_to_the_admin_login_from_the_pages(client, db, call):
    response = call(client)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/wix-sandbox/")
    assert FaultConfig.objects.count() == 0


@pytest.mark.parametrize("call", requests_to(FAULT_ENDPOINT))
def test_visitors_get_403_from_the_fault_endpoint(client, db, call):
    response = call(client)

    assert response.status_code == 403
    assert "Can use the Wix sandbox" in response.json()["error"]
    assert FaultConfig.objects.count() == 0


# --- Fault injection -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status"),
    [("error_500", 500), ("error_503", 503), ("down", 503)],
)
def test_server_error_faults(api, conversation, fault, status):
    faults.save_rules({"messages.list": {fault: 1}})

    response = api.get(
        "/inbox/v2/messages", {"conversationId": conversation["id"], "visibility": "BUSINESS"}
    )

    assert response.status_code == status
    assert response.json() == {"message": "", "details": {}}
    assert response["x-wix-request-id"]
    call = ApiCall.objects.get(endpoint="messages.list")
    assert (call.status, call.fault) == (status, fault)


def test_permanent_faults_answer_with_wixs_own_error_bodies(api, conversation):
    path = f"/inbox/v2/conversations/{conversation['id']}"
    answers = {}
    for fault in ("invalid_400", "unauthenticated_401", "permission_denied_403"):
        faults.save_rules({"conversations.get": {fault: 1}})
        answers[fault] = api.get(path)

    invalid = answers["invalid_400"]
    assert invalid.status_code == 400
    violation = invalid.json()["details"]["validationError"]["fieldViolations"][0]
    assert violation["field"] == "message.content"
    assert invalid.json()["message"].startswith("INVALID_ARGUMENT: ")
    assert application_error(answers["unauthenticated_401"], 401)["code"] == "UNAUTHENTICATED"
    assert answers["unauthenticated_401"].json()["message"] == "unauthorized"
    assert application_error(answers["permission_denied_403"], 403)["code"] == "PERMISSION_DENIED"
    assert all(answer["x-wix-request-id"] for answer in answers.values())
    assert list(ApiCall.objects.order_by("pk").values_list("status", "fault"))[-3:] == [
        (400, "invalid_400"),
        (401, "unauthenticated_401"),
        (403, "permission_denied_403"),
    ]


def test_permanent_faults_are_set_by_command_json_and_fault_page(admin_client, monkeypatch):
    monkeypatch.setenv(faults.ENV_VAR, '{"messages.send": {"unauthenticated_401": 1}}')
    from_environment = faults.current_rules()
    call_command("wix_sandbox_faults", "set", '{"messages.send": {"invalid_400": 1}}')
    from_command = faults.current_rules()
    admin_client.post(
        MOUNT + "/_faults",
        {"messages.send": {"permission_denied_403": 1}},
        content_type="application/json",
    )
    from_json = faults.current_rules()
    faults.clear_rules()
    page = admin_client.get(FAULT_PAGE).content.decode()
    admin_client.post(
        FAULT_PAGE,
        {"action": "add", "endpoint": "*", "fault": "unauthenticated_401", "rate": "1"},
    )

    assert from_environment[1] == {"messages.send": {"unauthenticated_401": 1.0}}
    assert from_command[1] == {"messages.send": {"invalid_400": 1.0}}
    assert from_json[1] == {"messages.send": {"permission_denied_403": 1.0}}
    assert all(f'value="{fault}"' in page for fault in ("invalid_400", "permission_denied_403"))
    assert faults.current_rules()[1]["*"] == {"unauthenticated_401": 1.0}


def test_rate_limit_faults_with_and_without_retry_after(api, conversation):
    faults.save_rules({"conversations.get": {"rate_limit_429": 1, "retry_after": 7}})
    path = f"/inbox/v2/conversations/{conversation['id']}"

    limited = api.get(path)
    faults.save_rules({"conversations.get": {"rate_limit_429_no_retry_after": 1}})
    limited_without_hint = api.get(path)

    assert (limited.status_code, limited["Retry-After"]) == (429, "7")
    assert application_error(limited, 429)["code"] == "RESOURCE_EXHAUSTED"
    assert limited_without_hint.status_code == 429
    assert "Retry-After" not in limited_without_hint


def test_faults_for_all_endpoints_merge_with_an_endpoints_own(api, conversation, sleeps):
    faults.save_rules(
        {"*": {"error_500": 1, "latency_ms": 250}, "conversations.get": {"error_500": 0}}
    )

    failing = api.get(
        "/inbox/v2/messages", {"conversationId": conversation["id"], "visibility": "BUSINESS"}
    )
    working = api.get(f"/inbox/v2/conversations/{conversation['id']}")

    assert (failing.status_code, working.status_code) == (500, 200)
    assert sleeps == [0.25, 0.25]


def test_latency_delays_but_answers(api, conversation, sleeps):
    faults.save_rules({"conversations.get": {"latency_ms": 300}})

    response = api.get(f"/inbox/v2/conversations/{conversation['id']}")

    assert response.status_code == 200
    assert sleeps == [0.3]


def test_hang_holds_the_request_then_answers_504(api, conversation, sleeps, settings):
    settings.WIX_SANDBOX_HANG_SECONDS = 45
    faults.save_rules({"conversations.get": {"hang": 1}})

    response = api.get(f"/inbox/v2/conversations/{conversation['id']}")

    assert response.status_code == 504
    assert sleeps == [45]
    assert ApiCall.objects.get(endpoint="conversations.get").fault == "hang"


def test_store_then_fail_stores_the_message_and_answers_500(api, conversation, send):
    faults.save_rules({"messages.send": {"store_then_fail": 1}})

    response = send()
    listed = api.get(
        "/inbox/v2/messages", {"conversationId": conversation["id"], "visibility": "BUSINESS"}
    )

    assert response.status_code == 500
    assert SandboxMessage.objects.count() == 1
    assert listed.json()["pagingMetadata"]["count"] == 1


def test_reset_through_the_test_client_raises_and_is_recorded(api, conversation):
    faults.save_rules({"conversations.get": {"reset": 1}})

    with pytest.raises(ConnectionResetError):
        api.get(f"/inbox/v2/conversations/{conversation['id']}")

    call = ApiCall.objects.get(endpoint="conversations.get")
    assert (call.status, call.fault) == (None, "reset")


@pytest.mark.django_db(transaction=True)
def test_reset_closes_a_real_connection_without_an_answer(live_server):
    faults.save_rules({"conversations.get": {"reset": 1}})
    url = f"{live_server.url}{MOUNT}/inbox/v2/conversations/{uuid.uuid4()}"

    with pytest.raises(requests.ConnectionError):
        requests.get(url, headers=auth_headers(), timeout=10)
    faults.clear_rules()
    after = requests.get(url, headers=auth_headers(), timeout=10)

    assert after.status_code == 404  # the server still serves
    assert list(ApiCall.objects.order_by("pk").values_list("status", "fault")) == [
        (None, "reset"),
        (404, ""),
    ]


@pytest.mark.django_db(transaction=True)
def test_live_server_records_content_type_only_when_sent(live_server):
    base = f"{live_server.url}{MOUNT}"

    requests.get(
        f"{base}/inbox/v2/conversations/{uuid.uuid4()}", headers=auth_headers(), timeout=10
    )
    requests.post(
        f"{base}/contacts/v4/contacts",
        json={"info": contact_info()},
        headers=auth_headers(),
        timeout=10,
    )

    get_call, post_call = ApiCall.objects.order_by("pk")
    assert "content-type" not in get_call.headers
    assert post_call.headers["content-type"] == "application/json"


def test_fault_rates_follow_the_seeded_draws(db, monkeypatch):
    faults.save_rules({"messages.send": {"error_500": 0.25, "rate_limit_429": 0.25}})
    monkeypatch.setattr(faults, "fault_random", faults.random.Random(1234))

    drawn = [faults.plan_for("messages.send").fault for _ in range(2000)]

    assert 400 < drawn.count("error_500") < 600
    assert 400 < drawn.count("rate_limit_429") < 600
    assert 900 < drawn.count("") < 1100
    assert faults.plan_for("messages.list") == faults.NO_FAULT


def test_runtime_rules_override_the_environment(api, conversation, monkeypatch):
    monkeypatch.setenv(faults.ENV_VAR, json.dumps({"conversations.get": {"error_503": 1}}))
    path = f"/inbox/v2/conversations/{conversation['id']}"

    from_environment = api.get(path).status_code
    faults.save_rules({})
    overridden = api.get(path).status_code
    faults.clear_rules()
    environment_again = api.get(path).status_code

    assert (from_environment, overridden, environment_again) == (503, 200, 503)


@pytest.mark.parametrize(
    "rules",
    [
        {"messages.sned": {"error_500": 0.1}},
        {"*": {"error_500": 1.5}},
        {"*": {"error_501": 0.1}},
        {"*": {"latency_ms": -1}},
        {"*": 0.1},
        [],
    ],
)
def test_invalid_fault_rules_are_refused(db, rules):
    with pytest.raises(faults.FaultRulesError):
        faults.save_rules(rules)


def test_bad_fault_rules_in_the_environment_fail_the_system_check(monkeypatch):
    monkeypatch.setenv(faults.ENV_VAR, '{"*": {"error_500": 2}}')

    [error] = checks.fault_rules_from_environment(None)

    assert error.id == "wix_sandbox.E001"


def test_faults_command_sets_shows_and_clears(db, capsys):
    call_command("wix_sandbox_faults", "set", '{"messages.send": {"error_500": 0.5}}')
    call_command("wix_sandbox_faults", "show")
    call_command("wix_sandbox_faults", "clear")

    assert FaultConfig.objects.count() == 0
    shown = capsys.readouterr().out
    assert '"source": "database"' in shown and '"error_500": 0.5' in shown
    with pytest.raises(CommandError):
        call_command("wix_sandbox_faults", "set", '{"*": {"error_500": 2}}')


def test_faults_endpoint_shows_sets_and_clears_for_staff(admin_client):
    set_response = admin_client.post(
        MOUNT + "/_faults", {"messages.send": {"down": True}}, content_type="application/json"
    )
    shown = admin_client.get(MOUNT + "/_faults")
    invalid = admin_client.post(
        MOUNT + "/_faults", {"nowhere": {"down": 1}}, content_type="application/json"
    )
    cleared = admin_client.delete(MOUNT + "/_faults")

    assert set_response.status_code == 200
    assert shown.json() == {"source": "database", "rules": {"messages.send": {"down": 1.0}}}
    assert invalid.status_code == 400 and "nowhere" in invalid.json()["error"]
    assert cleared.json() == {"source": "none", "rules": {}}


def rule_rows(page: str) -> list[tuple[str, str, str]]:
    """The fault page's table of rules: (endpoint, key, value) rows."""
    return re.findall(
        r"<tr><td><code>(.+?)</code></td><td><code>(.+?)</code></td><td>(.+?)</td>", page
    )


def test_fault_page_lists_the_rules_and_where_they_come_from(admin_client, monkeypatch):
    no_rules = admin_client.get(FAULT_PAGE).content.decode()
    monkeypatch.setenv(faults.ENV_VAR, '{"*": {"latency_ms": 50}}')
    from_environment = admin_client.get(FAULT_PAGE).content.decode()
    faults.save_rules({"messages.send": {"error_500": 0.25, "retry_after": 3}})
    from_database = admin_client.get(FAULT_PAGE).content.decode()

    assert "None: every call is answered normally." in no_rules and rule_rows(no_rules) == []
    assert "From the <code>WIX_SANDBOX_FAULTS</code> environment variable" in from_environment
    assert rule_rows(from_environment) == [("*", "latency_ms", "50")]
    assert "kept in the database" in from_database
    assert rule_rows(from_database) == [
        ("messages.send", "error_500", "0.25"),
        ("messages.send", "retry_after", "3"),
    ]
    assert 'value="clear"' in from_database and 'value="clear"' not in from_environment
    assert f'href="{MOUNT}/"' in from_database


def test_fault_page_adds_a_rule_with_the_csrf_token(admin_user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    form = browser.get(FAULT_PAGE).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)[1]
    rule = {
        "action": "add",
        "endpoint": "contacts.create",
        "fault": "rate_limit_429",
        "rate": "0.5",
        "retry_after": "30",
        "latency_ms": "",
    }

    forged = browser.post(FAULT_PAGE, rule)
    added = browser.post(FAULT_PAGE, rule | {"csrfmiddlewaretoken": token})

    assert forged.status_code == 403
    assert (added.status_code, added["Location"]) == (302, FAULT_PAGE)
    assert faults.current_rules() == (
        "database",
        {"contacts.create": {"rate_limit_429": 0.5, "retry_after": 30}},
    )


def test_fault_page_merges_an_added_rule_and_clears_them_all(admin_client):
    faults.save_rules({"messages.send": {"error_500": 0.1, "latency_ms": 300}, "*": {"down": 0.5}})

    admin_client.post(
        FAULT_PAGE,
        {"action": "add", "endpoint": "messages.send", "fault": "error_500", "rate": "0.2"},
    )
    merged = faults.current_rules()
    cleared = admin_client.post(FAULT_PAGE, {"action": "clear"}, follow=True)

    assert merged == (
        "database",
        {"messages.send": {"error_500": 0.2, "latency_ms": 300}, "*": {"down": 0.5}},
    )
    assert cleared.redirect_chain == [(FAULT_PAGE, 302)]
    assert "None: every call is answered normally." in cleared.content.decode()
    assert FaultConfig.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("rate", "2", "messages.send.error_500 must be a rate from 0 to 1"),
        ("hang_seconds", "-5", "messages.send.hang_seconds must be a number of at least 0"),
        ("rate", "often", "Enter a number."),
        ("endpoint", "nowhere", "Select a valid choice. nowhere is not one of the available"),
    ],
)
def test_fault_page_rejects_an_invalid_rule_and_says_why(admin_client, field, value, message):
    rule = {"action": "add", "endpoint": "messages.send", "fault": "error_500", "rate": "1"}

    response = admin_client.post(FAULT_PAGE, rule | {field: value})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert FaultConfig.objects.count() == 0


# --- OAuth client credentials --------------------------------------------------------------------


def token_request(**overrides) -> dict:
    return {
        "grant_type": "client_credentials",
        "client_id": sandbox_setting("WIX_SANDBOX_APP_ID"),
        "client_secret": sandbox_setting("WIX_SANDBOX_APP_SECRET"),
        "instance_id": sandbox_setting("WIX_SANDBOX_INSTANCE_ID"),
        **overrides,
    }


@pytest.fixture
def token_client(client, db):
    """Calls without credentials, as the SDK's token request does."""
    return Api(client, {})


def test_client_credentials_token_authorises_api_calls(token_client, client, contact, settings):
    settings.WIX_SANDBOX_TOKEN_TTL = 600

    response = token_client.post("/oauth2/token", token_request())
    token = response.json()["access_token"]
    with_token = Api(client, {"Authorization": token}).get(f"/contacts/v4/contacts/{contact['id']}")

    assert response.status_code == 200
    assert response.json() == {"access_token": token, "token_type": "Bearer", "expires_in": 600}
    assert response["x-wix-request-id"]
    assert with_token.status_code == 200
    stored = SandboxAccessToken.objects.get()
    assert stored.token_digest == hashlib.sha256(token.encode()).hexdigest()
    assert timedelta(seconds=590) < stored.expires_at - timezone.now() <= timedelta(seconds=600)
    assert ApiCall.objects.filter(endpoint="oauth2.token", status=200).count() == 1


@pytest.mark.parametrize(
    ("overrides", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": str(uuid.uuid4())}, 401, "invalid_client"),
        ({"instance_id": str(uuid.uuid4())}, 400, "invalid_grant"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"client_secret": ""}, 400, "invalid_request"),
    ],
)
def test_token_request_errors_are_oauth_shaped(token_client, overrides, status, error):
    response = token_client.post("/oauth2/token", token_request(**overrides))

    assert response.status_code == status
    assert response.json()["error"] == error
    assert SandboxAccessToken.objects.count() == 0


def test_expired_or_prefixed_tokens_are_401(token_client, client, conversation):
    token = token_client.post("/oauth2/token", token_request()).json()["access_token"]
    path = f"/inbox/v2/conversations/{conversation['id']}"

    with_bearer = Api(client, {"Authorization": f"Bearer {token}"}).get(path)
    SandboxAccessToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = Api(client, {"Authorization": token}).get(path)

    assert application_error(with_bearer, 401)["code"] == "UNAUTHENTICATED"
    assert application_error(expired, 401)["description"] == "The access token has expired"


def test_token_with_another_sites_id_is_403(token_client, client, conversation):
    token = token_client.post("/oauth2/token", token_request()).json()["access_token"]

    response = Api(client, {"Authorization": token, "wix-site-id": str(uuid.uuid4())}).get(
        f"/inbox/v2/conversations/{conversation['id']}"
    )

    assert application_error(response, 403)["code"] == "PERMISSION_DENIED"


def test_the_call_log_never_keeps_an_app_secret(client, db):
    client.post(
        MOUNT + "/oauth2/token",
        data=json.dumps({"grant_type": "client_credentials", "client_secret": "top-secret"}),
        content_type="application/json",
    )

    assert "top-secret" not in ApiCall.objects.get().body


def test_lengths_are_counted_in_utf16_units_like_wix(api, conversation):
    fields = [{"name": "Message", "value": "😀" * 4097}]  # 4,097 characters, 8,194 units

    response = api.post(
        "/inbox/v2/messages",
        {
            "conversationId": conversation["id"],
            "message": {
                "direction": "PARTICIPANT_TO_BUSINESS",
                "visibility": "BUSINESS",
                "content": {"form": {"title": "T", "fields": fields}},
            },
        },
    )

    assert response.status_code == 400
    violation = response.json()["details"]["validationError"]["fieldViolations"][0]
    assert violation["field"] == "message.content.form.fields[0].value"


# --- Rate limit (WIX_SANDBOX_RATE_LIMIT_PER_MINUTE) ----------------------------------------------


def test_the_rate_limit_answers_429_past_a_sliding_minute(api, conversation, settings):
    settings.WIX_SANDBOX_RATE_LIMIT_PER_MINUTE = 2
    path = f"/inbox/v2/conversations/{conversation['id']}"

    admitted = [api.get(path).status_code for _ in range(2)]
    refused = api.get(path)
    # A minute later the first two calls have left the window.
    AdmittedCall.objects.update(admitted=F("admitted") - timedelta(seconds=61))
    a_minute_later = api.get(path)

    assert admitted == [200, 200]
    assert application_error(refused, 429)["code"] == "RESOURCE_EXHAUSTED"
    assert refused["x-wix-request-id"]
    assert 55 <= int(refused["Retry-After"]) <= 60
    assert a_minute_later.status_code == 200
    assert ApiCall.objects.filter(status=429).count() == 1
    assert AdmittedCall.objects.count() == 1  # refused calls are not counted; old ones are gone


def test_the_rate_limit_is_off_by_default(api, conversation):
    path = f"/inbox/v2/conversations/{conversation['id']}"

    statuses = {api.get(path).status_code for _ in range(5)}

    assert sandbox_setting("WIX_SANDBOX_RATE_LIMIT_PER_MINUTE") == 0
    assert statuses == {200}


@pytest.mark.django_db(transaction=True)
def test_concurrent_calls_never_exceed_the_rate_limit(settings):
    settings.WIX_SANDBOX_RATE_LIMIT_PER_MINUTE = 3

    results = run_concurrently(8, rate_limit.admit)

    assert results.count(None) == 3, results
    assert all(isinstance(wait, int) and 1 <= wait <= 60 for wait in results if wait is not None)


# --- Communication Channels Media (media-upload.md §2.2, §3, §6) --------------------------------

MEDIA = "/communication-channels-media/v1"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def png(width=37, height=22) -> bytes:
    out = io.BytesIO()
    PilImage.new("RGB", (width, height), (17, 109, 255)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def upload_url(api):
    """upload_url(file_name, mime_type) asks for an upload URL; returns it."""

    def ask(file_name="cv.pdf", mime_type="application/pdf") -> str:
        body = {"fileName": file_name, "mimeType": mime_type}
        response = api.post(f"{MEDIA}/upload-url", body)
        assert response.status_code == 200, response.content
        return response.json()["uploadUrl"]

    return ask


def put(client, url: str, content: bytes, content_type="application/pdf", file_name="cv.pdf"):
    """The upload's PUT, as our client sends it: raw body, ?filename=, no credentials."""
    separator = "&" if "?" in url else "?"
    return client.put(
        f"{url}{separator}{urlencode({'filename': file_name})}",
        data=content,
        content_type=content_type,
    )


@pytest.fixture
def uploaded(client, upload_url):
    """uploaded(content, file_name, mime_type) → the descriptor the upload answers."""

    def upload(content=PDF, file_name="cv.pdf", mime_type="application/pdf") -> dict:
        response = put(client, upload_url(file_name, mime_type), content, mime_type, file_name)
        assert response.status_code == 200, response.content
        return response.json()["file"]

    return upload


def test_upload_url_is_the_sandboxs_own_with_the_token_in_the_path(api, upload_url):
    url = upload_url("cv.pdf", "application/pdf")

    assert re.fullmatch(r"http://testserver/wix-sandbox/_upload/[\w-]{43}", url)
    media_file = SandboxMediaFile.objects.get()
    assert (media_file.file_name, media_file.mime_type) == ("cv.pdf", "application/pdf")
    assert re.fullmatch(r"[0-9a-f]{6}_[0-9a-f]{32}\.pdf", media_file.id)  # assigned already
    assert not media_file.is_uploaded
    token = url.rsplit("/", 1)[1]
    assert media_file.upload_token_digest == hashlib.sha256(token.encode()).hexdigest()
    call = ApiCall.objects.get()
    assert (call.endpoint, call.path, call.status) == (
        "media.upload_url",
        f"{MEDIA}/upload-url",
        200,
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({"fileName": "f" * 200, "mimeType": "text/plain"}, None, id="fileName 200"),
        pytest.param(
            {"fileName": "f" * 201, "mimeType": "text/plain"},
            ("fileName", "MAX_LENGTH"),
            id="fileName 201",
        ),
        pytest.param({"mimeType": "image/" + "x" * 94}, None, id="mimeType 100, no fileName"),
        pytest.param(
            {"mimeType": "image/" + "x" * 95}, ("mimeType", "MAX_LENGTH"), id="mimeType 101"
        ),
        pytest.param({"fileName": "cv.pdf"}, ("mimeType", "REQUIRED_FIELD"), id="no mimeType"),
        pytest.param(
            {"fileName": 7, "mimeType": "text/plain"}, ("fileName", "FORMAT"), id="number"
        ),
    ],
)
def test_upload_url_limits(api, body, expected):
    response = api.post(f"{MEDIA}/upload-url", body)

    if expected is None:
        assert response.status_code == 200, response.content
    else:
        assert violations(response) == [expected]
        assert SandboxMediaFile.objects.count() == 0


@pytest.mark.parametrize(
    ("file_name", "mime_type", "code"),
    [
        ("setup.exe", "application/x-msdownload", "UNSUPPORTED_FILE_FORMAT"),
        ("page.html", "text/html", "UNSUPPORTED_FILE_FORMAT"),
        ("cv.pdf", "image/png", "MIME_TYPE_MISMATCH"),
        ("photo.png", "image/jpeg", "MIME_TYPE_MISMATCH"),
        ("photo.JPG", "image/jpeg", None),
        ("photo.jpe", "image/jpeg", None),
        ("notes", "text/plain", None),
        ("data.weird-ext", "application/pdf", None),
        ("anything.pdf", "application/octet-stream", None),
        ("shot.webp", "image/webp", None),
        ("sheet.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", None),
        ("film.mp4", "video/mp4", None),
        ("files.zip", "application/zip", None),
    ],
)
def test_upload_url_application_errors(api, file_name, mime_type, code):
    response = api.post(f"{MEDIA}/upload-url", {"fileName": file_name, "mimeType": mime_type})

    if code is None:
        assert response.status_code == 200, response.content
    else:
        assert application_error(response, 400)["code"] == code
        assert SandboxMediaFile.objects.count() == 0


def test_the_mime_check_can_be_switched_off(api, settings):
    settings.WIX_SANDBOX_MEDIA_CHECK_MIME_TYPE = False

    response = api.post(f"{MEDIA}/upload-url", {"fileName": "cv.pdf", "mimeType": "image/png"})

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", f"{MEDIA}/upload-url", {"fileName": "cv.pdf", "mimeType": "application/pdf"}),
        ("post", f"{MEDIA}/download-url", {"fileId": "x"}),
        ("get", f"{MEDIA}/storage-quota", None),
    ],
)
def test_the_media_api_needs_the_api_key(client, db, method, path, body):
    without_key = Api(client, {"wix-site-id": sandbox_setting("WIX_SANDBOX_SITE_ID")})

    response = getattr(without_key, method)(path, body)

    assert application_error(response, 401)["code"] == "UNAUTHENTICATED"
    assert SandboxMediaFile.objects.count() == 0


def test_upload_answers_the_descriptor_of_a_document(client, upload_url):
    url = upload_url("cv.pdf", "application/pdf")

    response = client.put(f"{url}?filename=cv.pdf", data=PDF, content_type="application/pdf")

    assert response.status_code == 200, response.content
    assert response["x-wix-request-id"]
    media_file = SandboxMediaFile.objects.get()
    descriptor = response.json()["file"]
    assert descriptor == {
        "id": media_file.id,
        "displayName": "cv.pdf",
        "url": f"https://{media_file.id[:6]}.usrfiles.com/ugd/{media_file.id}",
        "parentFolderId": "media-root",
        "hash": hashlib.md5(PDF, usedforsecurity=False).hexdigest(),
        "sizeInBytes": str(len(PDF)),
        "private": False,
        "mediaType": "DOCUMENT",
        "operationStatus": "READY",
        "labels": [],
        "createdDate": descriptor["createdDate"],
        "updatedDate": descriptor["createdDate"],
        "media": {
            "document": {"id": media_file.id, "url": descriptor["url"], "filename": "cv.pdf"}
        },
    }
    assert ISO_MILLIS.fullmatch(descriptor["createdDate"])
    assert bytes(media_file.content) == PDF
    assert (media_file.size, media_file.media_type, media_file.descriptor) == (
        len(PDF),
        "DOCUMENT",
        descriptor,
    )


def test_upload_measures_an_image_with_pillow(uploaded):
    descriptor = uploaded(png(37, 22), "shot.png", "image/png")

    assert re.fullmatch(r"[0-9a-f]{6}_[0-9a-f]{32}~mv2\.png", descriptor["id"])
    assert descriptor["mediaType"] == "IMAGE"
    assert descriptor["url"] == f"https://static.wixstatic.com/media/{descriptor['id']}"
    assert descriptor["thumbnailUrl"] == descriptor["url"]
    assert descriptor["media"] == {
        "image": {
            "image": {
                "id": descriptor["id"],
                "url": descriptor["url"],
                "width": 37,
                "height": 22,
                "filename": "shot.png",
                "sizeInBytes": descriptor["sizeInBytes"],
            },
            "faces": [],
        }
    }
    assert descriptor["sizeInBytes"] == str(len(png(37, 22)))


def test_upload_takes_the_name_from_the_query_when_the_url_has_none(client, api):
    url = api.post(f"{MEDIA}/upload-url", {"mimeType": "text/plain"}).json()["uploadUrl"]

    response = put(client, url, b"hello", "text/plain", file_name="notes & more?.txt")

    assert response.json()["file"]["displayName"] == "notes & more?.txt"


def test_the_upload_needs_no_credentials_and_logs_no_bytes(client, upload_url):
    url = upload_url()

    response = put(client, url, PDF)

    assert response.status_code == 200
    call = ApiCall.objects.get(endpoint="media.upload")
    assert call.method == "PUT"
    assert call.path.startswith("/_upload/")
    assert call.query_string == "filename=cv.pdf"
    assert call.body == f"[{len(PDF)} bytes]"
    assert "authorization" not in call.headers


def test_an_upload_url_is_single_use(client, upload_url):
    url = upload_url()
    first = put(client, url, PDF)

    again = put(client, url, b"other bytes")

    assert first.status_code == 200
    error = application_error(again, 403)
    assert error["description"] == "The upload URL has been used already"
    assert bytes(SandboxMediaFile.objects.get().content) == PDF


def test_unknown_and_expired_upload_urls_are_refused(client, upload_url):
    url = upload_url()
    SandboxMediaFile.objects.update(upload_expires_at=timezone.now() - timedelta(seconds=1))

    expired = put(client, url, PDF)
    unknown = put(client, url.rsplit("/", 1)[0] + "/not-a-token", PDF)

    assert application_error(expired, 403)["description"] == "The upload URL has expired"
    assert application_error(unknown, 403)["description"] == "Unknown upload URL"


def test_upload_urls_live_for_the_url_ttl(upload_url, settings):
    settings.WIX_SANDBOX_MEDIA_URL_TTL = 60
    before = timezone.now()

    upload_url()

    expires_at = SandboxMediaFile.objects.get().upload_expires_at
    assert before + timedelta(seconds=60) <= expires_at <= timezone.now() + timedelta(seconds=60)


@pytest.mark.parametrize(
    ("size", "code"), [(0, "ZERO_FILE_SIZE"), (10, None), (11, "FILE_SIZE_OVER_LIMIT")]
)
def test_upload_size_limits(client, upload_url, settings, size, code):
    settings.WIX_SANDBOX_MEDIA_MAX_FILE_SIZE = 10
    url = upload_url("notes.txt", "text/plain")

    response = put(client, url, b"x" * size, "text/plain", "notes.txt")

    if code is None:
        assert response.json()["file"]["sizeInBytes"] == "10"
    else:
        assert application_error(response, 400)["code"] == code
        assert not SandboxMediaFile.objects.get().is_uploaded
        assert put(client, url, b"x", "text/plain").status_code == 200  # the URL is still good


@pytest.mark.parametrize(
    ("declared", "content_type", "content", "code"),
    [
        ("application/pdf", "image/png", PDF, "MIME_TYPE_MISMATCH"),
        ("application/pdf", "application/octet-stream", PDF, None),
        ("image/png", "image/png", PDF, "MIME_TYPE_MISMATCH"),
        ("image/jpeg", "image/jpeg", png(), "MIME_TYPE_MISMATCH"),
    ],
)
def test_upload_mime_checks(client, api, declared, content_type, content, code):
    url = api.post(f"{MEDIA}/upload-url", {"mimeType": declared}).json()["uploadUrl"]

    response = put(client, url, content, content_type, "file")

    if code is None:
        assert response.status_code == 200, response.content
    else:
        assert application_error(response, 400)["code"] == code


def test_without_the_mime_check_an_unreadable_image_is_a_plain_file(client, api, settings):
    settings.WIX_SANDBOX_MEDIA_CHECK_MIME_TYPE = False
    url = api.post(f"{MEDIA}/upload-url", {"mimeType": "image/png"}).json()["uploadUrl"]

    response = put(client, url, PDF, "application/pdf", "x.png")

    assert response.json()["file"]["mediaType"] == "OTHER"
    assert "media" not in response.json()["file"]


def test_the_upload_can_answer_pending(uploaded, settings):
    settings.WIX_SANDBOX_MEDIA_UPLOAD_STATUS = "PENDING"

    assert uploaded()["operationStatus"] == "PENDING"


def test_upload_errors_can_come_as_an_html_page(client, api, upload_url, settings):
    settings.WIX_SANDBOX_MEDIA_UPLOAD_ERRORS = "html"
    url = upload_url()

    refused = put(client, url, b"")
    json_api = api.post(f"{MEDIA}/upload-url", {"fileName": "a.exe", "mimeType": "x/y"})

    assert refused.status_code == 400
    assert refused["Content-Type"] == "text/html; charset=utf-8"
    assert refused.content.decode() == (
        "<!DOCTYPE html><html><head><title>400 Bad Request</title></head><body>"
        "<h1>400 Bad Request</h1><p>The file is empty</p></body></html>"
    )
    assert application_error(json_api, 400)["code"] == "UNSUPPORTED_FILE_FORMAT"


def test_storage_quota_counts_uploaded_files_and_is_enforced(client, api, uploaded, settings):
    settings.WIX_SANDBOX_MEDIA_STORAGE_QUOTA = len(PDF) + 5
    empty = api.get(f"{MEDIA}/storage-quota").json()
    uploaded()
    after_one = api.get(f"{MEDIA}/storage-quota").json()
    url = api.post(f"{MEDIA}/upload-url", {"mimeType": "text/plain"}).json()["uploadUrl"]

    too_much = put(client, url, b"123456", "text/plain")
    fits = put(client, url, b"12345", "text/plain")

    assert empty == {"totalQuota": str(len(PDF) + 5), "totalUsage": "0"}
    assert after_one == {"totalQuota": str(len(PDF) + 5), "totalUsage": str(len(PDF))}
    error = application_error(too_much, 400)
    assert error["code"] == "SITE_QUOTA_EXCEEDED"
    assert error["data"] == {"quota": {"storage": str(len(PDF) + 5)}}
    assert fits.status_code == 200


def test_storage_quota_defaults_to_the_free_plans(api):
    assert api.get(f"{MEDIA}/storage-quota").json() == {
        "totalQuota": str(500 * 1024 * 1024),
        "totalUsage": "0",
    }


def test_download_url_serves_the_bytes(client, api, uploaded):
    descriptor = uploaded()

    answer = api.post(f"{MEDIA}/download-url", {"fileId": descriptor["id"]}).json()
    download = client.get(answer["downloadUrl"])

    assert re.fullmatch(r"http://testserver/wix-sandbox/_download/[\w:.-]+", answer["downloadUrl"])
    assert download.status_code == 200
    assert download.content == PDF
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"] == 'attachment; filename="cv.pdf"'
    assert download["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert download["X-Content-Type-Options"] == "nosniff"
    assert ApiCall.objects.filter(path__startswith="/_download/").count() == 0


def test_download_url_shows_images_inline_under_their_download_name(client, api, uploaded):
    descriptor = uploaded(png(), "shot.png", "image/png")
    # The typings accept the file's Wix media URL in place of its id.
    wix_url = f"wix:image://v1/{descriptor['id']}/shot.png#originWidth=37&originHeight=22"
    body = {"fileId": wix_url, "downloadFileName": "Screenshot 1.png"}

    download = client.get(api.post(f"{MEDIA}/download-url", body).json()["downloadUrl"])

    assert download.content == png()
    assert download["Content-Disposition"] == 'inline; filename="Screenshot 1.png"'


def test_download_url_errors(client, api, upload_url, uploaded, settings):
    upload_url()  # a URL was made, but nothing uploaded
    never_uploaded = SandboxMediaFile.objects.get().id
    descriptor = uploaded()
    url = api.post(f"{MEDIA}/download-url", {"fileId": descriptor["id"]}).json()["downloadUrl"]

    unknown = api.post(f"{MEDIA}/download-url", {"fileId": never_uploaded})
    missing = api.post(f"{MEDIA}/download-url", {})
    too_long = api.post(
        f"{MEDIA}/download-url", {"fileId": "f" * 401, "downloadFileName": "n" * 101}
    )
    tampered = client.get(url[:-2] + "xx")
    settings.WIX_SANDBOX_MEDIA_URL_TTL = 0
    expired = client.get(url)

    assert application_error(unknown, 404)["code"] == "FILE_NOT_FOUND"
    assert violations(missing) == [("fileId", "REQUIRED_FIELD")]
    assert violations(too_long) == [
        ("fileId", "MAX_LENGTH"),
        ("downloadFileName", "MAX_LENGTH"),
    ]
    assert tampered.status_code == 404
    assert expired.status_code == 410


# --- Send Message with form media ---------------------------------------------------------------


def file_item(descriptor: dict, **fields) -> dict:
    return {
        "file": {
            "id": descriptor["id"],
            "url": descriptor["url"],
            "filename": descriptor["displayName"],
            "mimeType": "application/pdf",
            **fields,
        }
    }


def image_item(descriptor: dict, **fields) -> dict:
    image = descriptor["media"]["image"]["image"]
    return {
        "image": {
            "id": descriptor["id"],
            "url": descriptor["url"],
            "filename": descriptor["displayName"],
            "width": image["width"],
            "height": image["height"],
            **fields,
        }
    }


@pytest.fixture
def pdf_and_png(uploaded) -> tuple[dict, dict]:
    return uploaded(), uploaded(png(), "shot.png", "image/png")


def test_form_media_get_urls_of_the_inbox_by_default(api, client, send, pdf_and_png, conversation):
    pdf, image = pdf_and_png
    sent_at = timezone.now()

    response = send(form_message(media=[file_item(pdf), image_item(image)]))

    assert response.status_code == 200, response.content
    media = response.json()["message"]["content"]["form"]["media"]
    file_media, image_media = media[0]["file"], media[1]["image"]
    assert {key: file_media[key] for key in ("id", "filename", "mimeType")} == {
        "id": pdf["id"],
        "filename": "cv.pdf",
        "mimeType": "application/pdf",
    }
    assert (image_media["id"], image_media["width"], image_media["height"]) == (image["id"], 37, 22)
    for item, content in ((file_media, PDF), (image_media, png())):
        assert item["url"].startswith("http://testserver/wix-sandbox/_download/")
        assert client.get(item["url"]).content == content
        expires = datetime.fromisoformat(item["urlExpiration"])
        assert sent_at + timedelta(hours=10) <= expires <= timezone.now() + timedelta(hours=10)
    listed = api.get(
        "/inbox/v2/messages", {"conversationId": conversation["id"], "visibility": "BUSINESS"}
    )
    assert listed.json()["messages"][0]["content"]["form"]["media"] == media


def test_form_media_urls_are_echoed_when_the_inbox_does_not_rewrite(send, pdf_and_png, settings):
    settings.WIX_SANDBOX_MEDIA_REWRITE_URLS = False
    pdf, image = pdf_and_png
    items = [file_item(pdf, urlExpiration="2030-01-01T00:00:00.000Z"), image_item(image)]

    media = send(form_message(media=items)).json()["message"]["content"]["form"]["media"]

    del items[0]["file"]["urlExpiration"]  # read-only: ignored
    assert media == items


@pytest.mark.parametrize(
    ("kind", "key", "length", "expected"),
    [
        ("file", "id", 2000, None),
        ("file", "id", 2001, "MAX_LENGTH"),
        ("file", "url", 2000, None),
        ("file", "url", 2001, "MAX_LENGTH"),
        ("file", "filename", 255, None),
        ("file", "filename", 256, "MAX_LENGTH"),
        ("file", "mimeType", 100, None),
        ("file", "mimeType", 101, "MAX_LENGTH"),
        ("image", "id", 2000, None),
        ("image", "id", 2001, "MAX_LENGTH"),
        ("image", "url", 2000, None),
        ("image", "url", 2001, "MAX_LENGTH"),
        ("image", "filename", 255, None),
        ("image", "filename", 256, "MAX_LENGTH"),
    ],
)
def test_form_media_field_lengths(send, settings, kind, key, length, expected):
    settings.WIX_SANDBOX_MEDIA_INVALID_URL = "never"
    item = {
        kind: {"id": "0abec0_x", "url": "https://static.wixstatic.com/media/x", key: "k" * length}
    }

    response = send(form_message(media=[MEDIA_ITEM, item]))

    if expected is None:
        assert response.status_code == 200, response.content
    else:
        assert violations(response) == [(f"message.content.form.media[1].{kind}.{key}", expected)]


@pytest.mark.parametrize(
    "item",
    [
        pytest.param({}, id="neither"),
        pytest.param({**MEDIA_ITEM, "file": {"url": "https://example.com/a.pdf"}}, id="both"),
    ],
)
def test_a_media_item_is_exactly_one_of_image_and_file(send, item):
    response = send(form_message(media=[item]))

    assert violations(response) == [("message.content.form.media[0]", "ONE_OF_ALIGNMENT")]


def test_image_sizes_must_be_whole_numbers(send):
    item = {"image": {"url": "https://static.wixstatic.com/media/x", "width": -1, "height": "x"}}

    response = send(form_message(media=[item]))

    assert violations(response) == [
        ("message.content.form.media[0].image.width", "MIN"),
        ("message.content.form.media[0].image.height", "FORMAT"),
    ]


EXTERNAL_IMAGE = {"image": {"url": "https://static.wixstatic.com/media/elsewhere.png"}}
UNKNOWN_FILE = {"file": {"id": "0abec0_unknown.pdf", "url": "https://x.usrfiles.com/ugd/u.pdf"}}


@pytest.mark.parametrize(
    ("mode", "items", "refused"),
    [
        ("never", lambda pdf: [UNKNOWN_FILE, EXTERNAL_IMAGE], None),
        ("unknown_id", lambda pdf: [file_item(pdf), EXTERNAL_IMAGE], None),
        ("unknown_id", lambda pdf: [file_item(pdf), UNKNOWN_FILE], 1),
        ("not_uploaded", lambda pdf: [file_item(pdf)], None),
        ("not_uploaded", lambda pdf: [file_item(pdf), EXTERNAL_IMAGE], 1),
        ("not_uploaded", lambda pdf: [file_item(pdf, url="https://example.com/cv.pdf")], 0),
        ("not_uploaded", lambda pdf: [UNKNOWN_FILE], 0),
    ],
)
def test_when_invalid_media_url_fires(send, uploaded, settings, mode, items, refused):
    settings.WIX_SANDBOX_MEDIA_INVALID_URL = mode

    response = send(form_message(media=items(uploaded())))

    if refused is None:
        assert response.status_code == 200, response.content
    else:
        error = application_error(response, 400)
        assert error["code"] == "INVALID_MEDIA_URL"
        assert error["description"].startswith(f"message.content.form.media[{refused}]: ")
        assert SandboxMessage.objects.count() == 0


def test_a_file_whose_url_was_made_but_never_used_is_unknown(send, upload_url):
    upload_url()
    never_uploaded = {"file": {"id": SandboxMediaFile.objects.get().id}}

    response = send(form_message(media=[never_uploaded]))

    assert application_error(response, 400)["code"] == "INVALID_MEDIA_URL"


def test_inbox_page_shows_the_attachments(admin_client, send, uploaded):
    pdf = uploaded()
    image = uploaded(png(), "<b>shot</b>.png", "image/png")
    items = [file_item(pdf), image_item(image), EXTERNAL_IMAGE]
    send(form_message(media=items))

    page = admin_client.get(MOUNT + "/").content.decode()

    links = re.findall(r'href="(/wix-sandbox/_download/[^"]+)">([^<]+)</a>', page)
    assert [name for _href, name in links] == ["cv.pdf", "&lt;b&gt;shot&lt;/b&gt;.png"]
    assert f'<img src="{links[1][0]}"' in page
    assert admin_client.get(links[0][0].replace("&amp;", "&")).content == PDF
    assert f"file · application/pdf · {len(PDF)}" in page
    assert "image · image/png · 37×22 · " in page
    assert re.search(
        r"https://static.wixstatic.com/media/elsewhere.png\s*<small>image · not a file of this"
        r" sandbox</small>",
        page,
    )
    assert "<b>shot" not in page


@pytest.mark.parametrize(
    ("endpoint", "call"),
    [
        ("media.upload_url", lambda api, client, url: api.post(f"{MEDIA}/upload-url", {})),
        ("media.upload", lambda api, client, url: put(client, url, PDF)),
        ("media.storage_quota", lambda api, client, url: api.get(f"{MEDIA}/storage-quota")),
        ("media.download_url", lambda api, client, url: api.post(f"{MEDIA}/download-url", {})),
    ],
)
def test_faults_cover_the_media_endpoints(api, client, upload_url, endpoint, call):
    url = upload_url()
    faults.save_rules({endpoint: {"error_503": 1}})

    response = call(api, client, url)

    assert response.status_code == 503
    assert ApiCall.objects.filter(endpoint=endpoint).latest("pk").fault == "error_503"


def test_an_upload_stored_then_failed_uses_up_its_url(api, client, upload_url):
    url = upload_url()
    faults.save_rules({"media.upload": {"store_then_fail": 1}})

    failed = put(client, url, PDF)
    faults.clear_rules()
    again = put(client, url, PDF)

    assert failed.status_code == 500
    assert SandboxMediaFile.objects.get().is_uploaded
    assert again.status_code == 403


def test_injected_upload_faults_follow_the_html_switch(client, upload_url, settings):
    settings.WIX_SANDBOX_MEDIA_UPLOAD_ERRORS = "html"
    url = upload_url()
    faults.save_rules({"media.upload": {"rate_limit_429": 1, "retry_after": 3}})

    response = put(client, url, PDF)

    assert response.status_code == 429
    assert response["Retry-After"] == "3"
    assert "<h1>429 Too Many Requests</h1>" in response.content.decode()


def test_the_fault_page_offers_the_media_endpoints(admin_client):
    page = admin_client.get(FAULT_PAGE).content.decode()

    for endpoint in (
        "media.upload_url",
        "media.upload",
        "media.storage_quota",
        "media.download_url",
    ):
        assert f'<option value="{endpoint}">{endpoint}</option>' in page


@pytest.mark.parametrize(
    "name",
    [
        "WIX_SANDBOX_MEDIA_INVALID_URL",
        "WIX_SANDBOX_MEDIA_UPLOAD_STATUS",
        "WIX_SANDBOX_MEDIA_UPLOAD_ERRORS",
    ],
)
def test_a_media_switch_with_an_unknown_word_fails_the_system_check(settings, name):
    setattr(settings, name, "sometimes")

    [error] = checks.media_switches(None)

    assert error.id == "wix_sandbox.E002"
    assert name in error.msg


def test_the_media_switches_are_read_from_the_environment(tmp_path):
    script = (
        "import django; django.setup(); from django.conf import settings;"
        "print(settings.WIX_SANDBOX_MEDIA_INVALID_URL, settings.WIX_SANDBOX_MEDIA_REWRITE_URLS,"
        " settings.WIX_SANDBOX_MEDIA_MAX_FILE_SIZE)"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "WIX_SANDBOX_MEDIA_INVALID_URL": "never",
        "WIX_SANDBOX_MEDIA_REWRITE_URLS": "false",
        "WIX_SANDBOX_MEDIA_MAX_FILE_SIZE": "1234",
    }

    shown = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True
    )

    assert shown.stdout.split() == ["never", "False", "1234"], shown.stderr


# --- Media over real HTTP, with our client --------------------------------------------------------


@pytest.fixture
def wix(sandbox_url):
    return WixClient(
        base_url=sandbox_url,
        auth=ApiKeyAuth(
            sandbox_setting("WIX_SANDBOX_API_KEY"), site_id=sandbox_setting("WIX_SANDBOX_SITE_ID")
        ),
    )


@pytest.mark.django_db(transaction=True)
def test_our_client_uploads_to_the_sandbox_on_loopback(wix, sandbox_url, tmp_path):
    path = tmp_path / "shot.png"
    path.write_bytes(png(40, 30))

    url = wix.generate_upload_url("shot.png", "image/png")
    with path.open("rb") as content:
        descriptor = wix.upload_file(url, content, mime_type="image/png", file_name="shot.png")

    assert url.startswith(f"{sandbox_url}/_upload/")
    assert descriptor["media"]["image"]["image"]["width"] == 40
    assert bytes(SandboxMediaFile.objects.get(pk=descriptor["id"]).content) == png(40, 30)


@pytest.mark.django_db(transaction=True)
def test_our_client_hears_an_oversized_upload_refused(wix, settings):
    settings.WIX_SANDBOX_MEDIA_MAX_FILE_SIZE = 100_000
    url = wix.generate_upload_url("big.txt", "text/plain")

    with pytest.raises(WixValidationError) as refused:
        wix.upload_file(url, b"x" * 1_000_000, mime_type="text/plain", file_name="big.txt")

    assert refused.value.code == "FILE_SIZE_OVER_LIMIT"


@pytest.mark.django_db(transaction=True)
def test_our_client_reads_an_html_upload_error(wix, settings):
    settings.WIX_SANDBOX_MEDIA_UPLOAD_ERRORS = "html"
    url = wix.generate_upload_url("cv.pdf", "application/pdf")

    with pytest.raises(WixValidationError) as refused:
        wix.upload_file(url, b"", mime_type="application/pdf", file_name="cv.pdf")

    assert 'the answer is text/html, not Wix\'s JSON: "400 Bad Request The file is empty"' in str(
        refused.value
    )
