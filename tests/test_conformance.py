"""Conformance: the official Wix JS SDK against our Wix sandbox, and our Python client against it.

`conformance/sdk_scenario.mjs` runs the real SDK (`@wix/sdk` + the inbox and contacts modules,
pinned in `conformance/package-lock.json`) against the live test server, with `fetch` rewritten
from `https://www.wixapis.com` to `<live server>/wix-sandbox` (shared/wix/sdk-contract.md §6). It
prints what each call returned or threw; the `test_sdk_*` tests check that the sandbox answers the
way the SDK expects.

The scenario also uploads two files (shared/wix/media-upload.md): it asks for upload URLs with
`@wix/comm-channels-media`, PUTs the bytes with plain `fetch` (the SDK has no upload helper), sends
a form message with both as `media`, and reads the storage quota and a download URL.

`test_python_client_sends_what_the_sdk_sends` then repeats the same calls with `WixClient` and
compares the requests the sandbox recorded (`wix_sandbox.models.ApiCall`) pair by pair (all but
SDK_ONLY_STEPS, calls Inbox Intake never makes).
`sandbox_url` (the live server's `/wix-sandbox`) comes from conftest.py.

Node and `conformance/node_modules` (`make conformance/node_modules/.installed`) are required:
without them these tests fail, they never skip.
"""

import base64
import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qsl

import pytest
import requests
from django.conf import settings

from inbox_intake.wix import ApiKeyAuth, WixClient, WixError
from wix_sandbox import faults
from wix_sandbox.conf import sandbox_setting
from wix_sandbox.models import ApiCall

pytestmark = pytest.mark.e2e  # runs the official SDK under Node.js: the slower tier

CONFORMANCE_DIR = settings.BASE_DIR / "conformance"
SCENARIO = CONFORMANCE_DIR / "sdk_scenario.mjs"
NODE_TIMEOUT_SECONDS = 120
# The request headers the comparison looks at (the SDK's own telemetry header is not among them).
COMPARED_HEADERS = ("authorization", "wix-site-id", "wix-account-id", "content-type")
# The scenario's last steps, which Inbox Intake's client has no method for.
SDK_ONLY_STEPS = ("getStorageQuota", "generateFileDownloadUrl")


@dataclass
class Run:
    """What one side (SDK or Python client) did: its outcomes and the requests the sandbox saw."""

    outcomes: dict
    calls: list[ApiCall]

    def __repr__(self) -> str:  # keeps failure reports short
        return f"Run({len(self.calls)} requests)"


# --- Fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def node():
    node = shutil.which("node")
    if node is None:
        pytest.fail("`node` is not on PATH: the Wix SDK conformance test needs Node.js 20+.")
    if not (CONFORMANCE_DIR / "node_modules" / "@wix" / "sdk").is_dir():
        pytest.fail(
            "conformance/node_modules is missing: run `make conformance/node_modules/.installed` "
            "(npm ci in conformance/) before the tests."
        )
    return node


@pytest.fixture(autouse=True)
def no_sandbox_faults(monkeypatch):
    """Conformance is about the sandbox's normal answers: ignore faults set for `make run`."""
    monkeypatch.delenv(faults.ENV_VAR, raising=False)


@pytest.fixture
def new_calls(transactional_db):
    """`new_calls()` returns the ApiCall rows recorded since the previous `new_calls()`."""
    last_id = 0

    def take() -> list[ApiCall]:
        nonlocal last_id
        calls = list(ApiCall.objects.filter(pk__gt=last_id).order_by("pk"))
        if calls:
            last_id = calls[-1].pk
        return calls

    take()
    return take


def unique_email(side: str) -> str:
    return f"conformance-{side}-{uuid.uuid4().hex[:12]}@example.com"


