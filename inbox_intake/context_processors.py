from django.conf import settings


def wix_mode(request) -> dict:
    """Lets every page (the admin index above all) say whether messages go to real Wix."""
    return {
        "wix_uses_sandbox": settings.WIX_USES_SANDBOX,
        "wix_api_base_url": settings.WIX_API_BASE_URL,
    }
