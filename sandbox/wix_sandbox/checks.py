import os

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from .faults import ENV_VAR, environment_rules


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
