import logging

from django.apps import AppConfig

logger = logging.getLogger("inbox_intake")


class InboxIntakeConfig(AppConfig):
    name = "inbox_intake"
    verbose_name = "Inbox Intake"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)
        from .conf import intake_settings

        if intake_settings.uses_sandbox:
            logger.info(
                "Sandbox mode: delivering to the local Wix sandbox at %s, not to a Wix site",
                intake_settings.WIX_API_BASE_URL,
            )
