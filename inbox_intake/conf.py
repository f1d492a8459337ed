"""Every setting of Inbox Intake, with its default, read in one place.

A host project sets only what differs, in its Django settings, under the names below. Nothing else
in the app reads these names from `django.conf.settings`: it asks `intake_settings`, which reads
the Django setting at the moment it is asked (so `override_settings` works) and falls back to the
default here. `checks.py` validates them when Django starts.
"""

from dataclasses import dataclass

from django.conf import settings as django_settings

WIX_API_URL = "https://www.wixapis.com"

DEFAULTS = {
    # --- Wix: where to deliver, and as whom ------------------------------------------------------
    "WIX_API_BASE_URL": WIX_API_URL,
    "WIX_API_KEY": "",
    "WIX_SITE_ID": "",
    "WIX_ACCOUNT_ID": "",
    # OAuth app credentials (client credentials flow), the alternative to an API key.
    "WIX_APP_ID": "",
    "WIX_APP_SECRET": "",
    "WIX_APP_INSTANCE_ID": "",
    "WIX_CONNECT_TIMEOUT": 5.0,
    "WIX_READ_TIMEOUT": 20.0,
    # Where staff open a conversation in the Wix dashboard (a link in the admin).
    "WIX_DASHBOARD_URL": "https://manage.wix.com/dashboard",
    # Deliver to the local Wix sandbox (the `wix_sandbox` app, for development and tests) with its
    # own credentials, instead of to a real Wix site.
    "INBOX_INTAKE_WIX_SANDBOX": False,
    # --- The forms -------------------------------------------------------------------------------
    # slug → {"form": "dotted.path.FormClass", and options: see forms.FORM_OPTIONS}.
    "INBOX_INTAKE_FORMS": {"contact": {"form": "inbox_intake.forms.ContactForm"}},
    # The longest text one submission may hold: each accepted one fits one Wix message.
    "INBOX_INTAKE_MESSAGE_MAX_LENGTH": 50_000,
    # --- Attachments (file fields of a form; each form's entry may override the four limits) ----
    # The STORAGES alias the files are kept in until purged: never served publicly.
    "INBOX_INTAKE_FILE_STORAGE": "inbox_intake",
    # Largest file: 10 MB, above which Wix asks for resumable uploads.
    "INBOX_INTAKE_MAX_FILE_SIZE": 10 * 1024 * 1024,
    # All the files of one submission together.
    "INBOX_INTAKE_MAX_TOTAL_FILE_SIZE": 25 * 1024 * 1024,
    # Files per submission: Wix's form message carries at most 15 media items.
    "INBOX_INTAKE_MAX_FILES": 15,
    # The types accepted, as MIME types, told by the file's content (never its name).
    "INBOX_INTAKE_ALLOWED_FILE_TYPES": [
        "application/pdf",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "text/plain",
    ],
    # --- Delivery --------------------------------------------------------------------------------
    # Wix allows 200 requests per minute per site; every worker process shares this budget.
    "INBOX_INTAKE_WIX_REQUESTS_PER_MINUTE": 200,
    "INBOX_INTAKE_MAX_ATTEMPTS": 50,
    "INBOX_INTAKE_BACKOFF_BASE": 10.0,
    "INBOX_INTAKE_BACKOFF_CAP": 3600.0,
    "INBOX_INTAKE_LEASE_SECONDS": 300,
    "INBOX_INTAKE_QUEUED_GRACE_SECONDS": 60,
    "INBOX_INTAKE_RELAY_BATCH_SIZE": 100,
    "INBOX_INTAKE_RECONCILE_PAGES": 3,
    # What intake_purge does with old submissions: "delete" them, or "anonymise" them in place.
    "INBOX_INTAKE_PURGE_MODE": "delete",
    # --- Embedding and protection ----------------------------------------------------------------
    # Origins (scheme://host[:port]) that may frame the form, call its JSON endpoint, be sent to.
    "INBOX_INTAKE_ALLOWED_ORIGINS": [],
    # Reverse proxies in front of the site that append to X-Forwarded-For (0: trust none).
    "INBOX_INTAKE_TRUSTED_PROXY_COUNT": 0,
    # Submissions (any POST) per window from one client IP to one form, and to one form in all.
    "INBOX_INTAKE_RATE_LIMIT_WINDOW": 600,
    "INBOX_INTAKE_RATE_LIMIT_PER_IP": 20,
    "INBOX_INTAKE_RATE_LIMIT_PER_FORM": 500,
    "INBOX_INTAKE_MAX_REQUEST_BYTES": 1_048_576,
    # CAPTCHA: on when both keys are set.
    "INBOX_INTAKE_CAPTCHA_PROVIDER": "turnstile",
    "INBOX_INTAKE_CAPTCHA_SITE_KEY": "",
    "INBOX_INTAKE_CAPTCHA_SECRET_KEY": "",
    "INBOX_INTAKE_CAPTCHA_TIMEOUT": 5.0,
    # Partitioned (CHIPS) cookies, for a form framed by another site (middleware.py).
    "CSRF_COOKIE_PARTITIONED": False,
    "SESSION_COOKIE_PARTITIONED": False,
    # --- Operations: alerts, health, metrics, logs (alerts.py, health.py, metrics.py, logs.py) --
    # Mail the site's ADMINS (mail_admins) when submissions fail, and when the backlog is old.
    "INBOX_INTAKE_ALERT_FAILED": True,
    "INBOX_INTAKE_ALERT_BACKLOG": True,
    # At most one mail per kind of alert in this many seconds (a digest, never one per submission).
    "INBOX_INTAKE_ALERT_INTERVAL": 3600,
    # A pending submission older than this (seconds) is a stuck backlog: an alert, and a 503.
    "INBOX_INTAKE_BACKLOG_MAX_AGE": 900,
    # The relay runs every few seconds; a last run older than this (seconds) is a 503.
    "INBOX_INTAKE_RELAY_MAX_AGE": 300,
    # This site's address, such as https://forms.example.com, for links in alert mails (the app
    # cannot know it outside a request); empty: the links are paths.
    "INBOX_INTAKE_SITE_URL": "",
    # If set, the detailed health check answers only with this token (Bearer or ?token=).
    "INBOX_INTAKE_HEALTH_TOKEN": "",
    # Prometheus metrics (needs prometheus-client: inbox-intake[metrics]); off by default.
    "INBOX_INTAKE_METRICS": False,
    # Who may read the metrics: a token (Bearer or ?token=) and/or client IPs or networks.
    "INBOX_INTAKE_METRICS_TOKEN": "",
    "INBOX_INTAKE_METRICS_ALLOWED_IPS": [],
    # One line per delivery attempt: "keyvalue" (logfmt) or "json".
    "INBOX_INTAKE_LOG_FORMAT": "keyvalue",
}