@pytest.fixture
def sdk_run(node, sandbox_url, new_calls) -> Run:
    env = {
        **os.environ,
        "SANDBOX_URL": sandbox_url,
        "WIX_API_KEY": sandbox_setting("WIX_SANDBOX_API_KEY"),
        "WIX_SITE_ID": sandbox_setting("WIX_SANDBOX_SITE_ID"),
        "CONFORMANCE_EMAIL": unique_email("sdk"),
    }
    try:
        done = subprocess.run(
            [node, str(SCENARIO)],
            cwd=CONFORMANCE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=NODE_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"sdk_scenario.mjs did not finish in {NODE_TIMEOUT_SECONDS}s:\n{error.stderr}")
    if done.returncode != 0:
        pytest.fail(f"sdk_scenario.mjs exited with {done.returncode}:\n{done.stderr}")
    try:
        outcomes = json.loads(done.stdout)
    except ValueError:
        pytest.fail(f"sdk_scenario.mjs printed something other than JSON:\n{done.stdout}")
    return Run(outcomes, new_calls())


@pytest.fixture
def sdk_steps(sdk_run) -> dict:
    return sdk_run.outcomes["steps"]


def ok(steps: dict, name: str):
    """The value an SDK step returned; fails the test with the SDK's error if it threw."""
    step = steps[name]
    assert step["ok"], f"{name} threw: {json.dumps(step['error'], indent=2)}"
    return step["value"]


def failed(steps: dict, name: str, status: int) -> dict:
    """The error an SDK step threw, which must carry `status` and a request id."""
    step = steps[name]
    assert not step["ok"], f"{name} should have failed with HTTP {status}, got {step['value']!r}"
    error = step["error"]
    assert error["status"] == status, f"{name}: {json.dumps(error, indent=2)}"
    assert error["requestId"], f"{name}: no x-wix-request-id on the error response"
    return error


def is_date(value) -> bool:
    """sdk_scenario.mjs prints JS Dates as {"$date": ISO}: the SDK parsed the timestamp."""
    return isinstance(value, dict) and value.get("$date", "Invalid Date") != "Invalid Date"


# --- The SDK against the sandbox -----------------------------------------------------------------


def test_sdk_creates_and_finds_a_contact(sdk_run):
    steps, email = sdk_run.outcomes["steps"], sdk_run.outcomes["inputs"]["email"]

    contact = ok(steps, "createContact")["contact"]
    assert contact["_id"]
    assert is_date(contact["_createdDate"])
    assert [item["email"] for item in contact["info"]["emails"]["items"]] == [email]
    assert contact["primaryInfo"]["email"] == email

    found = ok(steps, "queryContacts")
    assert [c["_id"] for c in found["contacts"]] == [contact["_id"]]


def test_sdk_gets_or_creates_one_conversation_per_contact(sdk_steps):
    contact_id = ok(sdk_steps, "createContact")["contact"]["_id"]

    first = ok(sdk_steps, "getOrCreateConversation1")
    second = ok(sdk_steps, "getOrCreateConversation2")
    assert first["conversation"]["_id"]
    assert first["conversation"]["participant"]["contactId"] == contact_id
    assert (first["newConversation"], second["newConversation"]) == (True, False)
    assert second["conversation"]["_id"] == first["conversation"]["_id"]

    conversation = ok(sdk_steps, "getConversation")  # the SDK unwraps `conversation`
    assert conversation["_id"] == first["conversation"]["_id"]


def test_sdk_sends_and_lists_a_form_message(sdk_run):
    steps, sent_message = sdk_run.outcomes["steps"], sdk_run.outcomes["inputs"]["formMessage"]
    contact_id = ok(steps, "createContact")["contact"]["_id"]

    message = ok(steps, "sendMessage")["message"]
    assert message["_id"]
    assert is_date(message["_createdDate"])
    assert message["sequence"]
    assert message["sender"]["contactId"] == contact_id
    assert message["direction"] == "PARTICIPANT_TO_BUSINESS"
    assert message["visibility"] == "BUSINESS"
    assert message["content"]["previewText"] == sent_message["content"]["previewText"]
    assert message["content"]["form"] == {**sent_message["content"]["form"], "media": []}
    # Fields the SDK's typings mark as always present.
    assert message["badges"] == []
    assert message["targetChannels"] == []
    assert message["targetChannelIds"] == []
    assert message["sourceChannel"]
    assert message["silent"] is False

    for name in ("listMessagesPlain", "listMessagesPaged"):
        listed = [m for m in ok(steps, name)["messages"] if m["_id"] == message["_id"]]
        assert listed == [message], name


