"""The system checks: each bad setting is reported by its id, with what to set."""

import pytest
from django.core import checks

from inbox_intake import checks as intake_checks

REAL_KEY = {"INBOX_INTAKE_WIX_SANDBOX": False, "WIX_API_KEY": "IST.real", "WIX_SITE_ID": "s-1"}


@pytest.fixture(autouse=True)
def site_with_admins(settings):
    """A site whose alert mails have somewhere to go (W021 is tested in test_operations.py)."""
    settings.ADMINS = [("Staff", "staff@example.com")]


def problems(settings, **values) -> dict[str, str]:
    """{check id: message and hint} of every problem the app's checks find with `values` set."""
    for name, value in values.items():
        setattr(settings, name, value)
    found = checks.run_checks(tags=None)
    return {
        problem.id: f"{problem.msg} {problem.hint or ''}"
        for problem in found
        if problem.id.startswith("inbox_intake.")
    }


def test_the_test_configuration_passes(settings):
    assert problems(settings) == {}


@pytest.mark.parametrize(
    "origins",
    [["https://ok.example", "https://Bad.example"], ["https://x.example/"], "https://x.example"],
    ids=["upper case", "trailing slash", "a string"],
)
def test_a_malformed_allowed_origin(settings, origins):
    found = problems(settings, INBOX_INTAKE_ALLOWED_ORIGINS=origins)

    assert "INBOX_INTAKE_ALLOWED_ORIGINS" in found["inbox_intake.E001"]


def test_an_unknown_purge_mode(settings):
    found = problems(settings, INBOX_INTAKE_PURGE_MODE="shred")

    assert "delete, anonymise" in found["inbox_intake.E002"]


def test_an_unknown_captcha_provider(settings):
    found = problems(settings, INBOX_INTAKE_CAPTCHA_PROVIDER="recaptcha")

    assert "turnstile, hcaptcha" in found["inbox_intake.E003"]


@pytest.mark.parametrize(
    "values",
    [
        {"CSRF_COOKIE_SAMESITE": "None"},
        {"SESSION_COOKIE_PARTITIONED": True},
    ],
    ids=["samesite none", "partitioned"],
)
def test_a_cookie_browsers_drop(settings, values):
    found = problems(settings, **values)

    assert "_COOKIE_SECURE = True" in found["inbox_intake.E004"]


def test_a_cookie_combination_browsers_keep(settings):
    found = problems(
        settings,
        CSRF_COOKIE_SAMESITE="None",
        CSRF_COOKIE_SECURE=True,
        CSRF_COOKIE_PARTITIONED=True,
    )

    assert "inbox_intake.E004" not in found


def test_no_credentials_with_debug_off_is_an_error(settings):
    found = problems(settings, INBOX_INTAKE_WIX_SANDBOX=False, DEBUG=False)

    assert "WIX_API_KEY and WIX_SITE_ID" in found["inbox_intake.E005"]
    assert "INBOX_INTAKE_WIX_SANDBOX = True" in found["inbox_intake.E005"]


def test_no_credentials_with_debug_on_is_a_warning(settings):
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "wix_sandbox"]

    found = problems(settings, INBOX_INTAKE_WIX_SANDBOX=False, DEBUG=True)

    assert set(found) == {"inbox_intake.W001"}


def test_sandbox_mode_without_the_sandbox_app(settings):
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "wix_sandbox"]

    found = problems(settings)

    assert '"wix_sandbox" to INSTALLED_APPS' in found["inbox_intake.E006"]


def test_without_the_pgtrigger_app(settings):
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "pgtrigger"]

    found = problems(settings)

    assert set(found) == {"inbox_intake.E030"}
    assert 'Add "pgtrigger" to INSTALLED_APPS' in found["inbox_intake.E030"]


def test_sandbox_mode_pointed_at_real_wix(settings):
    found = problems(settings, WIX_API_BASE_URL="https://www.wixapis.com/")

    assert "WIX_API_BASE_URL" in found["inbox_intake.E007"]


def test_sandbox_mode_while_real_credentials_are_set(settings):
    found = problems(settings, WIX_API_KEY="IST.real", WIX_SITE_ID="s-1")

    assert "INBOX_INTAKE_WIX_SANDBOX off" in found["inbox_intake.E008"]


def test_the_sandbox_served_in_production(settings):
    found = problems(settings, DEBUG=False, **REAL_KEY)

    assert 'Remove "wix_sandbox" from INSTALLED_APPS' in found["inbox_intake.E009"]


def test_real_credentials_without_the_sandbox_pass(settings):
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "wix_sandbox"]

    assert problems(settings, DEBUG=False, **REAL_KEY) == {}


@pytest.mark.parametrize(
    "values, named",
    [
        ({"WIX_API_KEY": "IST.real"}, "WIX_SITE_ID"),
        ({"WIX_APP_ID": "app-1", "WIX_APP_SECRET": "s"}, "WIX_APP_INSTANCE_ID"),
    ],
    ids=["key without site", "app without instance"],
)
def test_incomplete_credentials(settings, values, named):
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "wix_sandbox"]

    found = problems(settings, INBOX_INTAKE_WIX_SANDBOX=False, **values)

    assert named in found["inbox_intake.E010"]


