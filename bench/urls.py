"""The site's URLs plus the intake benchmark's baselines (ROOT_URLCONF=bench.urls, never in
production): the same server answers the real form, the sandbox and both baselines."""

from django.urls import include, path

from . import baseline_views

urlpatterns = [
    path("bench/bare/", baseline_views.bare_created, name="bench_bare"),
    path("bench/synchronous/", baseline_views.synchronous_delivery, name="bench_synchronous"),
    path("", include("site_project.urls")),
]
