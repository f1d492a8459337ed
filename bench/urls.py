"""The site's URLs plus the intake benchmark's baselines (ROOT_URLCONF=bench.urls, never in
production): the same server answers the real form, the sandbox and every baseline."""

from django.urls import include, path

from . import baseline_views

urlpatterns = [
    path("bench/bare/", baseline_views.bare_created, name="bench_bare"),
    path("bench/synchronous/", baseline_views.synchronous_delivery, name="bench_synchronous"),
    path("bench/usual/", baseline_views.usual_json, name="bench_usual"),
    path("bench/usual/form/", baseline_views.usual_form, name="bench_usual_form"),
    path("bench/floor/", baseline_views.floor, name="bench_floor"),
    path("", include("site_project.urls")),
]
