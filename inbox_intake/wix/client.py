"""A small client for the Wix REST endpoints Inbox Intake uses, over one `requests.Session`.

Requests are what the official Wix JS SDK sends for the same calls (paths, bodies, query strings,
auth headers); see shared/wix-api.md, and shared/wix/media-upload.md for file uploads. Every
failure leaves as a `WixError` subclass: callers never see `requests` exceptions or status codes
they have to interpret themselves.
"""

import base64
import email.utils
import html
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import requests
from urllib3.exceptions import NewConnectionError

from .errors import (
    WixAmbiguousError,
    WixAuthError,
    WixConflictError,
    WixError,
    WixNotFoundError,
    WixPermanentError,
    WixRateLimitError,
    WixTokenError,
    WixTransientError,
    WixValidationError,
)

DEFAULT_BASE_URL = "https://www.wixapis.com"
DUPLICATE_CONTACT_CODES = {"DUPLICATE_CONTACT_EXISTS", "DUPLICATE_CONTACT_EXIST"}
#: How much of an error answer that is not JSON (an HTML page) its WixError quotes.
EXCERPT_LENGTH = 200


@dataclass(frozen=True)
class WixCall:
    """One HTTP request to Wix, as `on_call` hears of it: the endpoint by name (as the sandbox's
    faults name them), the HTTP status or, when no answer came, "timeout" or "connection_error",
    how long it took, and Wix's request id."""

    endpoint: str
    status: int | str
    seconds: float
    request_id: str | None = None


