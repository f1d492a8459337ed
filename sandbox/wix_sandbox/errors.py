"""Non-200 answers in Wix's shapes (sdk-contract.md §5, §7.3).

Service code raises `ApiError`; the gateway turns it into the response. Descriptions never contain
the credentials a caller sent.
"""

from http import HTTPStatus

from django.http import HttpResponse, JsonResponse
from django.utils.html import format_html


class ApiError(Exception):
    def __init__(self, status: int, body: dict | None, headers: dict[str, str] | None = None):
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = headers or {}

    def as_response(self) -> HttpResponse:
        if self.body is None:
            response = HttpResponse(status=self.status)
        else:
            response = JsonResponse(self.body, status=self.status)
        return self._with_headers(response)

    def as_html_response(self) -> HttpResponse:
        """The same error as a web server's HTML page: its status and the error's words, and no
        JSON at all."""
        heading = f"{self.status} {HTTPStatus(self.status).phrase}"
        details = (self.body or {}).get("details") or {}
        words = (details.get("applicationError") or {}).get("description") or ""
        page = format_html(
            "<!DOCTYPE html><html><head><title>{}</title></head><body><h1>{}</h1><p>{}</p>"
            "</body></html>",
            heading,
            heading,
            words,
        )
        return self._with_headers(HttpResponse(page, status=self.status))

    def _with_headers(self, response: HttpResponse) -> HttpResponse:
        for name, value in self.headers.items():
            response[name] = value
        return response


def application_error(
    status: int,
    code: str,
    description: str,
    *,
    message: str | None = None,
    data: dict | None = None,
) -> ApiError:
    body = {
        "message": message or description,
        "details": {
            "applicationError": {"code": code, "description": description, "data": data or {}}
        },
    }
    return ApiError(status, body)


def validation_error(violations: list[dict]) -> ApiError:
    """400 with one fieldViolation per broken limit; `message` reads like the SDK's summary."""
    summary = ", ".join(f'"{v["field"]}" {v["description"]}' for v in violations)
    body = {
        "message": f"INVALID_ARGUMENT: {summary}",
        "details": {"validationError": {"fieldViolations": violations}},
    }
    return ApiError(400, body)


def bad_request(description: str) -> ApiError:
    return application_error(400, "INVALID_ARGUMENT", description)


def unauthenticated(description: str) -> ApiError:
    return application_error(401, "UNAUTHENTICATED", description, message="unauthorized")


def permission_denied(description: str) -> ApiError:
    return application_error(403, "PERMISSION_DENIED", description, message="Permission denied")


def contact_not_found() -> ApiError:
    return application_error(404, "CONTACT_NOT_FOUND", "Contact not found")


def conversation_not_found() -> ApiError:
    return application_error(404, "CONVERSATION_NOT_FOUND", "Conversation not found")


def route_not_found() -> ApiError:
    return ApiError(404, {"message": "Not Found", "details": {}})


def method_not_allowed(allowed: list[str]) -> ApiError:
    body = {"message": "Method Not Allowed", "details": {}}
    return ApiError(405, body, headers={"Allow": ", ".join(allowed)})


def rate_limited(retry_after_seconds: int | None) -> ApiError:
    body = application_error(
        429, "RESOURCE_EXHAUSTED", "Too many requests", message="Too Many Requests"
    ).body
    headers = {} if retry_after_seconds is None else {"Retry-After": str(retry_after_seconds)}
    return ApiError(429, body, headers)


def system_error(status: int) -> ApiError:
    """5xx as Wix sends them: an empty message and no details."""
    return ApiError(status, {"message": "", "details": {}})


def oauth_error(status: int, error: str, description: str) -> ApiError:
    """RFC 6749 §5.2 error body, as the token endpoint answers."""
    return ApiError(status, {"error": error, "error_description": description})
