import os

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from .conf import sandbox_setting
from .faults import ENV_VAR, environment_rules
from .media import INVALID_MEDIA_URL_MODES, UPLOAD_ERROR_FORMATS, UPLOAD_STATUSES

#: The settings that take one of a few words.
CHOICES = {
    "WIX_SANDBOX_MEDIA_INVALID_URL": INVALID_MEDIA_URL_MODES,
    "WIX_SANDBOX_MEDIA_UPLOAD_STATUS": UPLOAD_STATUSES,
    "WIX_SANDBOX_MEDIA_UPLOAD_ERRORS": UPLOAD_ERROR_FORMATS,
}


@checks.register
def fault_rules_from_environment(app_configs, **kwargs):
    """Report bad WIX_SANDBOX_FAULTS at startup rather than as 500s on every API call."""
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        return []
    try:
        environment_rules(raw)
    except ImproperlyConfigured as error:
        return [checks.Error(str(error), id="wix_sandbox.E001")]
    return []


@checks.register
def media_switches(app_configs, **kwargs):
    """A switch set to a word the sandbox does not know would quietly act as another one."""
    return [
        checks.Error(
            f"{name} is {sandbox_setting(name)!r}: set it to one of {', '.join(choices)}",
            id="wix_sandbox.E002",
        )
        for name, choices in CHOICES.items()
        if sandbox_setting(name) not in choices
    ]