class WixClient:
    def __init__(
        self,
        *,
        auth,
        base_url: str = DEFAULT_BASE_URL,
        timeout: tuple[float, float] = (5.0, 20.0),
        session: requests.Session | None = None,
        throttle=None,
        on_call: Callable[[WixCall], None] | None = None,
    ):
        """`throttle`, if given, is called before every request and may wait: it is how the
        caller keeps all its processes together under Wix's rate limit. `on_call`, if given, is
        told of every request once it is over (for metrics and logs)."""
        self.auth = auth
        self.throttle = throttle
        self.on_call = on_call
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        # Wix sets X-Wix-Consistent for read-your-writes; the SDK echoes it on later requests.
        self._consistency_token: str | None = None

    # --- Contacts -------------------------------------------------------------------------------

    def find_contact_id(self, email: str) -> str | None:
        """The id of a contact that has this email among its emails, or None."""
        body = {"query": {"filter": {"info.emails.email": {"$eq": email}}, "paging": {"limit": 1}}}
        contacts = self._call(
            "POST",
            "/contacts/v4/contacts/query",
            endpoint="contacts.query",
            json_body=body,
            expect=("contacts",),
        )
        return contacts[0].get("id") if contacts else None

    def create_contact(self, info: dict) -> str:
        """Create a contact and return its id; if one with the same email exists, return that."""
        body = {"info": info, "allowDuplicates": False}
        try:
            return self._call(
                "POST",
                "/contacts/v4/contacts",
                endpoint="contacts.create",
                json_body=body,
                expect=("contact", "id"),
            )
        except WixConflictError as error:
            duplicate_id = error.data.get("duplicateContactId")
            if error.code in DUPLICATE_CONTACT_CODES and duplicate_id:
                return duplicate_id
            raise

    # --- Conversations --------------------------------------------------------------------------

    def get_or_create_conversation(self, participant: dict) -> str:
        """The id of the participant's conversation (one of contactId, memberId,
        anonymousVisitorId), created if it did not exist."""
        body = {"participantId": participant}
        return self._call(
            "POST",
            "/inbox/v2/conversations",
            endpoint="conversations.get_or_create",
            json_body=body,
            expect=("conversation", "id"),
        )

    def get_conversation(self, conversation_id: str) -> dict:
        # The SDK serializes the whole request, so the path id is repeated in the query.
        return self._call(
            "GET",
            f"/inbox/v2/conversations/{conversation_id}",
            endpoint="conversations.get",
            query={"conversationId": conversation_id},
            expect=("conversation",),
        )

    # --- Messages -------------------------------------------------------------------------------

    def send_message(self, conversation_id: str, message: dict, *, before_send=None) -> dict:
        """Post a message as the conversation's participant, notifying the business.

        Send Message has no idempotency key: a failure after the request left is ambiguous.
        `before_send`, if given, is called at the last moment (after any throttle wait) and may
        raise to call the send off.
        """
        body = {
            "conversationId": conversation_id,
            "message": message,
            "sendNotifications": True,
            "sendAs": "PARTICIPANT",
        }
        message = self._call(
            "POST",
            "/inbox/v2/messages",
            endpoint="messages.send",
            json_body=body,
            idempotent=False,
            expect=("message",),
            before_send=before_send,
        )
        if not isinstance(message, dict) or not message.get("id"):
            raise WixAmbiguousError(
                "POST /inbox/v2/messages: Wix answered 200 without a message id"
            )
        return message

    def list_messages(
        self,
        conversation_id: str,
        visibility: str = "BUSINESS",
        *,
        limit: int | None = None,
        cursor: str | None = None,
        sort_order: str | None = None,
    ) -> tuple[list[dict], str | None]:
        """One page of a conversation's messages (newest first by default) and the next cursor."""
        paging = _without_none({"limit": limit, "cursor": cursor})
        sorting = {"fieldName": "sequence", "order": sort_order} if sort_order else None
        payload = _without_none(
            {
                "conversationId": conversation_id,
                "visibility": visibility,
                "paging": paging or None,
                "sorting": sorting,
            }
        )
        answer = self._call(
            "GET",
            "/inbox/v2/messages",
            endpoint="messages.list",
            query=_sdk_complex_query(payload),
        )
        next_cursor = (answer.get("pagingMetadata") or {}).get("cursors", {}).get("next")
        return answer.get("messages", []), next_cursor or None

    # --- Media (Communication Channels Media API) ------------------------------------------------

    def generate_upload_url(self, file_name: str, mime_type: str) -> str:
        """A URL to PUT one file's bytes to (Wix says it is valid for 10 hours). This API needs
        only the "Manage Inbox Messages" permission that sending already needs."""
        upload_url = self._call(
            "POST",
            "/communication-channels-media/v1/upload-url",
            endpoint="media.upload_url",
            json_body={"fileName": file_name, "mimeType": mime_type},
            expect=("uploadUrl",),
        )
        if not isinstance(upload_url, str) or not upload_url:
            raise WixTransientError(
                "POST /communication-channels-media/v1/upload-url: Wix answered 200 without an"
                " upload URL",
                status=200,
            )
        return upload_url

    def upload_file(self, upload_url: str, content, *, mime_type: str, file_name: str) -> dict:
        """PUT a file's raw bytes (`content`: bytes or a binary file object) to an upload URL from
        `generate_upload_url`; return the Media Manager's file descriptor, in REST names (`id`,
        `url`, `sizeInBytes` as a decimal string, `media.image.image.width`, ...).

        The URL carries its own token, so no credentials are sent. An upload is never
        ambiguous: sending the bytes again can only leave an unused file in the Media Manager,
        never a second message, so a lost answer is a transient error.
        """
        separator = "&" if urlsplit(upload_url).query else "?"
        url = upload_url + separator + urlencode({"filename": file_name})
        # The URL's token is a credential: errors name its host only.
        what = f"PUT {urlsplit(upload_url).netloc}/… (upload URL)"
        response = self._send(
            "PUT",
            url,
            what,
            endpoint="media.upload",
            headers={"Content-Type": mime_type},
            data=content,
        )
        return _answer(response, what, idempotent=True, expect=("file",))

    # --- OAuth ----------------------------------------------------------------------------------

    def request_token(self, payload: dict) -> dict:
        """POST /oauth2/token, as the SDK's AppStrategy does: JSON only, no API headers."""
        url = self.base_url + "/oauth2/token"
        response = self._send(
            "POST",
            url,
            "POST /oauth2/token",
            endpoint="oauth2.token",
            headers={"Content-Type": "application/json"},
            data=_json(payload).encode(),
        )
        if response.status_code != 200:
            error = _error_from_response(response, "POST /oauth2/token", idempotent=True)
            if isinstance(error, WixTransientError):
                raise error  # Wix busy or down (429, 5xx): a later attempt may get a token
            # Any other answer (a 404 too: it is not a missing contact or conversation) means
            # the app's credentials are wrong.
            raise WixTokenError(
                f"The OAuth access token request failed: {error.message}",
                status=error.status,
                code=error.code,
                request_id=error.request_id,
            )
        answer = _json_answer(response, "POST /oauth2/token", idempotent=True)
        if not answer.get("access_token"):
            raise WixTokenError(
                "The OAuth access token request failed: Wix answered without an access token."
            )
        return answer

    # --- Transport ------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        json_body: dict | None = None,
        query: dict | None = None,
        idempotent: bool = True,
        expect: tuple[str, ...] = (),
        before_send=None,
    ):
        """Make one API call; return the answer's value at the key path `expect`."""
        what = f"{method} {path}"
        url = self.base_url + path
        if query:
            url += "?" + urlencode(query)
        data = _json(json_body).encode() if json_body is not None else None
        for can_refresh in (True, False):
            headers = {**self.auth.headers(self)}
            if data is not None:
                headers["Content-Type"] = "application/json"
            if self._consistency_token:
                headers["X-Wix-Consistent"] = self._consistency_token
            response = self._send(
                method,
                url,
                what,
                endpoint=endpoint,
                headers=headers,
                data=data,
                idempotent=idempotent,
                before_send=before_send,
            )
            consistency_token = response.headers.get("X-Wix-Consistent")
            if consistency_token:
                self._consistency_token = consistency_token
            if response.status_code == 401 and can_refresh and self.auth.refresh():
                continue
            return _answer(response, what, idempotent=idempotent, expect=expect)
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(
        self, method, url, what, *, endpoint, headers, data, idempotent=True, before_send=None
    ) -> requests.Response:
        """The one place every request goes through."""
        if self.throttle:
            self.throttle()
        if before_send:
            before_send()
        started = time.monotonic()
        try:
            response = self.session.request(
                method, url, headers=headers, data=data, timeout=self.timeout, allow_redirects=False
            )
        except requests.RequestException as error:
            no_answer = "timeout" if isinstance(error, requests.Timeout) else "connection_error"
            self._heard(WixCall(endpoint, no_answer, time.monotonic() - started))
            raise _transport_error(error, what, idempotent) from error
        request_id = response.headers.get("x-wix-request-id")
        self._heard(WixCall(endpoint, response.status_code, time.monotonic() - started, request_id))
        return response

    def _heard(self, call: WixCall) -> None:
        if self.on_call:
            self.on_call(call)


