"""Which requests django-cors-headers answers for other origins: the app decides, for its own URLs.

The host installs corsheaders' `CorsMiddleware` (checks.py says so if it is missing); it asks its
`check_request_enabled` signal whether a request may have CORS headers, and `cors_enabled` below
answers yes only for the form's JSON endpoint and its schema, called from an allowed origin
(`protection.is_allowed_origin`: this site or `INBOX_INTAKE_ALLOWED_ORIGINS`). So the host needs no
`CORS_*` setting, and the app's allowlist governs nothing but the app's URLs. The middleware then
answers the preflight itself and writes `Access-Control-Allow-Origin` (never `-Credentials`,
unless the host turns that on for its whole site).

What stays in the views: the 403 for an origin not allowed (`protection.check_origin`), `Vary:
Origin` on every JSON answer (the answer depends on it, CORS or not), and exposing `Retry-After`,
which corsheaders only does from a site-wide setting.
"""

from django.core.exceptions import DisallowedHost
from django.urls import Resolver404, resolve

from . import protection

#: The URL names (urls.py) of the views that answer other origins: a form's own URL (its JSON
#: endpoint, and its preflight) and its schema.
CROSS_ORIGIN_URL_NAMES = frozenset({"contact", "form", "schema"})
APP_NAMESPACE = "inbox_intake"


def cors_enabled(sender, request, **kwargs) -> bool:
    """corsheaders' `check_request_enabled` receiver: connected in apps.py."""
    return _from_allowed_origin(request) and _is_cross_origin_url(request)


def _from_allowed_origin(request) -> bool:
    origin = request.headers.get("Origin")
    if not origin:
        return False
    try:
        site = protection.own_origin(request)
    except DisallowedHost:  # CommonMiddleware, further down, answers 400
        return False
    return protection.is_allowed_origin(origin, site)


def _is_cross_origin_url(request) -> bool:
    # A preflight is answered by the middleware before the URL is resolved.
    match = request.resolver_match
    if match is None:
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return False
    return APP_NAMESPACE in match.app_names and match.url_name in CROSS_ORIGIN_URL_NAMES
