"""Thin views: the form page and its iframe embed, the JSON endpoint, the schema and the script.

Every check lives in protection.py and every state change in services/; these views only turn
HTTP into calls of `protection.admit` and its outcome back into HTTP.
"""

import hmac
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from urllib.parse import urlencode

from django.core.exceptions import NON_FIELD_ERRORS, BadRequest, SuspiciousOperation
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from . import health, metrics, protection
from .conf import intake_settings
from .forms import RegisteredForm, get_registered_form
from .openapi import openapi_document

EMBED_SCRIPT = Path(__file__).parent / "static" / "inbox_intake" / "embed.js"
FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def embeddable(view):
    """Let this site and the allowed origins frame the view; every other page keeps DENY."""

    @xframe_options_exempt
    @wraps(view)
    def framed_view(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Content-Security-Policy"] = protection.frame_ancestors()
        return response

    return framed_view


# The JSON path is CSRF-exempt: cross-origin calls carry no cookies, so it relies on the origin
# allowlist, the rate limits and the spam checks instead. The HTML path keeps CSRF (_submit_html).
@csrf_exempt
@require_http_methods(["GET", "POST", "OPTIONS"])
def intake_form(request, form_name: str):
    registered = _registered_form(form_name)
    if request.method == "OPTIONS":
        return _preflight(request)
    if request.method == "POST" and _wants_json(request):
        return _submit_json(request, registered)
    return _html_form(request, registered, embed=False)


@embeddable
@csrf_exempt  # for the size check only: _html_form checks CSRF before it accepts anything
@require_http_methods(["GET", "POST"])
def embed_form(request, form_name: str):
    return _html_form(request, _registered_form(form_name), embed=True)


@require_GET
def thanks(request, form_name: str):
    context = {
        "intake_form": _registered_form(form_name),
        "reference": request.session.get("intake_reference"),
    }
    return render(request, "inbox_intake/thanks.html", context)


@embeddable
@require_GET
def embed_thanks(request, form_name: str):
    """The thank-you page inside the iframe; it tells the host page, which may then go to `next`."""
    context = {
        "intake_form": _registered_form(form_name),
        "reference": request.session.get("intake_reference"),
        "next_url": _next_url(request, request.GET.get(protection.NEXT_FIELD)),
    }
    return render(request, "inbox_intake/embed_thanks.html", context)


@require_http_methods(["GET", "OPTIONS"])
def form_schema(request, form_name: str):
    """What the script embed needs to render the form: its fields and where to send them."""
    intake_form = _registered_form(form_name)
    if request.method == "OPTIONS":
        return _preflight(request)
    provider = protection.captcha_provider()
    schema = {
        "form": form_name,
        "action": request.build_absolute_uri(reverse("inbox_intake:form", args=[form_name])),
        "title": intake_form.title,
        "thank_you": intake_form.thank_you,
        "fields": intake_form.field_schema(),
        "honeypot": protection.HONEYPOT_FIELD,
        "captcha": provider
        and {
            "provider": provider.name,
            "site_key": intake_settings.INBOX_INTAKE_CAPTCHA_SITE_KEY,
            "script_url": provider.script_url,
            "widget_class": provider.widget_class,
        },
    }
    return _json(request, schema, status=200)


@require_GET
def openapi(request):
    """The OpenAPI document of the JSON endpoint, for every registered form."""
    return JsonResponse(openapi_document(protection.own_origin(request)))


@require_GET
def embed_script(request, form_name: str):
    """The script embed. It is the same file for every form: it finds its form from its own URL."""
    _registered_form(form_name)
    response = FileResponse(EMBED_SCRIPT.open("rb"), content_type="text/javascript")
    response["Cache-Control"] = "public, max-age=3600"
    return response


# --- HTML ----------------------------------------------------------------------------------------


def _html_form(request, intake_form: RegisteredForm, *, embed: bool):
    page = _FormPage(intake_form, embed=embed)
    if request.method == "GET":
        next_url = _next_url(request, request.GET.get(protection.NEXT_FIELD))
        return page.render(request, intake_form.form(), next_url=next_url)
    try:
        # Before CSRF: a refused CSRF check counts too, and the check reads the whole body.
        with protection.counting_refusals(intake_form.slug):
            _screen_post(request, intake_form)
    except protection.TooLarge as refusal:
        return page.render(request, intake_form.form(), refusal=refusal)
    except protection.RateLimited as refusal:
        form = intake_form.form(request.POST)  # keeps what was typed
        next_url = _next_url(request, request.POST.get(protection.NEXT_FIELD))
        return page.render(request, form, next_url=next_url, refusal=refusal)
    return _submit_html(request, page)


@csrf_protect
def _submit_html(request, page: "_FormPage"):
    intake_form = page.intake_form
    form_name = intake_form.slug
    next_url = _next_url(request, request.POST.get(protection.NEXT_FIELD))
    try:
        with protection.counting_refusals(form_name):
            submission = protection.admit(
                intake_form,
                data=request.POST,
                files=request.FILES,
                client_ip=_client_ip(request),
                user_agent=request.headers.get("User-Agent", ""),
                user=request.user,
            )
    except protection.InvalidSubmission as invalid:
        return page.render(request, invalid.form, next_url=next_url, status=400)
    except protection.UnwritableText as refusal:
        # What was typed cannot be written back into the page.
        return page.render(request, intake_form.form(), next_url=next_url, refusal=refusal)
    except protection.Refused as refusal:
        form = intake_form.form(request.POST)  # keeps what was typed
        return page.render(request, form, next_url=next_url, refusal=refusal)
    request.session["intake_reference"] = str(submission.reference)
    if page.embed:
        thanks_url = reverse("inbox_intake:embed_thanks", args=[form_name])
        query = f"?{urlencode({protection.NEXT_FIELD: next_url})}" if next_url else ""
        return redirect(thanks_url + query)
    return redirect(next_url or reverse("inbox_intake:thanks", args=[form_name]))


@dataclass(frozen=True)
class _FormPage:
    """The form's page, or its iframe embed."""

    intake_form: RegisteredForm
    embed: bool

    def render(self, request, form, *, next_url=None, refusal=None, status=200):
        template = "inbox_intake/embed_form.html" if self.embed else "inbox_intake/form.html"
        context = {"intake_form": self.intake_form, **_form_context(form, next_url, refusal)}
        response = render(request, template, context, status=refusal.status if refusal else status)
        _set_retry_after(response, refusal)
        return response


def _form_context(form, next_url, refusal) -> dict:
    provider = protection.captcha_provider()
    return {
        "form": form,
        "next_url": next_url,
        "refusal": refusal and refusal.message,
        "honeypot_field": protection.HONEYPOT_FIELD,
        "captcha": provider,
        "captcha_site_key": intake_settings.INBOX_INTAKE_CAPTCHA_SITE_KEY,
    }


# --- JSON ----------------------------------------------------------------------------------------


def _submit_json(request, intake_form: RegisteredForm):
    """POST /intake/<form>/ with Accept: application/json or a JSON body; the answers are listed
    in the README and in the OpenAPI document (openapi.py).

    It never acts as the session's user: without a CSRF check, a page on another site could
    otherwise submit in their name.
    """
    try:
        with protection.counting_refusals(intake_form.slug):
            _screen_post(request, intake_form)
            protection.check_origin(request.headers.get("Origin"), protection.own_origin(request))
            data, files = _json_request_data(request, intake_form.form_class)
            submission = protection.admit(
                intake_form,
                data=data,
                files=files,
                client_ip=_client_ip(request),
                user_agent=request.headers.get("User-Agent", ""),
            )
    except protection.InvalidSubmission as invalid:
        return _json(request, {"errors": invalid.form.errors.get_json_data()}, status=400)
    except protection.Refused as refusal:
        errors = {
            refusal.field or NON_FIELD_ERRORS: [{"message": refusal.message, "code": refusal.code}]
        }
        response = _json(request, {"errors": errors}, status=refusal.status)
        _set_retry_after(response, refusal)
        return response
    body = {
        "reference": str(submission.reference),
        "message": intake_form.thank_you,
        "redirect": _next_url(request, data.get(protection.NEXT_FIELD)),
    }
    return _json(request, body, status=201)


def _json_request_data(request, form_class):
    """(fields, files) of the body: JSON, form-encoded, or multipart (the only one with files)."""
    if request.content_type == "application/json":
        return protection.parse_json_body(request.body, form_class), None
    if request.content_type in FORM_CONTENT_TYPES:
        try:
            return request.POST, request.FILES
        except (BadRequest, MultiPartParserError, SuspiciousOperation) as error:
            # Django's refusal of a body it will not parse (form-encoded in a charset other than
            # UTF-8, a broken multipart, too many fields or files), answered in JSON like every
            # other.
            raise protection.MalformedBody(f"The form body cannot be read: {error}") from None
    raise protection.UnsupportedMediaType(
        "Send the form as application/json, application/x-www-form-urlencoded or "
        "multipart/form-data."
    )


def _json(request, payload: dict, *, status: int) -> JsonResponse:
    # The CORS headers are corsheaders' (cors.py); the answer depends on the Origin either way.
    response = JsonResponse(payload, status=status)
    patch_vary_headers(response, ["Origin"])
    return response


def _preflight(request) -> HttpResponse:
    """An OPTIONS that corsheaders' middleware left to the view (it answers the preflights of
    allowed origins, cors.py): 204 for an allowed origin, which the middleware gives its headers;
    else 403."""
    origin = request.headers.get("Origin")
    allowed = origin and protection.is_allowed_origin(origin, protection.own_origin(request))
    return HttpResponse(status=204 if allowed else 403)


# --- Operations: health and metrics -------------------------------------------------------------


@never_cache
@require_GET
def health_live(request):
    """Liveness: the process answers requests. It touches nothing, so a database or broker
    outage never gets a web process restarted."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def health_detail(request):
    """The detailed check (health.check): 200 when all is well, 503 naming what is wrong."""
    if not _has_token(request, intake_settings.INBOX_INTAKE_HEALTH_TOKEN):
        return JsonResponse({"status": "forbidden"}, status=403)
    report = health.check()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)


@never_cache
@require_GET
def metrics_scrape(request):
    """Prometheus' scrape; 404 while metrics are off, 403 for a caller they do not let in."""
    if not metrics.enabled():
        raise Http404("Metrics are off.")
    token = intake_settings.INBOX_INTAKE_METRICS_TOKEN
    if not (_has_token(request, token) and metrics.may_scrape(_client_ip(request))):
        return HttpResponse(status=403)
    body, content_type = metrics.exposition()
    return HttpResponse(body, content_type=content_type)


def _has_token(request, token: str) -> bool:
    """True if no token is required, or the request carries it (Bearer, or ?token=)."""
    if not token:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        given = request.GET.get("token", "")
    return hmac.compare_digest(given.strip().encode(), token.encode())


# --- Helpers -------------------------------------------------------------------------------------


def _registered_form(form_name: str) -> RegisteredForm:
    intake_form = get_registered_form(form_name)
    if intake_form is None:
        raise Http404("No such form.")
    return intake_form


def _wants_json(request) -> bool:
    # A browser's own form POST prefers text/html and cannot send a JSON body; only script
    # (fetch) asks for JSON or sends it, and a cross-site script's JSON body needs a CORS
    # preflight first, which only allowed origins pass.
    return (
        request.content_type == "application/json"
        or request.get_preferred_type(["text/html", "application/json"]) == "application/json"
    )


def _next_url(request, url: str | None) -> str | None:
    """`url`, made absolute, if it is on this site or an allowed origin; else None.

    Absolute, because the embeds hand it to the host page, where a path means another place.
    """
    safe = protection.safe_redirect_url(url, protection.own_origin(request))
    return request.build_absolute_uri(safe) if safe else None


def _screen_post(request, intake_form: RegisteredForm) -> None:
    """protection.screen_post for this request: its rate limits and its size, files allowed."""
    protection.screen_post(
        intake_form.slug,
        _client_ip(request),
        request.META.get("CONTENT_LENGTH"),
        file_bytes=intake_form.max_file_bytes,
    )


def _client_ip(request) -> str | None:
    return protection.client_ip(
        request.META.get("REMOTE_ADDR", ""), request.headers.get("X-Forwarded-For")
    )


def _set_retry_after(response, refusal) -> None:
    if refusal is not None and refusal.retry_after is not None:
        response["Retry-After"] = str(refusal.retry_after)
        # Readable by an allowed origin's script: corsheaders exposes only a site-wide list.
        response["Access-Control-Expose-Headers"] = "Retry-After"
