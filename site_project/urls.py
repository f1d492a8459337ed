from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path
from django.views.generic import RedirectView


def no_favicon(request):
    # Browsers ask for /favicon.ico on every page; an empty answer keeps 404s out of the log.
    return HttpResponse(status=204)


urlpatterns = [
    path("favicon.ico", no_favicon),
    path("", RedirectView.as_view(pattern_name="inbox_intake:contact", permanent=False)),
    path("admin/", admin.site.urls),
    path("intake/", include("inbox_intake.urls")),
]
# The local Wix sandbox exists only in sandbox mode: with real Wix credentials, no such URL.
if settings.INBOX_INTAKE_WIX_SANDBOX:
    urlpatterns.append(path("wix-sandbox/", include("wix_sandbox.urls")))
