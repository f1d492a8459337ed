"""The sandbox's settings. Each is read from Django settings when used, with a default here, so a
project need not define any of them and tests can override them."""

from django.conf import settings

DEFAULTS = {
    # API-key credentials; the project's settings define both.
    "WIX_SANDBOX_API_KEY": "",
    "WIX_SANDBOX_SITE_ID": "",
    # The emulated Wix app: the `appId` on messages and contacts, and the OAuth client.
    "WIX_SANDBOX_APP_ID": "0f3c8a52-7d4e-4b1a-9c6f-2e8d5a1b3c47",
    "WIX_SANDBOX_APP_SECRET": "sandbox-app-secret",
    "WIX_SANDBOX_INSTANCE_ID": "d2b6f1e4-3a8c-4e5f-8b7d-9c0a1e2f3b4d",
    "WIX_SANDBOX_TOKEN_TTL": 14400,
    # How long the `hang` fault holds a request before answering 504: longer than client timeouts.
    "WIX_SANDBOX_HANG_SECONDS": 60,
    "WIX_SANDBOX_BUSINESS_NAME": "Sandbox Business",
    # Wix's rate limit, emulated: API requests allowed in any sliding minute; 0 is no limit.
    "WIX_SANDBOX_RATE_LIMIT_PER_MINUTE": 0,
}


def sandbox_setting(name: str):
    return getattr(settings, name, DEFAULTS[name])
