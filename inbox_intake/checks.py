"""System checks: a setting that cannot work is reported when Django starts (`manage.py check`,
`runserver`, `migrate`), with what to set, instead of failing on a visitor's request."""

import ipaddress
import re
from importlib.util import find_spec
from pathlib import Path

from django.apps import apps
from django.conf import settings as django_settings
from django.core import checks
from django.core.files.storage import FileSystemStorage, storages

from .conf import CAPTCHA_PROVIDERS, LOG_FORMATS, PURGE_MODES, WIX_API_URL, intake_settings
from .uploads import (
    LIMIT_SETTINGS,
    WIX_MAX_FILES,
    WIX_SIMPLE_UPLOAD_BYTES,
    format_size,
    limit_problems,
)

#: Origins end up in a Content-Security-Policy header: nothing but a plain origin may get there.
ORIGIN_PATTERN = re.compile(r"https?://[a-z0-9.\-]+(:[0-9]+)?")


@checks.register(checks.Tags.security)
def check_allowed_origins(app_configs, **kwargs):
    origins = intake_settings.INBOX_INTAKE_ALLOWED_ORIGINS
    if isinstance(origins, str):
        return [
            checks.Error(
                "INBOX_INTAKE_ALLOWED_ORIGINS is a string; it must be a list of origins.",
                hint='Set INBOX_INTAKE_ALLOWED_ORIGINS = ["https://www.example.com"].',
                id="inbox_intake.E001",
            )
        ]
    return [
        checks.Error(
            f"INBOX_INTAKE_ALLOWED_ORIGINS: {origin!r} is not a lower-case origin.",
            hint="Write each as scheme://host[:port] with no path or trailing slash, "
            "such as https://www.example.com.",
            id="inbox_intake.E001",
        )
        for origin in origins
        if not (isinstance(origin, str) and ORIGIN_PATTERN.fullmatch(origin))
    ]


#: Settings that take one of a few values, with the id of the error for any other.
CHOICES = {
    "INBOX_INTAKE_PURGE_MODE": (PURGE_MODES, "inbox_intake.E002"),
    "INBOX_INTAKE_CAPTCHA_PROVIDER": (CAPTCHA_PROVIDERS, "inbox_intake.E003"),
}


@checks.register
def check_choices(app_configs, **kwargs):
    return [
        checks.Error(
            f"{name} is {getattr(intake_settings, name)!r}.",
            hint=f"Set {name} to one of {', '.join(choices)}.",
            id=check_id,
        )
        for name, (choices, check_id) in CHOICES.items()
        if getattr(intake_settings, name) not in choices
    ]


@checks.register(checks.Tags.security)
def check_cookies(app_configs, **kwargs):
    """Browsers silently drop a SameSite=None or Partitioned cookie without Secure: a form framed
    by another site would then fail its CSRF check with no clue why."""
    errors = []
    for cookie in ("CSRF", "SESSION"):
        secure = getattr(django_settings, f"{cookie}_COOKIE_SECURE", False)
        samesite = getattr(django_settings, f"{cookie}_COOKIE_SAMESITE", "Lax")
        partitioned = getattr(intake_settings, f"{cookie}_COOKIE_PARTITIONED")
        if (samesite == "None" or partitioned) and not secure:
            errors.append(
                checks.Error(
                    f"{cookie}_COOKIE_SAMESITE=None or {cookie}_COOKIE_PARTITIONED=True "
                    f"without {cookie}_COOKIE_SECURE: browsers drop such a cookie.",
                    hint=f"Set {cookie}_COOKIE_SECURE = True (the site must be served over HTTPS).",
                    id="inbox_intake.E004",
                )
            )
    return errors


