"""What Wix's API gateway does around every endpoint.

For each request: a fresh x-wix-request-id, fault injection, authentication, the payload (the JSON
body, or the query string of a GET, with path parameters merged in as the SDK does), the endpoint's
handler, Wix's error shapes, and one ApiCall row recording what was received and answered (the
newest WIX_SANDBOX_API_CALL_LOG_SIZE rows are kept).
"""

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from . import errors, faults, rate_limit
from .auth import authenticate
from .conf import sandbox_setting
from .errors import ApiError
from .models import ApiCall
from .wire import new_request_id, query_payload

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-wix-request-id"
RECORDED_HEADERS = (
    "authorization",
    "wix-site-id",
    "wix-account-id",
    "content-type",
    "x-wix-consistent",
)


@dataclass(frozen=True)
class Endpoint:
    name: str  # as in fault rules, e.g. "messages.send"
    handler: Callable[..., dict]  # payload (, request) → 200 body; raises ApiError
    authenticated: bool = True
    # The handler is also given the request (to make absolute URLs, or read a raw body).
    takes_request: bool = False
    # The upload server's PUT rather than a JSON API call: the payload is the query string (and
    # path), the handler reads the raw body, the call log keeps only the body's size, and errors
    # come as WIX_SANDBOX_MEDIA_UPLOAD_ERRORS says.
    upload: bool = False

    def __post_init__(self):
        if self.name not in faults.ENDPOINTS:
            raise ValueError(f"{self.name!r} is not in faults.ENDPOINTS")


def api_view(**endpoints_by_method: Endpoint):
    """The view of one API path, each HTTP method served by its Endpoint.

    Without any endpoint it answers 404 (and still records the call): a catch-all for paths
    the sandbox does not serve, such as the SDK's /crm/inbox/... fallback mapping.
    """

    @csrf_exempt
    def view(request, **path_params):
        endpoint = endpoints_by_method.get(request.method)
        request_id = new_request_id()
        # Counted on arrival, as Wix's gateway would, before any fault or latency.
        retry_after = rate_limit.admit() if endpoint else None
        if retry_after is not None:
            response = _error_response(endpoint, errors.rate_limited(retry_after))
            response[REQUEST_ID_HEADER] = request_id
            _record(request, request_id, endpoint, faults.NO_FAULT, status=429)
            return response
        plan = faults.plan_for(endpoint.name) if endpoint else faults.NO_FAULT
        faults.add_latency(plan)
        if plan.fault == "reset":
            _record(request, request_id, endpoint, plan, status=None)
            # The server may still log the unsent placeholder response as a 500.
            logger.info("wix_sandbox: fault reset: dropping %s %s", request.method, request.path)
            return faults.drop_connection(request)
        response = _respond(request, endpoint, list(endpoints_by_method), path_params, plan)
        response[REQUEST_ID_HEADER] = request_id
        _record(request, request_id, endpoint, plan, status=response.status_code)
        return response

    return view


def _respond(request, endpoint, allowed_methods, path_params, plan) -> HttpResponse:
    try:
        if endpoint is None:
            if allowed_methods:
                raise errors.method_not_allowed(allowed_methods)
            raise errors.route_not_found()
        faults.fail_before_handling(plan)
        if endpoint.authenticated:
            authenticate(request)
        payload = {**_payload(request, endpoint), **path_params}
        if endpoint.takes_request or endpoint.upload:
            body = endpoint.handler(payload, request)
        else:
            body = endpoint.handler(payload)
        if plan.fault == "store_then_fail":
            raise errors.system_error(500)
        return JsonResponse(body)
    except ApiError as error:
        return _error_response(endpoint, error)
    except Exception:
        # An emulator bug: answer like a Wix 500 and keep the traceback in the log.
        logger.exception("wix_sandbox: %s %s failed", request.method, request.path)
        return _error_response(endpoint, errors.system_error(500))


def _error_response(endpoint, error: ApiError) -> HttpResponse:
    if (
        endpoint
        and endpoint.upload
        and sandbox_setting("WIX_SANDBOX_MEDIA_UPLOAD_ERRORS") == "html"
    ):
        return error.as_html_response()
    return error.as_response()


def _payload(request, endpoint) -> dict:
    if request.method == "GET" or endpoint.upload:
        return query_payload(request.GET)
    raw = _raw_body(request)
    if raw is None:
        raise ApiError(413, {"message": "Request Entity Too Large", "details": {}})
    if not raw:
        return {}
    try:
        payload = json.loads(raw)
    except ValueError:
        raise errors.bad_request("The request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise errors.bad_request("The request body must be a JSON object")
    return payload


def _raw_body(request) -> bytes | None:
    """The body, or None when it is over DATA_UPLOAD_MAX_MEMORY_SIZE."""
    try:
        return request.body
    except RequestDataTooBig:
        return None


def _record(request, request_id: str, endpoint, plan, status: int | None) -> None:
    if endpoint and endpoint.upload:
        # A file's bytes are no text to log: the upload's handler streamed them already.
        raw = f"[{request.META.get('CONTENT_LENGTH') or 0} bytes]".encode()
    else:
        raw = _raw_body(request)
    call = ApiCall.objects.create(
        request_id=request_id,
        endpoint=endpoint.name if endpoint else "",
        method=request.method,
        path=_path_in_sandbox(request),
        query_string=request.META.get("QUERY_STRING", ""),
        headers=_recorded_headers(request),
        body="" if raw is None else _without_secrets(raw.decode("utf-8", errors="replace")),
        status=status,
        fault=plan.fault,
    )
    _prune_call_log(call.pk)


def _prune_call_log(newest_id: int) -> None:
    """Keep the newest WIX_SANDBOX_API_CALL_LOG_SIZE calls. Pruning on one call in every tenth of
    the size makes it one indexed DELETE per batch, and the log at most a tenth over its size."""
    size = sandbox_setting("WIX_SANDBOX_API_CALL_LOG_SIZE")
    if newest_id % max(size // 10, 1) == 0:
        ApiCall.objects.filter(pk__lte=newest_id - size).delete()


def _path_in_sandbox(request) -> str:
    """The path relative to where the sandbox is mounted: "/inbox/v2/messages"."""
    mount = reverse("wix_sandbox:inbox").rstrip("/")
    return request.path.removeprefix(mount)


def _recorded_headers(request) -> dict:
    headers = {
        name: request.headers[name] for name in RECORDED_HEADERS if request.headers.get(name)
    }
    if "authorization" in headers:
        headers["authorization"] = _shown_credential(headers["authorization"])
    # wsgiref (runserver, the test live server) sets CONTENT_TYPE to text/plain when the request
    # has no Content-Type, so there that value cannot be told from an absent header.
    server = request.META.get("SERVER_SOFTWARE", "")
    if server.startswith("WSGIServer/") and headers.get("content-type") == "text/plain":
        del headers["content-type"]
    return headers


def _shown_credential(value: str) -> str:
    """A key or token (the sandbox's own, a real key pointed here by mistake) is recorded only as
    a fingerprint, enough to compare two calls: the log is shown to staff."""
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:16]


def _without_secrets(body: str) -> str:
    """Token requests carry the app secret: never store it."""
    if "client_secret" not in body:
        return body
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if isinstance(payload, dict) and "client_secret" in payload:
        payload["client_secret"] = "[removed]"  # noqa: S105 (a placeholder, not a secret)
        return json.dumps(payload)
    return "[withheld: the body mentions client_secret]"