def test_sdk_reads_the_sandbox_errors(sdk_steps):
    contact_id = ok(sdk_steps, "createContact")["contact"]["_id"]

    too_many_fields = failed(sdk_steps, "sendOversizedMessage", 400)
    violations = too_many_fields["details"]["validationError"]["fieldViolations"]
    assert "message.content.form.fields" in [v["field"] for v in violations]

    failed(sdk_steps, "wrongApiKey", 401)

    for name in ("getUnknownConversation", "sendToUnknownConversation"):
        error = failed(sdk_steps, name, 404)
        assert error["details"]["applicationError"]["code"] == "CONVERSATION_NOT_FOUND", name

    duplicate = failed(sdk_steps, "createDuplicateContact", 409)["details"]["applicationError"]
    assert duplicate["code"] == "DUPLICATE_CONTACT_EXISTS"
    assert duplicate["data"]["duplicateContactId"] == contact_id

    unsupported = failed(sdk_steps, "generateUploadUrlUnsupported", 400)["details"]
    assert unsupported["applicationError"]["code"] == "UNSUPPORTED_FILE_FORMAT"


def test_sdk_uploads_files_and_sends_them_as_media(sdk_run, sandbox_url):
    steps, inputs = sdk_run.outcomes["steps"], sdk_run.outcomes["inputs"]
    pdf_input, png_input = inputs["pdf"], inputs["png"]

    for file in (pdf_input, png_input):
        upload_url = ok(steps, f"generateUploadUrl:{file['fileName']}")["uploadUrl"]
        assert upload_url.startswith(f"{sandbox_url}/_upload/")
    pdf = ok(steps, f"upload:{pdf_input['fileName']}")
    png = ok(steps, f"upload:{png_input['fileName']}")
    assert (pdf["displayName"], pdf["mediaType"], pdf["operationStatus"]) == (
        "cv.pdf",
        "DOCUMENT",
        "READY",
    )
    assert pdf["sizeInBytes"] == str(len(base64.b64decode(pdf_input["base64"])))
    assert png["mediaType"] == "IMAGE"
    image = png["media"]["image"]["image"]
    assert (image["width"], image["height"]) == (png_input["width"], png_input["height"])

    message = ok(steps, "sendMessageWithMedia")["message"]
    file_media, image_media = (
        item.get("file") or item.get("image") for item in message["content"]["form"]["media"]
    )
    assert file_media["_id"] == pdf["id"]  # the SDK renames id at every depth
    assert (file_media["filename"], file_media["mimeType"]) == ("cv.pdf", "application/pdf")
    assert image_media["_id"] == png["id"]
    assert (image_media["width"], image_media["height"]) == (3, 2)
    for media in (file_media, image_media):
        # The sandbox's Inbox gives the files URLs of its own (WIX_SANDBOX_MEDIA_REWRITE_URLS),
        # whose expiry the SDK reads as a date.
        assert media["url"].startswith(f"{sandbox_url}/_download/")
        assert is_date(media["urlExpiration"])
    downloaded = requests.get(file_media["url"], timeout=10)
    assert downloaded.content == base64.b64decode(pdf_input["base64"])