def _answer(response: requests.Response, what: str, *, idempotent: bool, expect: tuple[str, ...]):
    """A call's result: the value at `expect` in a 200 answer, or the WixError for any other."""
    if response.status_code != 200:
        raise _error_from_response(response, what, idempotent=idempotent)
    answer = _json_answer(response, what, idempotent=idempotent)
    return _expected(answer, expect, what, idempotent=idempotent)


def _transport_error(error: requests.RequestException, what: str, idempotent: bool) -> WixError:
    """The WixError for a request that got no answer."""
    if isinstance(error, requests.ConnectTimeout):
        return WixTransientError(f"{what}: timed out connecting to Wix")
    if isinstance(error, requests.ReadTimeout):
        return _lost_answer(f"{what}: Wix did not answer in time", idempotent)
    if isinstance(error, requests.ConnectionError):
        if _never_connected(error):
            return WixTransientError(f"{what}: could not connect to Wix")
        return _lost_answer(f"{what}: the connection to Wix broke", idempotent)
    return WixTransientError(f"{what}: {type(error).__name__}")


def _lost_answer(message: str, idempotent: bool) -> WixError:
    if idempotent:
        return WixTransientError(message)
    return WixAmbiguousError(message + "; the request may have taken effect")


def _never_connected(error: requests.ConnectionError) -> bool:
    reason = error.args[0] if error.args else None
    reason = getattr(reason, "reason", reason)
    return isinstance(reason, NewConnectionError)


