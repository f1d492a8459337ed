from .conf import intake_settings


def wix_mode(request) -> dict:
    """Lets every page (the admin index above all) say whether messages go to real Wix."""
    return {
        "wix_uses_sandbox": intake_settings.uses_sandbox,
        "wix_api_base_url": intake_settings.WIX_API_BASE_URL,
    }