def test_sdk_reads_the_storage_quota_and_a_download_url(sdk_steps, sandbox_url):
    pdf = ok(sdk_steps, "upload:cv.pdf")

    quota = ok(sdk_steps, "getStorageQuota")
    assert int(quota["totalQuota"]) >= int(quota["totalUsage"]) >= int(pdf["sizeInBytes"])

    download_url = ok(sdk_steps, "generateFileDownloadUrl")["downloadUrl"]
    assert download_url.startswith(f"{sandbox_url}/_download/")
    downloaded = requests.get(download_url, timeout=10)
    assert downloaded.headers["Content-Disposition"] == 'attachment; filename="Jane Doe CV.pdf"'
    assert len(downloaded.content) == int(pdf["sizeInBytes"])


# --- Our Python client against the SDK -----------------------------------------------------------


@pytest.fixture
def python_run(sdk_run, sandbox_url, new_calls) -> Run:
    """The SDK scenario's calls, in the same order, made with WixClient and a fresh email.

    It sends the SDK's own inputs (contact info, form message, unknown id, wrong key) with the
    SDK's email swapped for its own. Each outcome is the method's return value or the WixError.
    """
    inputs = sdk_run.outcomes["inputs"]
    email = unique_email("python")
    info = swap_strings({inputs["email"]: email}, inputs["contactInfo"])
    message = swap_strings({inputs["email"]: email}, inputs["formMessage"])
    oversized, unknown_id = inputs["oversizedMessage"], inputs["unknownConversationId"]

    def client(api_key=None):
        auth = ApiKeyAuth(
            api_key or sandbox_setting("WIX_SANDBOX_API_KEY"),
            site_id=sandbox_setting("WIX_SANDBOX_SITE_ID"),
        )
        return WixClient(base_url=sandbox_url, auth=auth, timeout=(5, 20))

    def attempt(call):
        try:
            return call()
        except WixError as error:
            return error

    wix = client()
    outcomes = {"email": email, "createContact": wix.create_contact(info)}
    contact_id = outcomes["createContact"]
    outcomes["queryContacts"] = wix.find_contact_id(email)
    for name in ("getOrCreateConversation1", "getOrCreateConversation2"):
        outcomes[name] = wix.get_or_create_conversation({"contactId": contact_id})
    conversation_id = outcomes["getOrCreateConversation1"]
    outcomes["sendMessage"] = wix.send_message(conversation_id, message)
    outcomes["listMessagesPlain"] = wix.list_messages(conversation_id, "BUSINESS")
    outcomes["listMessagesPaged"] = wix.list_messages(
        conversation_id, "BUSINESS", limit=10, sort_order="DESC"
    )
    outcomes["getConversation"] = wix.get_conversation(conversation_id)
    outcomes["sendOversizedMessage"] = attempt(lambda: wix.send_message(conversation_id, oversized))
    wrong_key = client(inputs["wrongApiKey"])
    outcomes["wrongApiKey"] = attempt(lambda: wrong_key.get_conversation(conversation_id))
    outcomes["getUnknownConversation"] = attempt(lambda: wix.get_conversation(unknown_id))
    outcomes["sendToUnknownConversation"] = attempt(lambda: wix.send_message(unknown_id, message))
    outcomes["createDuplicateContact"] = attempt(lambda: wix.create_contact(info))
    descriptors = {}
    for file in (inputs["pdf"], inputs["png"]):
        name, mime_type = file["fileName"], file["mimeType"]
        upload_url = wix.generate_upload_url(name, mime_type)
        outcomes[f"generateUploadUrl:{name}"] = upload_url
        content = base64.b64decode(file["base64"])
        descriptors[name] = wix.upload_file(
            upload_url, content, mime_type=mime_type, file_name=name
        )
        outcomes[f"upload:{name}"] = descriptors[name]
    outcomes["sendMessageWithMedia"] = wix.send_message(
        conversation_id, media_message(inputs, descriptors)
    )
    unsupported = inputs["unsupportedFile"]
    outcomes["generateUploadUrlUnsupported"] = attempt(
        lambda: wix.generate_upload_url(unsupported["fileName"], unsupported["mimeType"])
    )
    return Run(outcomes, new_calls())