@pytest.mark.parametrize(
    "forms, named",
    [
        ({}, "non-empty dict"),
        ({"Contact Us": "inbox_intake.forms.ContactForm"}, "not a slug"),
        ({"contact": {"form": "inbox_intake.forms.Missing"}}, "cannot import"),
        ({"contact": {"form": "django.forms.Form"}}, "not a subclass of IntakeForm"),
        ({"contact": {}}, 'needs a "form"'),
        ({"contact": {"form": "inbox_intake.forms.ContactForm", "titel": "x"}}, "titel"),
        ({"contact": {"form": "inbox_intake.forms.IntakeForm"}}, "no EmailField named email"),
    ],
    ids=["empty", "slug", "import", "class", "no form", "unknown option", "no email"],
)
def test_a_form_that_cannot_be_served(settings, forms, named):
    found = problems(settings, INBOX_INTAKE_FORMS=forms)

    assert named in found["inbox_intake.E011"]


def test_every_check_is_registered():
    registered = checks.registry.registry.get_checks()

    for name in dir(intake_checks):
        if name.startswith("check_"):
            assert getattr(intake_checks, name) in registered, name


# --- Attachments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value", "problem"),
    [
        ("INBOX_INTAKE_MAX_FILES", 16, "INBOX_INTAKE_MAX_FILES is 16, but a Wix form message"),
        ("INBOX_INTAKE_MAX_FILES", 0, "INBOX_INTAKE_MAX_FILES must be a whole number above 0"),
        ("INBOX_INTAKE_MAX_FILE_SIZE", "10MB", "INBOX_INTAKE_MAX_FILE_SIZE must be a whole number"),
        ("INBOX_INTAKE_MAX_TOTAL_FILE_SIZE", 2.5e7, "INBOX_INTAKE_MAX_TOTAL_FILE_SIZE must be"),
        ("INBOX_INTAKE_ALLOWED_FILE_TYPES", "application/pdf", "a non-empty list of MIME types"),
        ("INBOX_INTAKE_ALLOWED_FILE_TYPES", [], "a non-empty list of MIME types"),
        ("INBOX_INTAKE_ALLOWED_FILE_TYPES", ["PDF"], "'PDF' is not a lower-case MIME type"),
    ],
)
def test_a_file_limit_that_cannot_work(settings, setting, value, problem):
    found = problems(settings, **{setting: value})

    assert problem in found["inbox_intake.E040"]
    assert f"Set {setting}" in found["inbox_intake.E040"]


def test_a_forms_own_file_limit_that_cannot_work_is_a_registry_error(settings):
    forms = {"quote": {"form": "site_project.forms.QuoteRequestForm", "max_files": 20}}

    found = problems(settings, INBOX_INTAKE_FORMS=forms)

    assert "'quote': max_files is 20, but a Wix form message" in found["inbox_intake.E011"]


def test_a_form_with_files_needs_the_storage_alias(settings):
    storages = {name: entry for name, entry in settings.STORAGES.items() if name != "inbox_intake"}

    found = problems(settings, STORAGES=storages)

    assert found["inbox_intake.E041"].startswith(
        "The form 'quote' takes files, but STORAGES has no 'inbox_intake' entry "
        "(INBOX_INTAKE_FILE_STORAGE) to keep them in. "
        'Add to STORAGES: "inbox_intake": {"BACKEND": '
    )


def test_the_storage_alias_is_the_setting(settings):
    found = problems(settings, INBOX_INTAKE_FILE_STORAGE="visitor_files")

    assert "STORAGES has no 'visitor_files' entry" in found["inbox_intake.E041"]
    assert 'Add to STORAGES: "visitor_files": ' in found["inbox_intake.E041"]


def test_a_site_whose_forms_take_no_files_needs_no_storage(settings):
    storages = {name: entry for name, entry in settings.STORAGES.items() if name != "inbox_intake"}
    forms = {"contact": {"form": "inbox_intake.forms.ContactForm"}}

    assert problems(settings, STORAGES=storages, INBOX_INTAKE_FORMS=forms) == {}


def test_files_kept_inside_media_root_are_a_warning(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    entry = settings.STORAGES["inbox_intake"]
    storages = {
        **settings.STORAGES,
        "inbox_intake": {**entry, "OPTIONS": {"location": str(tmp_path / "attachments")}},
    }

    found = problems(settings, STORAGES=storages)

    assert "inside MEDIA_ROOT, which web servers commonly serve" in found["inbox_intake.W041"]


def test_files_larger_than_one_wix_upload_are_a_warning(settings):
    found = problems(settings, INBOX_INTAKE_MAX_FILE_SIZE=20 * 1024 * 1024)

    assert "INBOX_INTAKE_FORMS['quote'] takes files of up to 20 MB" in found["inbox_intake.W040"]
