"""Settings of the example site, Inbox Intake's first host.

Everything that differs between machines comes from the environment (or a `.env` file beside
`manage.py`) through django-environ. The defaults are the embedded ones `make run` uses: SQLite and
kombu's file-system broker under `var/`, and, with DEBUG on and no Wix credentials, the local Wix
sandbox served by this same web process. Inbox Intake's own settings have their defaults in
`inbox_intake/conf.py`; any of them can be set here from a variable of the same name.
"""

import secrets
from pathlib import Path

import environ

from inbox_intake.beat import BEAT_SCHEDULE
from inbox_intake.conf import DEFAULTS as INBOX_INTAKE_DEFAULTS

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
# Made up only for development: in production every server must sign with the same key, so
# without one the site refuses to start (site_project/checks.py).
SECRET_KEY = env("SECRET_KEY", default=None) or (_local_secret_key() if DEBUG else "")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The web server's port. Under honcho (make run) every process gets a PORT of its own, and
# SITE_PORT carries the web server's to the others.
PORT = env.int("SITE_PORT", default=env.int("PORT", default=8000))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "pgtrigger",
    "inbox_intake",
    "site_project",
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
# The files visitors attach to submissions (INBOX_INTAKE_FILE_STORAGE): kept under var/, with no
# URL (FileSystemStorage would fall back to MEDIA_URL), so only the admin's permission-checked
# download serves them. In production, any django-storages backend, private.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "inbox_intake": {
        "BACKEND": "inbox_intake.storage.PrivateFileSystemStorage",
        "OPTIONS": {
            "location": env("INBOX_INTAKE_FILES_DIR", default=str(VAR_DIR / "attachments")),
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    },
}
WHITENOISE_USE_FINDERS = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # Celery's loggers for beat sending a task, the worker receiving it, and its success: the
    # routine tasks' lines are dropped, every other task's kept.
    "filters": {"quiet_routine_tasks": {"()": "inbox_intake.log_filters.QuietRoutineTasks"}},
    "loggers": {
        "django.server": {"level": "WARNING"},
        **{
            name: {"filters": ["quiet_routine_tasks"]}
            for name in ("celery.beat", "celery.worker.strategy", "celery.app.trace")
        },
    },
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
CELERY_BEAT_SCHEDULE = BEAT_SCHEDULE | {
    "inbox-intake-relay": BEAT_SCHEDULE["inbox-intake-relay"]
    | {"schedule": env.float("INBOX_INTAKE_RELAY_INTERVAL", default=5.0)}
}

# --- Inbox Intake --------------------------------------------------------------------------------
# The example site's two forms: the contact form the app ships, and a quote request of its own
# that shows every common field type as a row in the Inbox.
INBOX_INTAKE_FORMS = {
    "contact": {"form": "inbox_intake.forms.ContactForm"},
    "quote": {"form": "site_project.forms.QuoteRequestForm"},
}

# Every app setting can come from a variable of the same name, read with its default's type
# (lists comma-separated, dicts as JSON); what is not set keeps the app's default.
_READERS = {bool: env.bool, int: env.int, float: env.float, list: env.list, dict: env.json}
for _name, _default in INBOX_INTAKE_DEFAULTS.items():
    if _name in env.ENVIRON:
        globals()[_name] = _READERS.get(type(_default), env.str)(_name)

# Sandbox mode: with DEBUG on and no Wix credentials, deliver to the local Wix sandbox, served by
# this site under /wix-sandbox/. It is installed only then (or when chosen explicitly): with real
# credentials its URLs do not exist.
_WIX_CREDENTIALS_SET = bool(env("WIX_API_KEY", default="") or env("WIX_APP_ID", default=""))
INBOX_INTAKE_WIX_SANDBOX = env.bool(
    "INBOX_INTAKE_WIX_SANDBOX", default=DEBUG and not _WIX_CREDENTIALS_SET
)
if INBOX_INTAKE_WIX_SANDBOX:
    from wix_sandbox.conf import CREDENTIALS as _SANDBOX_CREDENTIALS
    from wix_sandbox.conf import DEFAULTS as _SANDBOX_DEFAULTS

    INSTALLED_APPS.append("wix_sandbox")
    for _name, _default in (_SANDBOX_DEFAULTS | dict.fromkeys(_SANDBOX_CREDENTIALS, "")).items():
        if _name in env.ENVIRON:
            globals()[_name] = _READERS.get(type(_default), env.str)(_name)
    if "WIX_API_BASE_URL" not in env.ENVIRON:
        WIX_API_BASE_URL = f"http://127.0.0.1:{PORT}/wix-sandbox"

# The rate limits' counters. One process (make run) can keep them in memory; several web processes
# must share them: CACHE_URL=redis://127.0.0.1:6379/1.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# Mail: Inbox Intake's alerts go to ADMINS (a comma-separated list of addresses) with Django's
# mail_admins. Under DEBUG (make run) mails are printed on the console; otherwise EMAIL_URL says
# where to send them, such as smtp+tls://user:password@smtp.example.com:587.
ADMINS = [(address, address) for address in env.list("ADMINS", default=[])]
SERVER_EMAIL = env("SERVER_EMAIL", default="inbox-intake@localhost")
vars().update(
    env.email_url("EMAIL_URL", default="consolemail://" if DEBUG else "smtp://localhost:25")
)

# Cookies. A form in an iframe on another site only gets its CSRF (and session) cookie back with
# SameSite=None, Secure and Partitioned (CSRF_/SESSION_COOKIE_PARTITIONED, read above: Django 5.2
# cannot write the attribute, inbox_intake.middleware.partitioned_cookies does).
CSRF_COOKIE_SAMESITE = env("CSRF_COOKIE_SAMESITE", default="Lax")
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
SESSION_COOKIE_SAMESITE = env("SESSION_COOKIE_SAMESITE", default="Lax")
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)

# HTTPS in production (`manage.py check --deploy`); see the README's "In production".
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("SECURE_PROXY_SSL", default=False) else None
)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
