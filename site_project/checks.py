"""The example site's own system checks (the app's are in inbox_intake/checks.py)."""

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured


@checks.register(checks.Tags.security)
def check_secret_key(app_configs, **kwargs):
    """Only with DEBUG on does settings.py make a key up (kept under var/): several web servers
    would each sign sessions and CSRF tokens with their own, and refuse each other's."""
    try:
        settings.SECRET_KEY  # noqa: B018 (Django refuses to read an empty one)
    except ImproperlyConfigured:
        return [
            checks.Error(
                "SECRET_KEY is not set, and DEBUG is off.",
                hint="Set SECRET_KEY in the environment (or .env), the same for every web "
                "server and worker, e.g. from python -c 'import secrets; "
                "print(secrets.token_urlsafe(50))'. Only with DEBUG on (make run) is one "
                "made up and kept under var/.",
                id="site_project.E001",
            )
        ]
    return []
