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
    # --- Media (media.py). Uploaded bytes are kept in the database, bounded by these two. ---
    # Largest file a PUT to an upload URL takes (FILE_SIZE_OVER_LIMIT above it). Wix publishes no
    # figure; third parties report 25 MB for images and documents.
    "WIX_SANDBOX_MEDIA_MAX_FILE_SIZE": 25 * 1024 * 1024,
    # The site's storage quota (Get Storage Quota's totalQuota); an upload that would pass it is
    # refused with SITE_QUOTA_EXCEEDED. 500 MB is the storage of a Wix site on the free plan.
    "WIX_SANDBOX_MEDIA_STORAGE_QUOTA": 500 * 1024 * 1024,
    # How long an upload URL and a download URL are valid: Wix documents 10 hours for both.
    "WIX_SANDBOX_MEDIA_URL_TTL": 10 * 3600,
    # The operationStatus the upload answers: "READY" (what a live probe saw for a document) or
    # "PENDING" (what Wix's docs warn may happen). Either way the file can be sent at once.
    "WIX_SANDBOX_MEDIA_UPLOAD_STATUS": "READY",
    # When Send Message refuses a media item with INVALID_MEDIA_URL (400), which Wix declares
    # without saying when: "never"; "unknown_id" (an `id` that is not a file of this sandbox's
    # Media Manager; items with only a `url` pass, as in Wix's own example); "not_uploaded" (also
    # items without an id, or whose url is not their file's).
    "WIX_SANDBOX_MEDIA_INVALID_URL": "unknown_id",
    # Whether the Inbox answers (and lists) a media item of an uploaded file with a URL of its
    # own valid 10 hours and its urlExpiration, as the typings suggest, instead of echoing ours.
    "WIX_SANDBOX_MEDIA_REWRITE_URLS": True,
    # Whether the upload URL request refuses a fileName whose extension is not one of the
    # mimeType's (MIME_TYPE_MISMATCH), and the upload a Content-Type other than the one declared
    # (or application/octet-stream) and an image Pillow cannot read as its declared type.
    "WIX_SANDBOX_MEDIA_CHECK_MIME_TYPE": True,
    # The body of the upload's error answers: "json" (Wix's API shape) or "html" (a page, as a
    # live probe saw from the upload server).
    "WIX_SANDBOX_MEDIA_UPLOAD_ERRORS": "json",
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