@checks.register
def check_wix_credentials(app_configs, **kwargs):
    s = intake_settings
    sandbox_installed = apps.is_installed("wix_sandbox")
    if s.uses_sandbox:
        errors = []
        if not sandbox_installed:
            errors.append(
                checks.Error(
                    "INBOX_INTAKE_WIX_SANDBOX is on but the wix_sandbox app is not installed.",
                    hint='Add "wix_sandbox" to INSTALLED_APPS and include wix_sandbox.urls, or '
                    "turn INBOX_INTAKE_WIX_SANDBOX off and set real Wix credentials.",
                    id="inbox_intake.E006",
                )
            )
        if s.WIX_API_BASE_URL.rstrip("/") == WIX_API_URL:
            errors.append(
                checks.Error(
                    "INBOX_INTAKE_WIX_SANDBOX is on but WIX_API_BASE_URL is Wix's own address.",
                    hint="Set WIX_API_BASE_URL to where this site serves the sandbox, "
                    "such as http://127.0.0.1:8000/wix-sandbox.",
                    id="inbox_intake.E007",
                )
            )
        if s.has_real_credentials:
            errors.append(
                checks.Error(
                    "INBOX_INTAKE_WIX_SANDBOX is on while real Wix credentials are set: "
                    "submissions would go to the sandbox, not to the Wix site.",
                    hint="Turn INBOX_INTAKE_WIX_SANDBOX off to deliver to Wix, or unset "
                    "WIX_API_KEY / WIX_APP_ID.",
                    id="inbox_intake.E008",
                )
            )
        return errors
    errors = []
    if sandbox_installed and not django_settings.DEBUG:
        errors.append(
            checks.Error(
                "The wix_sandbox app is installed in a production configuration (DEBUG off, "
                "INBOX_INTAKE_WIX_SANDBOX off): it would serve a fake Wix API from this site.",
                hint='Remove "wix_sandbox" from INSTALLED_APPS and its URLs; it is a tool '
                "for development and tests.",
                id="inbox_intake.E009",
            )
        )
    if s.has_real_credentials:
        return errors + _incomplete_credentials()
    message = "No Wix credentials are set: no submission can be delivered."
    hint = (
        "Set WIX_API_KEY and WIX_SITE_ID (or WIX_APP_ID, WIX_APP_SECRET and "
        "WIX_APP_INSTANCE_ID); for development, set INBOX_INTAKE_WIX_SANDBOX = True with "
        "the wix_sandbox app installed."
    )
    if django_settings.DEBUG:
        return [*errors, checks.Warning(message, hint=hint, id="inbox_intake.W001")]
    return [*errors, checks.Error(message, hint=hint, id="inbox_intake.E005")]


def _incomplete_credentials():
    s = intake_settings
    if s.WIX_APP_ID:
        missing = [
            name for name in ("WIX_APP_SECRET", "WIX_APP_INSTANCE_ID") if not getattr(s, name)
        ]
        if missing:
            return [
                checks.Error(
                    f"WIX_APP_ID is set without {' and '.join(missing)}.",
                    hint="An OAuth app needs its id, its secret and the instance id of the "
                    "site that installed it.",
                    id="inbox_intake.E010",
                )
            ]
    elif not s.WIX_SITE_ID:
        return [
            checks.Error(
                "WIX_API_KEY is set without WIX_SITE_ID: Inbox and Contacts are site-level APIs.",
                hint="Set WIX_SITE_ID to the GUID after /dashboard/ in the site's dashboard URL.",
                id="inbox_intake.E010",
            )
        ]
    return []


@checks.register
def check_pgtrigger(app_configs, **kwargs):
    """The status tally's triggers come with pgtrigger's migration operations, which need its app
    on every database: without it, `migrate` would stop on a TypeError about Meta.triggers."""
    if apps.is_installed("pgtrigger"):
        return []
    return [
        checks.Error(
            "The pgtrigger app is not installed: Inbox Intake's migrations need it.",
            hint='Add "pgtrigger" to INSTALLED_APPS.',
            id="inbox_intake.E030",
        )
    ]


CORS_MIDDLEWARE = "corsheaders.middleware.CorsMiddleware"
#: Middleware that may answer a request by itself: corsheaders' must come before them.
ANSWERING_MIDDLEWARE = (
    "django.middleware.common.CommonMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
)


@checks.register
def check_corsheaders(app_configs, **kwargs):
    """The JSON endpoint's and the schema's CORS headers come from corsheaders' middleware, which
    asks the app (cors.py): without it, no page on an allowed origin could read their answers."""
    errors = []
    if not apps.is_installed("corsheaders"):
        errors.append(
            checks.Error(
                "The corsheaders app is not installed: Inbox Intake's CORS headers need it.",
                hint='Add "corsheaders" to INSTALLED_APPS.',
                id="inbox_intake.E031",
            )
        )
    middleware = list(django_settings.MIDDLEWARE)
    if CORS_MIDDLEWARE not in middleware:
        return [
            *errors,
            checks.Error(
                f"{CORS_MIDDLEWARE} is not in MIDDLEWARE: pages on INBOX_INTAKE_ALLOWED_ORIGINS "
                "could not read the JSON endpoint's answers.",
                hint=f'Add "{CORS_MIDDLEWARE}" at the top of MIDDLEWARE.',
                id="inbox_intake.E032",
            ),
        ]
    above = middleware[: middleware.index(CORS_MIDDLEWARE)]
    errors += [
        checks.Warning(
            f"{CORS_MIDDLEWARE} comes after {name}, whose own answers then get no CORS headers.",
            hint=f'Move "{CORS_MIDDLEWARE}" to the top of MIDDLEWARE.',
            id="inbox_intake.W032",
        )
        for name in above
        if name in ANSWERING_MIDDLEWARE
    ]
    return errors + _site_wide_cors_problems()


