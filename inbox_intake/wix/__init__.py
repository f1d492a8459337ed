"""Client for the Wix REST API (contacts, inbox conversations and messages, media uploads)."""

from .auth import ApiKeyAuth, OAuthAppAuth
from .client import DEFAULT_BASE_URL, WixCall, WixClient
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

__all__ = [
    "DEFAULT_BASE_URL",
    "ApiKeyAuth",
    "OAuthAppAuth",
    "WixAmbiguousError",
    "WixAuthError",
    "WixCall",
    "WixClient",
    "WixConflictError",
    "WixError",
    "WixNotFoundError",
    "WixPermanentError",
    "WixRateLimitError",
    "WixTokenError",
    "WixTransientError",
    "WixValidationError",
]