PURGE_MODES = ("delete", "anonymise")
LOG_FORMATS = ("keyvalue", "json")
CAPTCHA_PROVIDERS = ("turnstile", "hcaptcha")


@dataclass(frozen=True)
class WixCredentials:
    api_key: str = ""
    site_id: str = ""
    account_id: str = ""
    app_id: str = ""
    app_secret: str = ""
    app_instance_id: str = ""

    def __repr__(self) -> str:  # never print a secret, even in a traceback's locals
        return f"WixCredentials(site_id={self.site_id!r}, app_id={self.app_id!r}, …)"


class IntakeSettings:
    """The app's settings, `intake_settings.INBOX_INTAKE_MAX_ATTEMPTS`, and what follows."""

    def __getattr__(self, name: str):
        try:
            default = DEFAULTS[name]
        except KeyError:
            raise AttributeError(f"Inbox Intake has no setting {name}") from None
        return getattr(django_settings, name, default)

    @property
    def uses_sandbox(self) -> bool:
        return bool(self.INBOX_INTAKE_WIX_SANDBOX)

    @property
    def has_real_credentials(self) -> bool:
        return bool(self.WIX_API_KEY or self.WIX_APP_ID)

    def wix_credentials(self) -> WixCredentials:
        """Who the client is at Wix: the configured credentials, or in sandbox mode the sandbox's
        own (per installation, never in any repository)."""
        if self.uses_sandbox:
            # Only in sandbox mode, where checks.py makes sure the app is installed.
            from wix_sandbox.conf import sandbox_credentials

            sandbox = sandbox_credentials()
            return WixCredentials(api_key=sandbox.api_key, site_id=sandbox.site_id)
        return WixCredentials(
            api_key=self.WIX_API_KEY,
            site_id=self.WIX_SITE_ID,
            account_id=self.WIX_ACCOUNT_ID,
            app_id=self.WIX_APP_ID,
            app_secret=self.WIX_APP_SECRET,
            app_instance_id=self.WIX_APP_INSTANCE_ID,
        )


intake_settings = IntakeSettings()
