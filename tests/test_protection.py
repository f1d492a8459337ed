import json
import os

import pytest
import redis
import requests
import responses
from django.core.cache import cache
from django.http import QueryDict

from inbox_intake import protection
from inbox_intake.forms import ContactForm, get_registered_form
from inbox_intake.models import Submission
from site_project.forms import QuoteRequestForm
from tests.conftest import LANDING

OWN = "http://testserver"
TURNSTILE_VERIFY = protection.CAPTCHA_PROVIDERS["turnstile"].verify_url


@pytest.fixture
def captcha(settings):
    settings.INBOX_INTAKE_CAPTCHA_PROVIDER = "turnstile"
    settings.INBOX_INTAKE_CAPTCHA_SITE_KEY = "site-key"
    settings.INBOX_INTAKE_CAPTCHA_SECRET_KEY = "secret-key-never-logged"
    return protection.CAPTCHA_PROVIDERS["turnstile"]


@pytest.fixture
def admit(django_capture_on_commit_callbacks):
    """Run a submission through `protection.admit`; return it and the callbacks on commit."""

    def run(data, ip="198.51.100.7"):
        with django_capture_on_commit_callbacks() as callbacks:
            submission = protection.admit(
                get_registered_form("contact"),
                data=data,
                client_ip=ip,
                user_agent="pytest",
            )
        return submission, callbacks

    return run


# --- Origins, frames and redirects ---------------------------------------------------------------


@pytest.mark.usefixtures("allowed_origins")
@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (LANDING, True),
        (OWN, True),
        ("http://landing.example", False),
        ("https://landing.example:8443", False),
        ("https://evil.example", False),
        ("null", False),
    ],
)
def test_allowed_origins_are_exact(origin, allowed):
    assert protection.is_allowed_origin(origin, OWN) is allowed


@pytest.mark.usefixtures("allowed_origins")
def test_check_origin_refuses_other_sites_and_lets_non_browsers_through():
    protection.check_origin(LANDING, OWN)
    protection.check_origin(None, OWN)

    with pytest.raises(protection.OriginNotAllowed) as refused:
        protection.check_origin("https://evil.example", OWN)

    assert refused.value.status == 403


def test_frame_ancestors_lists_only_this_site_and_the_allowed_origins(settings):
    settings.INBOX_INTAKE_ALLOWED_ORIGINS = [LANDING, "http://127.0.0.1:5000"]

    assert protection.frame_ancestors() == (
        "frame-ancestors 'self' https://landing.example http://127.0.0.1:5000"
    )


def test_frame_ancestors_without_allowed_origins_is_this_site_only():
    assert protection.frame_ancestors() == "frame-ancestors 'self'"


@pytest.mark.usefixtures("allowed_origins")
@pytest.mark.parametrize(
    "url",
    [
        "https://landing.example/thanks/",
        "https://landing.example",
        "/intake/contact/thanks/",
        f"{OWN}/done/",
    ],
)
def test_redirects_to_this_site_and_allowed_origins(url):
    assert protection.safe_redirect_url(url, OWN) == url


@pytest.mark.usefixtures("allowed_origins")
@pytest.mark.parametrize(
    "url",
    [
        "//evil.com",
        "//evil.com/path",
        "https://evil.com",
        "http://landing.example/",  # the allowed origin is https only
        "https://landing.example.evil.com/",
        "https://landing.example@evil.com/",
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)",
        "data:text/html,<script>alert(1)</script>",
        "/\\evil.com",
        "\\\\evil.com",
        "https:\\\\evil.com",
        "https:evil.com",
        "",
        None,
        42,
    ],
)
def test_no_open_redirect(url):
    assert protection.safe_redirect_url(url, OWN) is None


# --- Client IP -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("proxies", "remote_addr", "forwarded_for", "expected"),
    [
        (0, "203.0.113.9", "1.2.3.4", "203.0.113.9"),  # no proxy: the header is the client's lie
        (1, "10.0.0.1", "203.0.113.9", "203.0.113.9"),
        (1, "10.0.0.1", "1.2.3.4, 203.0.113.9", "203.0.113.9"),  # forged entry on the left
        (2, "10.0.0.2", "1.2.3.4, 203.0.113.9, 10.0.0.1", "203.0.113.9"),
        (2, "10.0.0.2", "203.0.113.9", "203.0.113.9"),  # fewer hops than proxies: the furthest
        (1, "10.0.0.1", None, "10.0.0.1"),
        (1, "10.0.0.1", "2001:db8::1", "2001:db8::1"),
        (1, "10.0.0.1", "unknown", None),
    ],
)
def test_client_ip_is_read_from_the_right_of_x_forwarded_for(
    settings, proxies, remote_addr, forwarded_for, expected
):
    settings.INBOX_INTAKE_TRUSTED_PROXY_COUNT = proxies

    assert protection.client_ip(remote_addr, forwarded_for) == expected


