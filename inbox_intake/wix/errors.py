"""One exception hierarchy for every failure of a Wix call.

Callers decide what to do by class, never by HTTP details:

- `WixTransientError`: the call did not take effect; trying again later is safe.
- `WixAmbiguousError`: the call may have taken effect (the request reached Wix, its answer was
  lost); look before trying again.
- `WixPermanentError`: trying again will fail the same way until someone changes something.

Every error carries what staff need to follow it up with Wix (HTTP status, Wix error code, request
id) and never a credential.
"""


class WixError(Exception):
    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        data: dict | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.data = data or {}

    def __str__(self) -> str:
        return error_text(
            self.message, status=self.status, code=self.code, request_id=self.request_id
        )


def error_text(message: str, *, status=None, code=None, request_id=None) -> str:
    """`POST /inbox/v2/messages: unauthorized · HTTP 401 · code UNAUTHENTICATED · request id …`"""
    parts = [message]
    if status is not None:
        parts.append(f"HTTP {status}")
    if code:
        parts.append(f"code {code}")
    if request_id:
        parts.append(f"request id {request_id}")
    return " · ".join(parts)


class WixTransientError(WixError):
    """Wix was unreachable, overloaded or failing; the call did not take effect."""


class WixRateLimitError(WixTransientError):
    """HTTP 429. `retry_after` is in seconds when Wix said how long to wait."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class WixAmbiguousError(WixError):
    """The request may have reached Wix and taken effect; its answer was lost or was an error."""


class WixPermanentError(WixError):
    """The request is wrong or not allowed; retrying it unchanged cannot succeed."""


class WixAuthError(WixPermanentError):
    """HTTP 401/403: a missing or wrong API key, site id, or permission."""


class WixTokenError(WixAuthError):
    """The OAuth token request was refused (wrong app id, secret or instance id; any answer but a
    temporary failure): no call can be made until the app's credentials are fixed."""


class WixNotFoundError(WixPermanentError):
    """HTTP 404: the contact or conversation does not exist (or no longer does)."""


class WixValidationError(WixPermanentError):
    """HTTP 400: Wix rejected the request's content. `violations` lists `field: description`."""

    def __init__(self, message: str, *, violations: list[str] | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.violations = violations or []


class WixConflictError(WixPermanentError):
    """HTTP 409, e.g. DUPLICATE_CONTACT_EXISTS (the client resolves that one itself)."""
