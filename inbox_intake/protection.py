"""Protection of the intake: allowed origins, the client's IP behind proxies, size and rate limits,
the honeypot and the CAPTCHA, and `admit`, the one path every submission takes through them.

Views turn `Refused` into an HTTP answer (JSON, or the form page with the message) and
`InvalidSubmission` into errors beside the fields; nothing here builds a response.
"""

import ipaddress
import json
import logging
import math
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from django import forms
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache
from django.utils.datastructures import MultiValueDict
from django.utils.http import url_has_allowed_host_and_scheme

from . import metrics
from .conf import intake_settings
from .models import Submission
from .services.intake import accept_submission
from .text import has_lone_surrogate, replace_lone_surrogates
from .uploads import format_size

logger = logging.getLogger(__name__)

#: An input that people never see nor reach with Tab; bots that fill every field fill it in.
HONEYPOT_FIELD = "homepage"
#: Where to send the visitor after a successful submission (only to an allowed origin).
NEXT_FIELD = "next"


class Refused(Exception):
    """A submission turned away before it is accepted; `message` is written for the visitor,
    `field` names the field at fault (None: the request as a whole)."""

    status = 400
    code = "refused"

    def __init__(self, message: str, *, retry_after: int | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.field = field


class OriginNotAllowed(Refused):
    status = 403
    code = "origin_not_allowed"


class TooLarge(Refused):
    status = 413
    code = "too_large"


class UnsupportedMediaType(Refused):
    status = 415
    code = "unsupported_media_type"


class MalformedBody(Refused):
    code = "malformed_body"


class UnwritableText(Refused):
    """Text with a lone UTF-16 surrogate: no database, page or Wix request can hold it."""

    code = "lone_surrogate"


class RateLimited(Refused):
    status = 429
    code = "rate_limited"


class CaptchaFailed(Refused):
    code = "captcha_failed"


class CaptchaUnavailable(Refused):
    status = 503
    code = "captcha_unavailable"


class InvalidSubmission(Exception):
    """The form did not validate; `form` holds the errors of each field."""

    def __init__(self, form):
        super().__init__("The form did not validate.")
        self.form = form


@contextmanager
def counting_refusals(form_name: str):
    """Count a refusal, or an invalid form, raised inside, by its code (metrics.py); accepted
    submissions are counted where they are saved."""
    try:
        yield
    except InvalidSubmission:
        metrics.submission(form_name, "invalid")
        raise
    except Refused as refusal:
        metrics.submission(form_name, refusal.code)
        raise


def admit(
    intake_form,
    *,
    data,
    files=None,
    client_ip: str | None,
    user_agent: str,
    user=None,
) -> Submission:
    """Text check, validation (the files' checks included), honeypot, CAPTCHA, then accept:
    every submission to `intake_form` (a forms.RegisteredForm) goes this way, once
    `screen_post` has let its request through.

    A filled honeypot is accepted as SPAM without a CAPTCHA check, so a bot sees the same success
    as a person and learns nothing. The CAPTCHA is checked only once the form is valid: a token
    is good for one check, and a visitor correcting a typo should not have to solve it again.
    """
    check_text(data)
    form = intake_form.form(data, files)
    if not form.is_valid():
        raise InvalidSubmission(form)
    spam = bool(str(data.get(HONEYPOT_FIELD) or "").strip())
    provider = captcha_provider()
    if provider and not spam:
        verify_captcha(provider, str(data.get(provider.response_field) or ""), client_ip)
    return accept_submission(
        form_name=intake_form.slug,
        data=form.submitted_data(),
        files=form.checked_files,
        client_ip=client_ip,
        user_agent=user_agent,
        user=user,
        spam=spam,
    )


# --- Origins and redirects -----------------------------------------------------------------------


def own_origin(request) -> str:
    """This site's origin as the request names it (its Host already validated by Django)."""
    return f"{request.scheme}://{request.get_host()}"


def is_allowed_origin(origin: str, own_origin: str) -> bool:
    return origin == own_origin or origin in intake_settings.INBOX_INTAKE_ALLOWED_ORIGINS


def check_origin(origin: str | None, own_origin: str) -> None:
    """Refuse a browser request from a page on a site that is not allowed.

    Browsers send Origin with every cross-origin POST. A request without one does not come from a
    page on another site (a script could send any Origin it likes: the rate limits guard there).
    """
    if origin is not None and not is_allowed_origin(origin, own_origin):
        raise OriginNotAllowed("Submissions from this site are not accepted.")


def frame_ancestors() -> str:
    """The Content-Security-Policy that lets only this site and the allowed origins frame a page."""
    return " ".join(["frame-ancestors", "'self'", *intake_settings.INBOX_INTAKE_ALLOWED_ORIGINS])


def safe_redirect_url(url, own_origin: str) -> str | None:
    """`url` if it stays on this site or goes to an allowed origin, else None: no open redirect.

    Django's check refuses other schemes (javascript:), scheme-relative `//host` and backslash
    tricks; the origin comparison then makes http:// and https:// of one host two different places.
    """
    origins = {own_origin, *intake_settings.INBOX_INTAKE_ALLOWED_ORIGINS}
    hosts = {urlsplit(origin).netloc for origin in origins}
    if not isinstance(url, str) or has_lone_surrogate(url):  # no URL can be written with one
        return None
    if not url_has_allowed_host_and_scheme(url, allowed_hosts=hosts):
        return None
    parts = urlsplit(url.strip())
    if parts.netloc and f"{parts.scheme}://{parts.netloc}" not in origins:
        return None
    return url.strip()


# --- Client IP, size and rate limits -------------------------------------------------------------


def client_ip(remote_addr: str, forwarded_for: str | None) -> str | None:
    """The visitor's IP address, behind INBOX_INTAKE_TRUSTED_PROXY_COUNT reverse proxies.

    Each proxy appends the address it received the request from to X-Forwarded-For, so the
    client is the entry that many places from the right; entries further left were written by
    the client itself and may be forged. Without trusted proxies the header is ignored.
    """
    proxies = intake_settings.INBOX_INTAKE_TRUSTED_PROXY_COUNT
    hops = [remote_addr]
    if proxies:
        hops = [hop.strip() for hop in (forwarded_for or "").split(",") if hop.strip()] + hops
    candidate = hops[max(len(hops) - 1 - proxies, 0)]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def check_size(content_length: str | None, file_bytes: int = 0) -> None:
    """Refuse a request body over INBOX_INTAKE_MAX_REQUEST_BYTES before anything reads it.

    A form with file fields may send `file_bytes` more (its limit of all files together): the
    setting still bounds the fields and the multipart envelope, and a body larger than both
    together is refused unread, however its files would fare one by one.
    """
    limit = intake_settings.INBOX_INTAKE_MAX_REQUEST_BYTES + file_bytes
    try:
        length = int(content_length or 0)
    except ValueError:
        length = 0  # Django reads no body without a valid Content-Length either
    if length <= limit:
        return
    if file_bytes:
        raise TooLarge(
            f"This submission is too large: at most {format_size(limit)} can be sent, files "
            f"included ({format_size(file_bytes)} of files)."
        )
    raise TooLarge(f"This submission is too large: at most {limit:,} bytes can be sent.")


def screen_post(
    form_name: str, ip: str | None, content_length: str | None, *, file_bytes: int = 0
) -> None:
    """The checks of every POST before its body is read: the rate limits, then the size
    (`file_bytes`: what the form's files may add to it).

    Every POST counts against the rate limits, whatever else is wrong with it (a bad origin, a
    body too large or malformed, a failed CSRF check): otherwise such requests could be sent
    without end. An oversized body is refused (413) even when the client is over its limit, so
    that a 429 page may show back what was typed.
    """
    try:
        enforce_rate_limits(form_name, ip)
    finally:
        check_size(content_length, file_bytes)


def enforce_rate_limits(form_name: str, ip: str | None, *, now: float | None = None) -> None:
    """Count one submission against the per-IP and the per-form limit of the current window.

    Fixed windows of INBOX_INTAKE_RATE_LIMIT_WINDOW seconds, counted in the Django cache. A client
    already over its own limit is refused before it uses up the form's shared budget.
    """
    window = intake_settings.INBOX_INTAKE_RATE_LIMIT_WINDOW
    now = time.time() if now is None else now
    window_start = int(now // window) * window
    retry_after = math.ceil(window_start + window - now)
    for scope, limit in (
        (f"ip:{form_name}:{ip or 'unknown'}", intake_settings.INBOX_INTAKE_RATE_LIMIT_PER_IP),
        (f"form:{form_name}", intake_settings.INBOX_INTAKE_RATE_LIMIT_PER_FORM),
    ):
        if limit and _count(f"inbox_intake:rate:{scope}:{window_start}", window) > limit:
            minutes = math.ceil(retry_after / 60)
            raise RateLimited(
                "Too many submissions: please wait "
                f"{'a minute' if minutes == 1 else f'{minutes} minutes'} and send it again.",
                retry_after=retry_after,
            )


def _count(key: str, timeout: int) -> int:
    """Add one to the window's counter `key` (created for `timeout` seconds); return the count."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(backend, RedisCache):
        return _count_in_redis(backend, key, timeout)
    backend.add(key, 0, timeout)
    try:
        return backend.incr(key)
    except ValueError:  # the window expired between add and incr
        backend.set(key, 1, timeout)
        return 1


def _count_in_redis(backend: RedisCache, key: str, timeout: int) -> int:
    """The same in one round trip: through Django's cache API, Redis takes three per count
    (add, then incr's EXISTS and INCR), which was the largest cost of the JSON endpoint
    (docs/benchmarks.md). SET … NX EX creates the counter with its lifetime once; INCR counts."""
    key = backend.make_and_validate_key(key)
    # `_cache` is Django's Redis client wrapper (private; tests/test_protection.py runs every
    # rate-limit test on a real Redis too, so a Django upgrade that moves it fails there).
    pipeline = backend._cache.get_client(key, write=True).pipeline(transaction=False)
    pipeline.set(key, 0, ex=timeout, nx=True)
    pipeline.incr(key)
    return pipeline.execute()[1]


# --- Request bodies ------------------------------------------------------------------------------


#: How deeply a JSON body may nest. A submission is one flat object; the bound keeps the parser,
#: which recurses once per level, from running out of stack on `[[[[…` (a 500 otherwise).
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def parse_json_body(body: bytes, form_class) -> dict:
    """A JSON submission: one object whose values are plain strings, numbers, booleans or null;
    a field with several choices takes a list of them.

    Numbers and booleans are given to the form as the text JSON wrote them (`5`, `true`), as a
    form-encoded body carries them: Django's fields read text, and some (a date) fail on
    anything else.
    """
    try:
        # As json.loads decodes bytes (UTF-8, -16 or -32), so that the depth is measured on the
        # text it parses.
        text = body.decode(json.detect_encoding(body), "surrogatepass")
    except UnicodeDecodeError:
        raise MalformedBody("The request body is not valid JSON.") from None
    if _json_depth(text) > MAX_JSON_DEPTH:
        raise MalformedBody(
            f"The request body nests more than {MAX_JSON_DEPTH} levels deep: "
            "send one JSON object of field names and values."
        )
    try:
        data = json.loads(text)
    except ValueError:
        raise MalformedBody("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise MalformedBody("The request body must be a JSON object of field names and values.")
    for name, value in data.items():
        field = form_class.base_fields.get(name)
        if isinstance(field, forms.FileField) and value not in (None, ""):
            raise MalformedBody(
                f"{name}: files cannot be sent in JSON; send the form as multipart/form-data."
            )
        if _is_plain(value):
            continue
        takes_list = field is not None and getattr(field.widget, "allow_multiple_selected", False)
        if not (takes_list and isinstance(value, list) and all(map(_is_plain, value))):
            raise MalformedBody(
                f"{name}: a field's value must be a string, a number, a boolean or null"
                + (", or a list of those." if takes_list else ".")
            )
    return {
        name: [_as_text(item) for item in value] if isinstance(value, list) else _as_text(value)
        for name, value in data.items()
    }


def _as_text(value):
    return value if value is None or isinstance(value, str) else json.dumps(value)


def _json_depth(text: str) -> int:
    """The deepest nesting of brackets outside strings."""
    depth = deepest = 0
    for bracket in _JSON_BRACKET.findall(_JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def check_text(data) -> None:
    """Refuse a field whose name or value holds a lone UTF-16 surrogate, naming the field.

    JSON can carry one (`"\\udfff"`); Django reads form-encoded bodies as UTF-8, replacing what
    is not, but `data` is checked whichever way it came. Neither the database, nor a page, nor a
    Wix request could write such a character.
    """
    fields = data.lists() if isinstance(data, MultiValueDict) else data.items()
    for name, value in fields:
        values = value if isinstance(value, list) else [value]
        texts = [name, *(item for item in values if isinstance(item, str))]
        if any(has_lone_surrogate(text) for text in texts):
            field = replace_lone_surrogates(name)
            raise UnwritableText(
                f"“{field}” holds a character that cannot be stored (a lone UTF-16 surrogate). "
                "Please type it again.",
                field=field,
            )


def _is_plain(value) -> bool:
    return not isinstance(value, dict | list)


# --- CAPTCHA -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaptchaProvider:
    name: str
    script_url: str
    widget_class: str
    #: The input the provider's widget adds to the form, holding the token to verify.
    response_field: str
    verify_url: str


CAPTCHA_PROVIDERS = {
    "turnstile": CaptchaProvider(
        name="turnstile",
        script_url="https://challenges.cloudflare.com/turnstile/v0/api.js",
        widget_class="cf-turnstile",
        response_field="cf-turnstile-response",
        verify_url="https://challenges.cloudflare.com/turnstile/v0/siteverify",
    ),
    "hcaptcha": CaptchaProvider(
        name="hcaptcha",
        script_url="https://js.hcaptcha.com/1/api.js",
        widget_class="h-captcha",
        response_field="h-captcha-response",
        verify_url="https://api.hcaptcha.com/siteverify",
    ),
}
#: Verification error codes that mean our side is wrong (keys, request), not the visitor's answer.
CAPTCHA_SERVER_ERRORS = {
    "missing-input-secret",
    "invalid-input-secret",
    "sitekey-secret-mismatch",
    "bad-request",
    "internal-error",
}
CAPTCHA_UNAVAILABLE = (
    "We could not check that you are human right now. Please try again in a few minutes."
)


def captcha_provider() -> CaptchaProvider | None:
    """The configured CAPTCHA, or None when its keys are not both set."""
    if (
        intake_settings.INBOX_INTAKE_CAPTCHA_SITE_KEY
        and intake_settings.INBOX_INTAKE_CAPTCHA_SECRET_KEY
    ):
        return CAPTCHA_PROVIDERS[intake_settings.INBOX_INTAKE_CAPTCHA_PROVIDER]
    return None


def verify_captcha(provider: CaptchaProvider, token: str, ip: str | None) -> None:
    """Ask the provider whether `token` is a solved challenge. An outage refuses the submission
    (503): letting it through would switch the CAPTCHA off whenever the provider is down."""
    if not token:
        raise CaptchaFailed("Please complete the check that you are human.")
    payload = {"secret": intake_settings.INBOX_INTAKE_CAPTCHA_SECRET_KEY, "response": token}
    if ip:
        payload["remoteip"] = ip
    try:
        response = requests.post(
            provider.verify_url, data=payload, timeout=intake_settings.INBOX_INTAKE_CAPTCHA_TIMEOUT
        )
        response.raise_for_status()
        result = response.json()
    except requests.RequestException as error:
        # The exception's text could carry request details; its type says enough.
        logger.error("CAPTCHA verification (%s) failed: %s", provider.name, type(error).__name__)
        raise CaptchaUnavailable(CAPTCHA_UNAVAILABLE) from None
    if not isinstance(result, dict):
        logger.error("CAPTCHA verification (%s) answered something unexpected", provider.name)
        raise CaptchaUnavailable(CAPTCHA_UNAVAILABLE)
    if result.get("success") is True:
        return
    codes = set(result.get("error-codes") or [])
    if codes & CAPTCHA_SERVER_ERRORS:
        logger.error(
            "CAPTCHA verification (%s) refused our request: %s", provider.name, sorted(codes)
        )
        raise CaptchaUnavailable(CAPTCHA_UNAVAILABLE)
    raise CaptchaFailed("The check that you are human did not succeed. Please try it again.")
