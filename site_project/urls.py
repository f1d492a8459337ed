from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="inbox_intake:contact", permanent=False)),
    path("admin/", admin.site.urls),
    path("intake/", include("inbox_intake.urls")),
    path("wix-sandbox/", include("wix_sandbox.urls")),
]
