"""The sandbox's settings. Each is read from Django settings when used, with a default here, so a
project need not define any of them and tests can override them.

Its credentials (API key, site id, OAuth app) have no default that anyone can read: unless a
project sets them, each is derived from the project's SECRET_KEY, so they differ on every machine,
every process of one site agrees on them, and a value in a repository opens no sandbox.
"""

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.utils.crypto import salted_hmac

#: Credentials derived from SECRET_KEY unless set; the value says how each looks.
CREDENTIALS = {
    "WIX_SANDBOX_API_KEY": "key",
    "WIX_SANDBOX_SITE_ID": "guid",
    # The emulated Wix app: the `appId` on messages and contacts, and the OAuth client.
    "WIX_SANDBOX_APP_ID": "guid",
    "WIX_SANDBOX_APP_SECRET": "key",
    "WIX_SANDBOX_INSTANCE_ID": "guid",
}

DEFAULTS = {
    "WIX_SANDBOX_TOKEN_TTL": 14400,
    # How long the `hang` fault holds a request before answering 504: longer than client timeouts.
    "WIX_SANDBOX_HANG_SECONDS": 60,
    "WIX_SANDBOX_BUSINESS_NAME": "Sandbox Business",
    # Wix's rate limit, emulated: API requests allowed in any sliding minute; 0 is no limit.
    "WIX_SANDBOX_RATE_LIMIT_PER_MINUTE": 0,
    # The API request log keeps the newest this many calls.
    "WIX_SANDBOX_API_CALL_LOG_SIZE": 10_000,
}


def sandbox_setting(name: str):
    if name in CREDENTIALS:
        return getattr(settings, name, "") or _derived(name, CREDENTIALS[name])
    return getattr(settings, name, DEFAULTS[name])


@dataclass(frozen=True)
class SandboxCredentials:
    api_key: str
    site_id: str

    def __repr__(self) -> str:
        return f"SandboxCredentials(site_id={self.site_id!r}, api_key=…)"


def sandbox_credentials() -> SandboxCredentials:
    """The API key and site id that open this sandbox (what Inbox Intake uses in sandbox mode)."""
    return SandboxCredentials(
        api_key=sandbox_setting("WIX_SANDBOX_API_KEY"),
        site_id=sandbox_setting("WIX_SANDBOX_SITE_ID"),
    )


def _derived(name: str, kind: str) -> str:
    digest = salted_hmac("wix_sandbox.credentials", name, algorithm="sha256").hexdigest()
    if kind == "guid":
        return str(uuid.UUID(digest[:32]))
    return f"IST.sandbox.{digest[:40]}"
