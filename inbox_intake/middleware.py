"""Partitioned (CHIPS) CSRF and session cookies, which Django 5.2 cannot set by itself.

The embed iframe on another site is a third-party context. Browsers that block third-party cookies
(Safari, Chromium) drop the CSRF cookie there unless it is Partitioned, and the form inside the
iframe then never passes its CSRF check. A partitioned cookie is kept per embedding site, so it
cannot be used to follow a visitor across sites.
"""

from http.cookies import Morsel

from django.conf import settings

from .conf import intake_settings


class PartitionedMorsel(Morsel):
    """A cookie written with the Partitioned attribute (http.cookies knows it from Python 3.14)."""

    def OutputString(self, attrs=None) -> str:
        return f"{super().OutputString(attrs)}; Partitioned"


def partitioned_cookies(get_response):
    """Mark the CSRF and session cookies Partitioned when CSRF_/SESSION_COOKIE_PARTITIONED say so.

    It sits above SessionMiddleware so that it sees the cookies both of them set.
    """

    def middleware(request):
        response = get_response(request)
        for name, partitioned in (
            (settings.CSRF_COOKIE_NAME, intake_settings.CSRF_COOKIE_PARTITIONED),
            (settings.SESSION_COOKIE_NAME, intake_settings.SESSION_COOKIE_PARTITIONED),
        ):
            if partitioned and name in response.cookies:
                response.cookies[name] = _partitioned(response.cookies[name])
        return response

    return middleware


def _partitioned(morsel: Morsel) -> PartitionedMorsel:
    copy = PartitionedMorsel()
    copy.set(morsel.key, morsel.value, morsel.coded_value)
    copy.update(morsel)
    return copy
