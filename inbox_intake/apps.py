from django.apps import AppConfig


class InboxIntakeConfig(AppConfig):
    name = "inbox_intake"
    verbose_name = "Inbox Intake"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from corsheaders.signals import check_request_enabled

        from . import checks  # noqa: F401  (registers the system checks)
        from .cors import cors_enabled

        check_request_enabled.connect(cors_enabled, dispatch_uid="inbox_intake.cors")