def media_message(inputs: dict, descriptors: dict) -> dict:
    """The scenario's media message with our files, in REST names, as the delivery sends it."""
    pdf, png = descriptors[inputs["pdf"]["fileName"]], descriptors[inputs["png"]["fileName"]]
    image = png["media"]["image"]["image"]
    message = json.loads(json.dumps(inputs["mediaMessage"]))
    message["content"]["form"]["media"] = [
        {
            "file": {
                "id": pdf["id"],
                "url": pdf["url"],
                "filename": inputs["pdf"]["fileName"],
                "mimeType": inputs["pdf"]["mimeType"],
            }
        },
        {
            "image": {
                "id": png["id"],
                "url": png["url"],
                "filename": inputs["png"]["fileName"],
                "width": image["width"],
                "height": image["height"],
            }
        },
    ]
    return message


def test_python_client_gets_what_the_sdk_gets(python_run):
    py = python_run.outcomes
    contact_id, conversation_id = py["createContact"], py["getOrCreateConversation1"]

    assert py["queryContacts"] == contact_id
    assert py["getOrCreateConversation2"] == conversation_id
    assert py["getConversation"]["id"] == conversation_id
    assert py["sendMessage"]["id"]
    for name in ("listMessagesPlain", "listMessagesPaged"):
        messages, _cursor = py[name]
        assert [m for m in messages if m["id"] == py["sendMessage"]["id"]] == [py["sendMessage"]]

    def error(name: str, status: int, code: str | None = None) -> WixError:
        outcome = py[name]
        assert isinstance(outcome, WixError), f"{name}: expected HTTP {status}, got {outcome!r}"
        assert outcome.status == status, f"{name}: {outcome}"
        if code:
            assert outcome.code == code, f"{name}: {outcome}"
        assert outcome.request_id, f"{name}: no request id kept"
        return outcome

    error("sendOversizedMessage", 400)
    error("wrongApiKey", 401)
    error("getUnknownConversation", 404, "CONVERSATION_NOT_FOUND")
    error("sendToUnknownConversation", 404, "CONVERSATION_NOT_FOUND")
    # 409 DUPLICATE_CONTACT_EXISTS is resolved by the client to the existing contact.
    assert py["createDuplicateContact"] == contact_id

    pdf, png = py["upload:cv.pdf"], py["upload:shot & plan?.png"]
    assert (pdf["displayName"], pdf["mediaType"]) == ("cv.pdf", "DOCUMENT")
    assert png["media"]["image"]["image"]["width"] == 3
    media = py["sendMessageWithMedia"]["content"]["form"]["media"]
    assert [item.get("file", item.get("image"))["id"] for item in media] == [pdf["id"], png["id"]]
    error("generateUploadUrlUnsupported", 400, "UNSUPPORTED_FILE_FORMAT")


