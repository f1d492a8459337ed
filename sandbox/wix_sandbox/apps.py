from django.apps import AppConfig


class WixSandboxConfig(AppConfig):
    name = "wix_sandbox"
    verbose_name = "Wix sandbox"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)
