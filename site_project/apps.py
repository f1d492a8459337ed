from django.apps import AppConfig


class SiteConfig(AppConfig):
    """The example site as an app, only so that its own system checks run."""

    name = "site_project"
    verbose_name = "Example site"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)