# --- Size, body and rate limits ------------------------------------------------------------------


def test_size_limit(settings):
    settings.INBOX_INTAKE_MAX_REQUEST_BYTES = 1000
    protection.check_size("1000")
    protection.check_size(None)
    protection.check_size("not a number")

    with pytest.raises(protection.TooLarge) as refused:
        protection.check_size("1001")

    assert refused.value.status == 413
    assert "at most 1,000 bytes" in refused.value.message


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "not valid JSON"),
        (b'["a", "list"]', "JSON object"),
        (b'{"first_name": {"nested": 1}}', "string, a number, a boolean or null"),
        (b'{"first_name": ["a"]}', "first_name: a field's value must be a string"),
        (b'{"features": [["nested"]]}', "features: a field's value must be a string"),
        (b'{"features": {"a": 1}}', "or a list of those"),
    ],
)
def test_malformed_json_bodies_are_refused(body, problem):
    with pytest.raises(protection.MalformedBody) as refused:
        protection.parse_json_body(body, QuoteRequestForm)

    assert problem in refused.value.message


def test_a_list_only_for_a_field_of_several_choices():
    body = b'{"features": ["blog", "members"], "service": "web"}'

    assert protection.parse_json_body(body, QuoteRequestForm) == {
        "features": ["blog", "members"],
        "service": "web",
    }


def test_deeply_nested_json_is_refused_before_it_is_parsed():
    body = b"[" * 100_000 + b"]" * 100_000

    with pytest.raises(protection.MalformedBody) as refused:
        protection.parse_json_body(body, ContactForm)

    assert "nests more than 32 levels" in refused.value.message


def test_brackets_inside_strings_do_not_count_as_nesting():
    body = json.dumps({"message": "[" * 1000 + '\\"{'}).encode()

    assert protection.parse_json_body(body, ContactForm) == {"message": "[" * 1000 + '\\"{'}


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_depth_is_measured_in_the_bodys_own_encoding(encoding):
    with pytest.raises(protection.MalformedBody, match="nests more than"):
        protection.parse_json_body(("[" * 100 + "]" * 100).encode(encoding), ContactForm)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"first_name": "A", "message": "x\udfff"}, "message"),
        ({"next\ud800": "x"}, "next\ufffd"),
        # Form-encoded data is checked too (here decoded as UTF-7, which can spell one).
        (QueryDict("first_name=A&message=x%2B2D8-", encoding="utf-7"), "message"),
    ],
)
def test_text_with_a_lone_surrogate_is_refused_naming_the_field(data, field):
    with pytest.raises(protection.UnwritableText) as refused:
        protection.check_text(data)

    assert refused.value.status == 400
    assert refused.value.field == field
    assert f"“{field}”" in refused.value.message


def test_text_with_paired_surrogates_emoji_and_controls_is_let_through():
    protection.check_text({"message": "\U0001f600 \x00 \u202e", "n": 3, "b": None})


def test_a_url_with_a_lone_surrogate_is_no_redirect():
    assert protection.safe_redirect_url("/thanks/\udfff", OWN) is None


@pytest.mark.parametrize(
    ("content_length", "refusal"),
    [("10", protection.RateLimited), ("5000", protection.TooLarge)],
)
def test_every_post_counts_against_the_rate_limit_whatever_else_is_wrong(
    settings, content_length, refusal
):
    settings.INBOX_INTAKE_MAX_REQUEST_BYTES = 1000
    settings.INBOX_INTAKE_RATE_LIMIT_PER_IP = 2
    for _ in range(2):
        with pytest.raises(protection.TooLarge):
            protection.screen_post("contact", "203.0.113.9", "5000")

    # Over the limit: a new request is refused for it, but an oversized one is still refused
    # unread, as too large.
    with pytest.raises(refusal):
        protection.screen_post("contact", "203.0.113.9", content_length)


def test_json_body_with_plain_values():
    body = b'{"email": "a@example.com", "subscribe_newsletter": true, "phone": null}'

    assert protection.parse_json_body(body, ContactForm) == {
        "email": "a@example.com",
        "subscribe_newsletter": "true",
        "phone": None,
    }


