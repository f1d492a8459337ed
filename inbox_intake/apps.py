import logging

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger("inbox_intake")


class InboxIntakeConfig(AppConfig):
    name = "inbox_intake"
    verbose_name = "Inbox Intake"

    def ready(self):
        if settings.WIX_USES_SANDBOX:
            logger.info(
                "No Wix credentials are set: delivering to the local Wix sandbox at %s",
                settings.WIX_API_BASE_URL,
            )
