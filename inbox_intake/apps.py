from django.apps import AppConfig


class InboxIntakeConfig(AppConfig):
    name = "inbox_intake"
    verbose_name = "Inbox Intake"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)