def _site_wide_cors_problems():
    """corsheaders' site-wide settings that would break the app's cross-origin answers (the app
    needs none of them; a host may have some for its own URLs)."""
    from corsheaders.conf import conf

    problems = []
    if "content-type" not in {header.lower() for header in conf.CORS_ALLOW_HEADERS}:
        problems.append(("CORS_ALLOW_HEADERS", "content-type", "JSON could not be sent"))
    exposed = {header.lower() for header in conf.CORS_EXPOSE_HEADERS}
    if exposed and "retry-after" not in exposed:
        problems.append(("CORS_EXPOSE_HEADERS", "Retry-After", "a 429's wait could not be read"))
    return [
        checks.Warning(
            f"{name} leaves out {header}: from pages on INBOX_INTAKE_ALLOWED_ORIGINS, {effect}.",
            hint=f'Add "{header}" to {name}, or remove the setting to use corsheaders\' default.',
            id="inbox_intake.W033",
        )
        for name, header, effect in problems
    ]


@checks.register
def check_forms(app_configs, **kwargs):
    from .forms import FormRegistryError, registered_forms

    try:
        registered_forms()
    except FormRegistryError as error:
        return [
            checks.Error(
                f"INBOX_INTAKE_FORMS: {error}",
                hint='Map each slug to {"form": "dotted.path.to.IntakeFormSubclass", ...}; '
                "see the README's 'Register a form'.",
                id="inbox_intake.E011",
            )
        ]
    return []


#: The app's own paths under its URL prefix, which a form's slug would hide (urls.py).
RESERVED_SLUGS = ("health", "metrics")


@checks.register
def check_operations(app_configs, **kwargs):
    s = intake_settings
    errors = []
    if s.INBOX_INTAKE_LOG_FORMAT not in LOG_FORMATS:
        errors.append(
            checks.Error(
                f"INBOX_INTAKE_LOG_FORMAT is {s.INBOX_INTAKE_LOG_FORMAT!r}.",
                hint=f"Set INBOX_INTAKE_LOG_FORMAT to one of {', '.join(LOG_FORMATS)}.",
                id="inbox_intake.E020",
            )
        )
    errors += [
        checks.Error(
            f"INBOX_INTAKE_FORMS registers a form as {slug!r}, the path of the app's {slug} "
            "endpoint: the form could never be reached.",
            hint="Register the form under another slug.",
            id="inbox_intake.E023",
        )
        for slug in RESERVED_SLUGS
        if isinstance(s.INBOX_INTAKE_FORMS, dict) and slug in s.INBOX_INTAKE_FORMS
    ]
    if s.INBOX_INTAKE_METRICS:
        errors += _metrics_problems()
    if (
        (s.INBOX_INTAKE_ALERT_FAILED or s.INBOX_INTAKE_ALERT_BACKLOG)
        and not django_settings.ADMINS
        and not django_settings.DEBUG
    ):
        errors.append(
            checks.Warning(
                "Alerts are on but ADMINS is empty: mail_admins sends them to nobody.",
                hint='Set ADMINS = [("Staff", "staff@example.com")] and an EMAIL_BACKEND, or '
                "turn INBOX_INTAKE_ALERT_FAILED and INBOX_INTAKE_ALERT_BACKLOG off.",
                id="inbox_intake.W021",
            )
        )
    return errors


def _metrics_problems():
    s = intake_settings
    if find_spec("prometheus_client") is None:
        return [
            checks.Error(
                "INBOX_INTAKE_METRICS is on but prometheus_client is not installed.",
                hint="pip install 'inbox-intake[metrics]' (or prometheus-client).",
                id="inbox_intake.E021",
            )
        ]
    allowed = s.INBOX_INTAKE_METRICS_ALLOWED_IPS
    bad = [allowed] if isinstance(allowed, str) else [n for n in allowed if not _is_network(n)]
    if bad:
        return [
            checks.Error(
                f"INBOX_INTAKE_METRICS_ALLOWED_IPS: {bad[0]!r} is not a list of IP addresses "
                "or networks.",
                hint='Set a list such as ["127.0.0.1", "10.0.0.0/8"].',
                id="inbox_intake.E022",
            )
        ]
    if not (s.INBOX_INTAKE_METRICS_TOKEN or allowed):
        return [
            checks.Warning(
                "INBOX_INTAKE_METRICS is on and its endpoint is open to everyone.",
                hint="Set INBOX_INTAKE_METRICS_TOKEN or INBOX_INTAKE_METRICS_ALLOWED_IPS, or "
                "block the path at the proxy.",
                id="inbox_intake.W020",
            )
        ]
    return []


