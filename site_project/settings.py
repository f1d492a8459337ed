"""Settings for the Inbox Intake site.

Everything that differs between machines comes from the environment (or a `.env` file beside
`manage.py`) through django-environ. The defaults are the embedded ones `make run` uses: SQLite and
kombu's file-system broker under `var/`, and the local Wix sandbox served by this same web process.
"""

import re
import secrets
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

VAR_DIR = Path(env("INBOX_INTAKE_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _local_secret_key() -> str:
    """A per-machine key kept under var/, so a fresh checkout runs without a secret in the repo."""
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default=None) or _local_secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
PORT = env.int("PORT", default=8000)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "inbox_intake",
    "wix_sandbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "inbox_intake.middleware.partitioned_cookies",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# A benchmark server mounts its baseline views beside the site (bench/urls.py).
ROOT_URLCONF = env("ROOT_URLCONF", default="site_project.urls")
WSGI_APPLICATION = "site_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "inbox_intake.context_processors.wix_mode",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
# Keep connections between requests and tasks: opening one per request halved intake throughput
# (docs/benchmarks.md). `?conn_max_age=` in DATABASE_URL, if given, wins.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and the worker write to the same file: wait for locks instead of failing,
    # and take the write lock up front so two writers never deadlock on an upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"  # filled by collectstatic in production
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.server": {"level": "WARNING"}},
}

# --- Celery -------------------------------------------------------------------------------------
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for folder in ("queue", "processed", "control"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_DEFAULT_QUEUE", default="inbox_intake")
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged only when it finished, and a worker killed mid-task gives its message back:
# the database claim makes a second delivery of the same message harmless.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "relay-due-submissions": {
        "task": "inbox_intake.tasks.relay_due_submissions",
        "schedule": env.float("INBOX_INTAKE_RELAY_INTERVAL", default=5.0),
    },
    "fold-status-tally": {
        "task": "inbox_intake.tasks.fold_status_tally",
        "schedule": 60.0,
    },
}

# --- Wix ----------------------------------------------------------------------------------------
# The local sandbox's own credentials. They guard a local emulator, not a real site.
WIX_SANDBOX_API_KEY = env("WIX_SANDBOX_API_KEY", default="IST.sandbox-api-key")
WIX_SANDBOX_SITE_ID = env("WIX_SANDBOX_SITE_ID", default="5a9d1b7e-0c1d-4c39-9f57-0a7d5e3b2c11")
WIX_SANDBOX_APP_ID = env("WIX_SANDBOX_APP_ID", default="0f3c8a52-7d4e-4b1a-9c6f-2e8d5a1b3c47")
WIX_SANDBOX_APP_SECRET = env("WIX_SANDBOX_APP_SECRET", default="sandbox-app-secret")
WIX_SANDBOX_INSTANCE_ID = env(
    "WIX_SANDBOX_INSTANCE_ID", default="d2b6f1e4-3a8c-4e5f-8b7d-9c0a1e2f3b4d"
)
# Wix's rate limit, emulated by the sandbox (API requests in any sliding minute; 0: no limit).
WIX_SANDBOX_RATE_LIMIT_PER_MINUTE = env.int("WIX_SANDBOX_RATE_LIMIT_PER_MINUTE", default=0)

WIX_API_KEY = env("WIX_API_KEY", default="")
WIX_SITE_ID = env("WIX_SITE_ID", default="")
WIX_ACCOUNT_ID = env("WIX_ACCOUNT_ID", default="")
# OAuth app credentials (client credentials flow), the alternative to an API key.
WIX_APP_ID = env("WIX_APP_ID", default="")
WIX_APP_SECRET = env("WIX_APP_SECRET", default="")
WIX_APP_INSTANCE_ID = env("WIX_APP_INSTANCE_ID", default="")
WIX_USES_SANDBOX = not (WIX_API_KEY or WIX_APP_ID)
if WIX_USES_SANDBOX:
    WIX_API_BASE_URL = env("WIX_API_BASE_URL", default=f"http://127.0.0.1:{PORT}/wix-sandbox")
    WIX_API_KEY = WIX_SANDBOX_API_KEY
    WIX_SITE_ID = WIX_SANDBOX_SITE_ID
    WIX_ACCOUNT_ID = ""
else:
    WIX_API_BASE_URL = env("WIX_API_BASE_URL", default="https://www.wixapis.com")
WIX_CONNECT_TIMEOUT = env.float("WIX_CONNECT_TIMEOUT", default=5.0)
WIX_READ_TIMEOUT = env.float("WIX_READ_TIMEOUT", default=20.0)
# Where staff open a conversation in the Wix dashboard (used by the admin for a link).
WIX_DASHBOARD_URL = env("WIX_DASHBOARD_URL", default="https://manage.wix.com/dashboard")