def test_python_client_sends_what_the_sdk_sends(sdk_run, python_run):
    """Request by request, the Python client's calls equal the SDK's, once its own values are
    renamed to the SDK's.

    The two runs differ only in values the sandbox or the test chose per run: the email, the
    contact and conversation ids the sandbox handed out, and the files' ids and upload URL
    tokens. Those are unique strings (an email with a random part, UUIDs, random ids and tokens),
    so every occurrence of a Python-run value, anywhere in the path, query or body, is replaced
    with the SDK-run value before comparing. Everything else (the Reference field's UUID, the
    unknown conversation id, the wrong API key, the files) was taken from the SDK run's inputs
    and is already identical.

    Compared per request: method, path, query (parsed; `.r` decoded from base64url JSON), JSON
    body (parsed), the headers in COMPARED_HEADERS, whether `x-wix-consistent` was sent, and the
    status the sandbox answered.
    """
    sdk_steps, py = sdk_run.outcomes["steps"], python_run.outcomes
    sdk_contact = ok(sdk_steps, "createContact")["contact"]
    sdk_conversation = ok(sdk_steps, "getOrCreateConversation1")["conversation"]
    python_to_sdk = {
        py["email"]: sdk_run.outcomes["inputs"]["email"],
        py["createContact"]: sdk_contact["_id"],
        py["getOrCreateConversation1"]: sdk_conversation["_id"],
    }
    for name in ("cv.pdf", "shot & plan?.png"):
        sdk_url = ok(sdk_steps, f"generateUploadUrl:{name}")["uploadUrl"]
        python_to_sdk[upload_token(py[f"generateUploadUrl:{name}"])] = upload_token(sdk_url)
        python_to_sdk[py[f"upload:{name}"]["id"]] = ok(sdk_steps, f"upload:{name}")["id"]
    # One request per step, in order; the steps only the SDK takes are left out.
    steps, sdk_requests = zip(
        *(
            (step, as_comparable(call))
            for step, call in zip(sdk_steps, sdk_run.calls, strict=True)
            if step not in SDK_ONLY_STEPS
        ),
        strict=True,
    )
    python_requests = [
        swap_strings(python_to_sdk, as_comparable(call)) for call in python_run.calls
    ]

    assert len(python_requests) == len(sdk_requests) == len(steps), (
        f"{len(steps)} steps; the sandbox recorded {len(sdk_requests)} SDK requests:\n"
        + "\n".join(describe(r) for r in sdk_requests)
        + f"\nand {len(python_requests)} Python requests:\n"
        + "\n".join(describe(r) for r in python_requests)
    )
    mismatches = [
        f"{step} · {aspect}:\n    SDK:    {sdk[aspect]!r}\n    Python: {python[aspect]!r}"
        for step, sdk, python in zip(steps, sdk_requests, python_requests, strict=True)
        for aspect in sdk
        if sdk[aspect] != python[aspect]
    ]
    assert not mismatches, "\n".join(mismatches)
    for request in python_requests:
        assert "wix-account-id" not in request["headers"], describe(request)
        has_body = request["method"] in ("POST", "PUT")
        assert ("content-type" in request["headers"]) == has_body, describe(request)
        if request["method"] == "PUT":  # the upload: its URL is its credential
            assert "authorization" not in request["headers"], describe(request)


# --- Helpers -------------------------------------------------------------------------------------


def upload_token(upload_url: str) -> str:
    return upload_url.rsplit("/", 1)[1]


def as_comparable(call: ApiCall) -> dict:
    """A recorded request as plain data: `.r` decoded, a JSON body parsed (an upload's body is
    recorded as its size), only the compared headers."""
    query = {}
    for key, value in parse_qsl(call.query_string, keep_blank_values=True):
        query.setdefault(key, []).append(decode_r(value) if key == ".r" else value)
    headers = {name.lower(): value for name, value in (call.headers or {}).items()}
    return {
        "method": call.method,
        "path": call.path,
        "query": query,
        "body": call.body if call.endpoint == "media.upload" else json.loads(call.body or "null"),
        "headers": {name: headers[name] for name in COMPARED_HEADERS if name in headers},
        "sends x-wix-consistent": "x-wix-consistent" in headers,
        "status": call.status,
    }


def decode_r(value: str):
    return json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))


def swap_strings(replacements: dict[str, str], data):
    """`data` with every occurrence of each key of `replacements`, inside any string, replaced."""
    if isinstance(data, str):
        for old, new in replacements.items():
            data = data.replace(old, new)
        return data
    if isinstance(data, dict):
        return {
            swap_strings(replacements, k): swap_strings(replacements, v) for k, v in data.items()
        }
    if isinstance(data, list | tuple):
        return type(data)(swap_strings(replacements, item) for item in data)
    return data


def describe(request: dict) -> str:
    return f"{request['method']} {request['path']} {request['query']} -> {request['status']}"