@dataclass(frozen=True)
class _ErrorBody:
    """What a Wix error answer says: its message and application error, and any field
    violations (400), read leniently, since an error may come from a proxy with no JSON at all."""

    message: str | None
    code: str | None
    description: str | None
    data: dict | None
    violations: list[str]

    @classmethod
    def of(cls, response: requests.Response) -> "_ErrorBody":
        body = _json_or_none(response)
        if body is None and response.content:
            return cls.not_json(response)
        body = body if isinstance(body, dict) else {}
        details = body.get("details") if isinstance(body.get("details"), dict) else {}
        application_error = details.get("applicationError")
        application_error = application_error if isinstance(application_error, dict) else {}
        code = application_error.get("code")
        violations = [
            f"{violation.get('field')}: {violation.get('description')}"
            for violation in (details.get("validationError") or {}).get("fieldViolations", [])
        ]
        return cls(
            message=body.get("message"),
            code=str(code) if code is not None else None,
            description=application_error.get("description"),
            data=application_error.get("data"),
            violations=violations,
        )

    @classmethod
    def not_json(cls, response: requests.Response) -> "_ErrorBody":
        """An answer that is not JSON, such as a proxy's or the upload server's HTML error page:
        its type and the start of its text, so that the error still says what went wrong."""
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        described = f"the answer is {content_type or 'untyped'}, not Wix's JSON"
        readable = not content_type or content_type.startswith("text/") or "html" in content_type
        if readable and (excerpt := _plain_text(response.text)[:EXCERPT_LENGTH]):
            described += f': "{excerpt}"'
        return cls(message=None, code=None, description=described, data=None, violations=[])

    def text(self, what: str, reason: str | None) -> str:
        """ "POST /inbox/v2/messages: Wix's message: its description (field: problem; …)"."""
        text = f"{what}: {self.message or reason or 'error'}"
        if self.description and self.description != self.message:
            text += f": {self.description}"
        if self.violations:
            text += " (" + "; ".join(self.violations) + ")"
        return text


def _error_from_response(response: requests.Response, what: str, *, idempotent: bool) -> WixError:
    """The WixError for an answer other than 200, by what the caller should do next."""
    status = response.status_code
    body = _ErrorBody.of(response)
    text = body.text(what, response.reason)
    common = {
        "status": status,
        "code": body.code,
        "request_id": response.headers.get("x-wix-request-id"),
        "data": body.data,
    }
    if status == 400:
        return WixValidationError(text, violations=body.violations, **common)
    if status == 429:
        return WixRateLimitError(text, retry_after=_retry_after_seconds(response), **common)
    if status >= 500:
        if idempotent:
            return WixTransientError(text, **common)
        return WixAmbiguousError(text + "; the request may have taken effect", **common)
    error_class = ERROR_CLASSES_BY_STATUS.get(status)
    if error_class is None:
        return WixPermanentError(f"{what}: unexpected HTTP {status} from Wix", **common)
    return error_class(text, **common)


#: The answers that need nothing but their class (400, 429 and 5xx carry more).
ERROR_CLASSES_BY_STATUS = {
    401: WixAuthError,
    403: WixAuthError,
    404: WixNotFoundError,
    409: WixConflictError,
}


def _json_answer(response: requests.Response, what: str, *, idempotent: bool) -> dict:
    body = _json_or_none(response)
    if isinstance(body, dict):
        return body
    message = f"{what}: Wix answered 200 with a body that is not a JSON object"
    if idempotent:
        raise WixTransientError(message, status=200)
    raise WixAmbiguousError(message, status=200)


def _expected(answer: dict, path: tuple[str, ...], what: str, *, idempotent: bool):
    """The value at `path` in a 200 answer. A missing key means Wix answered something we do not
    understand: worth a later retry (and, after a send, a look first) rather than a crash."""
    value = answer
    for key in path:
        if not isinstance(value, dict) or key not in value:
            error_class = WixTransientError if idempotent else WixAmbiguousError
            raise error_class(f"{what}: Wix's answer has no {'.'.join(path)}", status=200)
        value = value[key]
    return value


def _json_or_none(response: requests.Response):
    try:
        return response.json()
    except ValueError:
        return None


def _plain_text(text: str) -> str:
    """The words of an HTML page (or of plain text), in one line."""
    text = re.sub(r"(?is)<(head|script|style)\b.*?</\1\s*>", " ", text)
    text = re.sub(r"<[^>]*>", " ", text)
    return " ".join(html.unescape(text).split())


def _retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _sdk_complex_query(payload: dict) -> dict:
    """The SDK's "complex" GET serialization: flat params, unless a nested object is present, in
    which case the whole payload travels as one base64url JSON parameter `.r`."""
    if any(isinstance(value, dict) for value in payload.values()):
        encoded = base64.urlsafe_b64encode(_json(payload).encode()).decode().rstrip("=")
        return {".r": encoded}
    return payload


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _without_none(mapping: dict) -> dict:
    return {key: value for key, value in mapping.items() if value is not None}