# --- Inbox Intake -------------------------------------------------------------------------------
INBOX_INTAKE_FORM_TITLE = env("INBOX_INTAKE_FORM_TITLE", default="Website contact form")
INBOX_INTAKE_FORM_DESCRIPTION = env(
    "INBOX_INTAKE_FORM_DESCRIPTION", default="A visitor sent this through the website contact form."
)
# Wix allows 200 requests per minute per site; every worker process shares this budget.
INBOX_INTAKE_WIX_REQUESTS_PER_MINUTE = env.int("INBOX_INTAKE_WIX_REQUESTS_PER_MINUTE", default=200)
INBOX_INTAKE_MAX_ATTEMPTS = env.int("INBOX_INTAKE_MAX_ATTEMPTS", default=50)
INBOX_INTAKE_BACKOFF_BASE = env.float("INBOX_INTAKE_BACKOFF_BASE", default=10.0)
INBOX_INTAKE_BACKOFF_CAP = env.float("INBOX_INTAKE_BACKOFF_CAP", default=3600.0)
INBOX_INTAKE_LEASE_SECONDS = env.int("INBOX_INTAKE_LEASE_SECONDS", default=300)
INBOX_INTAKE_QUEUED_GRACE_SECONDS = env.int("INBOX_INTAKE_QUEUED_GRACE_SECONDS", default=60)
INBOX_INTAKE_RELAY_BATCH_SIZE = env.int("INBOX_INTAKE_RELAY_BATCH_SIZE", default=100)
INBOX_INTAKE_RECONCILE_PAGES = env.int("INBOX_INTAKE_RECONCILE_PAGES", default=3)
INBOX_INTAKE_MESSAGE_MAX_LENGTH = env.int("INBOX_INTAKE_MESSAGE_MAX_LENGTH", default=50_000)
# What intake_purge does with old submissions: "delete" them, or "anonymise" them in place.
INBOX_INTAKE_PURGE_MODE = env("INBOX_INTAKE_PURGE_MODE", default="delete")
if INBOX_INTAKE_PURGE_MODE not in ("delete", "anonymise"):
    raise ValueError("INBOX_INTAKE_PURGE_MODE must be 'delete' or 'anonymise'.")

# Embedding the form on other sites, and protecting it (see README "Embedding the form").
# Origins (scheme://host[:port]) that may frame the form, call its JSON endpoint, be redirected to.
INBOX_INTAKE_ALLOWED_ORIGINS = env.list("INBOX_INTAKE_ALLOWED_ORIGINS", default=[])
for _origin in INBOX_INTAKE_ALLOWED_ORIGINS:
    # They end up in a Content-Security-Policy header: nothing but a plain origin may get there.
    if not re.fullmatch(r"https?://[a-z0-9.\-]+(:[0-9]+)?", _origin):
        raise ValueError(
            f"INBOX_INTAKE_ALLOWED_ORIGINS: {_origin!r} is not a lower-case origin "
            "such as https://www.example.com"
        )
# Reverse proxies in front of the site that append to X-Forwarded-For (0: trust no such header).
INBOX_INTAKE_TRUSTED_PROXY_COUNT = env.int("INBOX_INTAKE_TRUSTED_PROXY_COUNT", default=0)
# Submissions (any POST) allowed per window: from one client IP to one form, and to one form in all.
# 0 turns a limit off.
INBOX_INTAKE_RATE_LIMIT_WINDOW = env.int("INBOX_INTAKE_RATE_LIMIT_WINDOW", default=600)
INBOX_INTAKE_RATE_LIMIT_PER_IP = env.int("INBOX_INTAKE_RATE_LIMIT_PER_IP", default=20)
INBOX_INTAKE_RATE_LIMIT_PER_FORM = env.int("INBOX_INTAKE_RATE_LIMIT_PER_FORM", default=500)
INBOX_INTAKE_MAX_REQUEST_BYTES = env.int("INBOX_INTAKE_MAX_REQUEST_BYTES", default=1_048_576)
# CAPTCHA: on when both keys are set. Provider: "turnstile" (Cloudflare) or "hcaptcha".
INBOX_INTAKE_CAPTCHA_PROVIDER = env("INBOX_INTAKE_CAPTCHA_PROVIDER", default="turnstile")
if INBOX_INTAKE_CAPTCHA_PROVIDER not in ("turnstile", "hcaptcha"):
    raise ValueError("INBOX_INTAKE_CAPTCHA_PROVIDER must be 'turnstile' or 'hcaptcha'.")
INBOX_INTAKE_CAPTCHA_SITE_KEY = env("INBOX_INTAKE_CAPTCHA_SITE_KEY", default="")
INBOX_INTAKE_CAPTCHA_SECRET_KEY = env("INBOX_INTAKE_CAPTCHA_SECRET_KEY", default="")
INBOX_INTAKE_CAPTCHA_TIMEOUT = env.float("INBOX_INTAKE_CAPTCHA_TIMEOUT", default=5.0)

# The rate limits' counters. One process (make run) can keep them in memory; several web processes
# must share them: CACHE_URL=redis://127.0.0.1:6379/1.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# Cookies. A form in an iframe on another site only gets its CSRF (and session) cookie back with
# SameSite=None, Secure and Partitioned: browsers that block third-party cookies still keep
# partitioned ones (inbox_intake.middleware.partitioned_cookies adds the attribute).
CSRF_COOKIE_SAMESITE = env("CSRF_COOKIE_SAMESITE", default="Lax")
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
CSRF_COOKIE_PARTITIONED = env.bool("CSRF_COOKIE_PARTITIONED", default=False)
SESSION_COOKIE_SAMESITE = env("SESSION_COOKIE_SAMESITE", default="Lax")
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
SESSION_COOKIE_PARTITIONED = env.bool("SESSION_COOKIE_PARTITIONED", default=False)
for _cookie, _secure, _samesite, _partitioned in (
    ("CSRF", CSRF_COOKIE_SECURE, CSRF_COOKIE_SAMESITE, CSRF_COOKIE_PARTITIONED),
    ("SESSION", SESSION_COOKIE_SECURE, SESSION_COOKIE_SAMESITE, SESSION_COOKIE_PARTITIONED),
):
    # Browsers silently drop such a cookie; failing here is clearer than a CSRF error in the iframe.
    if (_samesite == "None" or _partitioned) and not _secure:
        raise ValueError(
            f"{_cookie}_COOKIE_SAMESITE=None and {_cookie}_COOKIE_PARTITIONED need "
            f"{_cookie}_COOKIE_SECURE=true."
        )