def _is_network(value) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except (TypeError, ValueError):
        return False
    return True


@checks.register
def check_attachments(app_configs, **kwargs):
    """The limits of the files a form takes (the settings; a form's own are the registry's, E011),
    and, once a form has file fields, the storage the files are kept in."""
    from .forms import FormRegistryError, registered_forms

    values = {name: getattr(intake_settings, setting) for name, setting in LIMIT_SETTINGS.items()}
    errors = [
        checks.Error(problem, hint=LIMIT_HINTS[name], id="inbox_intake.E040")
        for name, problem in limit_problems(values, LIMIT_SETTINGS)
    ]
    try:
        forms_with_files = [
            registered for registered in registered_forms().values() if registered.max_file_bytes
        ]
    except FormRegistryError:
        return errors  # check_forms reports it
    if forms_with_files:
        errors += _storage_problems(forms_with_files[0].slug)
    if any(error.id == "inbox_intake.E040" for error in errors):
        return errors  # the sizes compared below may not be numbers
    errors += [
        checks.Warning(
            f"INBOX_INTAKE_FORMS[{registered.slug!r}] takes files of up to "
            f"{format_size(registered.file_limits.max_file_size)}: Wix takes one upload of at "
            f"most {format_size(WIX_SIMPLE_UPLOAD_BYTES)} and asks for a resumable one above, "
            "which the delivery does not make.",
            hint=f"Set INBOX_INTAKE_MAX_FILE_SIZE (or the form's max_file_size) to at most "
            f"{WIX_SIMPLE_UPLOAD_BYTES}.",
            id="inbox_intake.W040",
        )
        for registered in forms_with_files
        if registered.file_limits.max_file_size > WIX_SIMPLE_UPLOAD_BYTES
    ]
    return errors


LIMIT_HINTS = {
    "max_file_size": "Set INBOX_INTAKE_MAX_FILE_SIZE to a size in bytes, such as 10 * 1024 * 1024.",
    "max_total_file_size": "Set INBOX_INTAKE_MAX_TOTAL_FILE_SIZE to a size in bytes, such as "
    "25 * 1024 * 1024.",
    "max_files": f"Set INBOX_INTAKE_MAX_FILES to a number from 1 to {WIX_MAX_FILES}.",
    "allowed_file_types": "Set INBOX_INTAKE_ALLOWED_FILE_TYPES to a list such as "
    '["application/pdf", "image/png", "image/jpeg", "text/plain"].',
}


def _storage_problems(slug: str):
    alias = intake_settings.INBOX_INTAKE_FILE_STORAGE
    if alias not in django_settings.STORAGES:
        return [
            checks.Error(
                f"The form {slug!r} takes files, but STORAGES has no {alias!r} entry "
                "(INBOX_INTAKE_FILE_STORAGE) to keep them in.",
                hint=f'Add to STORAGES: "{alias}": {{"BACKEND": '
                '"inbox_intake.storage.PrivateFileSystemStorage", "OPTIONS": {"location": '
                '"/srv/mysite/attachments"}} (a folder no web server serves; its files get no '
                "URL), or a django-storages backend with private files; or set "
                "INBOX_INTAKE_FILE_STORAGE to an alias STORAGES has.",
                id="inbox_intake.E041",
            )
        ]
    storage = storages[alias]
    if not isinstance(storage, FileSystemStorage):
        return []
    location = Path(storage.location).resolve()
    public = [
        name
        for name in ("MEDIA_ROOT", "STATIC_ROOT")
        if getattr(django_settings, name, None)
        and location.is_relative_to(Path(getattr(django_settings, name)).resolve())
    ]
    return [
        checks.Warning(
            f"STORAGES[{alias!r}] keeps the visitors' files in {location}, inside {name}, "
            "which web servers commonly serve to anyone.",
            hint=f'Give STORAGES["{alias}"] an "OPTIONS" "location" outside {name}.',
            id="inbox_intake.W041",
        )
        for name in public
    ]