@pytest.fixture
def redis_cache(settings):
    """Django's cache on the machine's Redis (a database and key prefix of this run's own)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/15",
            "KEY_PREFIX": f"inbox_intake_test_{os.getpid()}",
        }
    }
    cache.clear()
    yield cache
    cache.clear()


@pytest.fixture(params=["locmem", "redis"])
def rate_limit_cache(request):
    """The rate limits' counters in memory (one web process), and in Redis (several): the
    Redis backend counts in one pipelined round trip of its own."""
    if request.param == "redis":
        request.getfixturevalue("redis_cache")


@pytest.mark.usefixtures("rate_limit_cache")
def test_rate_limit_per_ip_and_form(settings):
    settings.INBOX_INTAKE_RATE_LIMIT_PER_IP = 2
    settings.INBOX_INTAKE_RATE_LIMIT_WINDOW = 600
    now = 6000.0 + 150  # 150 s into a window

    protection.enforce_rate_limits("contact", "203.0.113.9", now=now)
    protection.enforce_rate_limits("contact", "203.0.113.9", now=now)
    with pytest.raises(protection.RateLimited) as refused:
        protection.enforce_rate_limits("contact", "203.0.113.9", now=now)

    assert refused.value.status == 429
    assert refused.value.retry_after == 450
    assert "8 minutes" in refused.value.message
    protection.enforce_rate_limits("contact", "203.0.113.10", now=now)  # another client
    protection.enforce_rate_limits("other", "203.0.113.9", now=now)  # another form
    protection.enforce_rate_limits("contact", "203.0.113.9", now=now + 450)  # the next window


@pytest.mark.usefixtures("rate_limit_cache")
def test_rate_limit_per_form_counts_every_client(settings):
    settings.INBOX_INTAKE_RATE_LIMIT_PER_FORM = 3

    for ip in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
        protection.enforce_rate_limits("contact", ip, now=100.0)

    with pytest.raises(protection.RateLimited):
        protection.enforce_rate_limits("contact", "203.0.113.4", now=100.0)


@pytest.mark.usefixtures("rate_limit_cache")
def test_a_client_over_its_own_limit_does_not_use_up_the_forms_budget(settings):
    settings.INBOX_INTAKE_RATE_LIMIT_PER_IP = 1
    settings.INBOX_INTAKE_RATE_LIMIT_PER_FORM = 3

    for _ in range(10):
        with pytest.raises(protection.RateLimited):
            protection.enforce_rate_limits("contact", "203.0.113.66", now=100.0)
            protection.enforce_rate_limits("contact", "203.0.113.66", now=100.0)

    protection.enforce_rate_limits("contact", "203.0.113.1", now=100.0)
    protection.enforce_rate_limits("contact", "203.0.113.2", now=100.0)


def test_a_limit_of_zero_is_off(settings):
    settings.INBOX_INTAKE_RATE_LIMIT_PER_IP = 0
    settings.INBOX_INTAKE_RATE_LIMIT_PER_FORM = 0

    for _ in range(50):
        protection.enforce_rate_limits("contact", "203.0.113.9", now=100.0)


# --- CAPTCHA -------------------------------------------------------------------------------------


def test_captcha_is_off_without_both_keys(settings):
    settings.INBOX_INTAKE_CAPTCHA_SITE_KEY = "site-key"
    settings.INBOX_INTAKE_CAPTCHA_SECRET_KEY = ""

    assert protection.captcha_provider() is None


def test_captcha_provider_follows_the_setting(captcha, settings):
    assert protection.captcha_provider() is captcha
    settings.INBOX_INTAKE_CAPTCHA_PROVIDER = "hcaptcha"
    assert protection.captcha_provider().verify_url == "https://api.hcaptcha.com/siteverify"


@responses.activate
def test_captcha_success_is_verified_with_the_secret_the_token_and_the_ip(captcha):
    responses.post(TURNSTILE_VERIFY, json={"success": True})

    protection.verify_captcha(captcha, "token-1", "203.0.113.9")

    (call,) = responses.calls
    assert (
        call.request.body == "secret=secret-key-never-logged&response=token-1&remoteip=203.0.113.9"
    )


@responses.activate
def test_captcha_wrong_answer_is_the_visitors_to_correct(captcha):
    responses.post(
        TURNSTILE_VERIFY, json={"success": False, "error-codes": ["invalid-input-response"]}
    )

    with pytest.raises(protection.CaptchaFailed) as refused:
        protection.verify_captcha(captcha, "token-1", None)

    assert refused.value.status == 400


@responses.activate
def test_captcha_missing_token_is_refused_without_asking_the_provider(captcha):
    with pytest.raises(protection.CaptchaFailed):
        protection.verify_captcha(captcha, "", None)

    assert not responses.calls


@pytest.mark.parametrize(
    "answer",
    [
        {"body": requests.ConnectTimeout("timed out")},
        {"body": requests.ConnectionError("refused")},
        {"status": 502, "body": "Bad gateway"},
        {"status": 200, "body": "<html>not json</html>"},
        {"status": 200, "json": ["not", "an", "object"]},
        {"json": {"success": False, "error-codes": ["invalid-input-secret"]}},
        {"json": {"success": False, "error-codes": ["internal-error"]}},
    ],
)
@responses.activate
def test_a_captcha_outage_is_a_clear_error_not_a_silent_pass(captcha, caplog, answer):
    responses.post(TURNSTILE_VERIFY, **answer)

    with pytest.raises(protection.CaptchaUnavailable) as refused:
        protection.verify_captcha(captcha, "token-1", None)

    assert refused.value.status == 503
    assert "try again" in refused.value.message
    assert "secret-key-never-logged" not in caplog.text
    assert "CAPTCHA verification (turnstile)" in caplog.text


@responses.activate
def test_captcha_verification_has_a_timeout(captcha, settings):
    settings.INBOX_INTAKE_CAPTCHA_TIMEOUT = 2.5
    responses.post(TURNSTILE_VERIFY, json={"success": True})

    protection.verify_captcha(captcha, "token-1", None)

    assert responses.calls[0].request.req_kwargs["timeout"] == 2.5


# --- admit ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admit_accepts_a_valid_submission(admit, contact_data):
    submission, callbacks = admit(contact_data)

    assert submission.status == Submission.Status.QUEUED
    assert submission.client_ip == "198.51.100.7"
    assert len(callbacks) == 1


@pytest.mark.django_db
def test_a_filled_honeypot_is_stored_as_spam_and_never_sent(admit, contact_data):
    contact_data[protection.HONEYPOT_FIELD] = "http://cheap-pills.example"

    submission, callbacks = admit(contact_data)

    assert submission.status == Submission.Status.SPAM
    assert submission.enqueued_at is None
    assert protection.HONEYPOT_FIELD not in submission.data
    assert not callbacks, "spam is never scheduled for delivery"


@pytest.mark.django_db
def test_invalid_submission_carries_the_bound_form(admit, contact_data):
    contact_data["email"] = "nope"

    with pytest.raises(protection.InvalidSubmission) as invalid:
        admit(contact_data)

    assert invalid.value.form.errors["email"] == ["Enter a valid email address."]
    assert not Submission.objects.exists()


@pytest.mark.django_db
@responses.activate
def test_captcha_is_checked_only_once_the_form_is_valid(admit, contact_data, captcha):
    responses.post(TURNSTILE_VERIFY, json={"success": True})
    contact_data[captcha.response_field] = "token-1"
    contact_data["email"] = "nope"

    with pytest.raises(protection.InvalidSubmission):
        admit(contact_data)
    assert not responses.calls

    contact_data["email"] = "jane@example.com"
    submission, _ = admit(contact_data)

    assert len(responses.calls) == 1
    assert submission.status == Submission.Status.QUEUED
    assert captcha.response_field not in submission.data


@pytest.mark.django_db
@responses.activate
def test_a_bot_in_the_honeypot_costs_no_captcha_check(admit, contact_data, captcha):
    contact_data[protection.HONEYPOT_FIELD] = "spam"

    submission, _ = admit(contact_data)

    assert submission.status == Submission.Status.SPAM
    assert not responses.calls


@pytest.mark.django_db
@responses.activate
def test_failed_captcha_is_not_stored(admit, contact_data, captcha):
    responses.post(
        TURNSTILE_VERIFY, json={"success": False, "error-codes": ["timeout-or-duplicate"]}
    )
    contact_data[captcha.response_field] = "used-token"

    with pytest.raises(protection.CaptchaFailed):
        admit(contact_data)

    assert not Submission.objects.exists()


def test_a_redis_counter_lives_as_long_as_its_window(redis_cache, settings):
    settings.INBOX_INTAKE_RATE_LIMIT_WINDOW = 600
    protection.enforce_rate_limits("contact", "203.0.113.9", now=6150.0)
    protection.enforce_rate_limits("contact", "203.0.113.9", now=6150.0)

    key = "inbox_intake:rate:ip:contact:203.0.113.9:6000"
    assert redis_cache.get(key) == 2, "Django's cache API reads the counter"
    server = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    assert 0 < server.ttl(redis_cache.make_and_validate_key(key)) <= 600, (
        "it expires with its window"
    )
