"""Who may call the sandbox's API, as Wix decides it (sdk-contract.md §3, docs-notes.md §2).

- API key: `Authorization: <key>` (raw, no `Bearer`) plus `wix-site-id`, never with
  `wix-account-id` as well.
- OAuth app: POST /oauth2/token (client credentials) issues a token, sent raw as `Authorization`;
  `wix-site-id` is then optional.

Neither the key nor a token is ever echoed back or logged. Tokens are stored as SHA-256 digests.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.utils import timezone

from .conf import sandbox_setting
from .errors import oauth_error, permission_denied, unauthenticated
from .models import SandboxAccessToken

# Expired tokens are kept this long, so a client using one hears "expired" rather than "unknown".
EXPIRED_TOKEN_RETENTION = timedelta(days=1)


def authenticate(request) -> None:
    """Return if the request may call the API; otherwise raise the 401 or 403 Wix would send."""
    authorization = request.headers.get("Authorization", "")
    if not authorization:
        raise unauthenticated("Missing Authorization header")
    if _same(authorization, sandbox_setting("WIX_SANDBOX_API_KEY")):
        _check_site(request, site_id_required=True)
        return
    token = SandboxAccessToken.objects.filter(token_digest=_digest(authorization)).first()
    if token is None:
        if authorization.lower().startswith("bearer "):
            raise unauthenticated("Send the API key or token as is, without a Bearer prefix")
        raise unauthenticated("Unknown API key or access token")
    if token.expires_at <= timezone.now():
        raise unauthenticated("The access token has expired")
    _check_site(request, site_id_required=False)


def _check_site(request, *, site_id_required: bool) -> None:
    site_id = request.headers.get("wix-site-id")
    account_id = request.headers.get("wix-account-id")
    if site_id and account_id:
        raise permission_denied("Send either wix-site-id or wix-account-id, not both")
    if account_id:
        raise permission_denied("Inbox and Contacts are site-level APIs: send wix-site-id")
    if not site_id:
        if site_id_required:
            raise permission_denied("Calls with an API key to site-level APIs need wix-site-id")
        return
    if not _same(site_id, sandbox_setting("WIX_SANDBOX_SITE_ID")):
        raise permission_denied("No access to this site")


def issue_token(payload: dict) -> dict:
    """POST /oauth2/token with the client_credentials grant (sdk-contract.md §3.2)."""
    if payload.get("grant_type") != "client_credentials":
        raise oauth_error(400, "unsupported_grant_type", "Only client_credentials is supported")
    missing = [
        name for name in ("client_id", "client_secret", "instance_id") if not payload.get(name)
    ]
    if missing:
        raise oauth_error(400, "invalid_request", f"Missing {', '.join(missing)}")
    if not (
        _same(str(payload["client_id"]), sandbox_setting("WIX_SANDBOX_APP_ID"))
        and _same(str(payload["client_secret"]), sandbox_setting("WIX_SANDBOX_APP_SECRET"))
    ):
        raise oauth_error(401, "invalid_client", "Unknown client or wrong client secret")
    if not _same(str(payload["instance_id"]), sandbox_setting("WIX_SANDBOX_INSTANCE_ID")):
        raise oauth_error(400, "invalid_grant", "The app is not installed on this instance")

    now = timezone.now()
    lifetime = int(sandbox_setting("WIX_SANDBOX_TOKEN_TTL"))
    SandboxAccessToken.objects.filter(expires_at__lt=now - EXPIRED_TOKEN_RETENTION).delete()
    token = secrets.token_urlsafe(32)
    SandboxAccessToken.objects.create(
        token_digest=_digest(token),
        instance_id=payload["instance_id"],
        expires_at=now + timedelta(seconds=lifetime),
        created=now,
    )
    return {"access_token": token, "token_type": "Bearer", "expires_in": lifetime}


def _same(given: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
