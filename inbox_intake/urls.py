from django.urls import path

from . import views

app_name = "inbox_intake"

urlpatterns = [
    # Before the forms' own paths, which would take these names as form slugs (checks.py refuses
    # a form registered under one of them).
    path("health/", views.health_detail, name="health"),
    path("health/live/", views.health_live, name="health_live"),
    path("metrics/", views.metrics_scrape, name="metrics"),
    path("openapi.json", views.openapi, name="openapi"),
    # The first form's own name, which the site's root and older links use.
    path("contact/", views.intake_form, {"form_name": "contact"}, name="contact"),
    path("<slug:form_name>/", views.intake_form, name="form"),
    path("<slug:form_name>/thanks/", views.thanks, name="thanks"),
    path("<slug:form_name>/embed/", views.embed_form, name="embed"),
    path("<slug:form_name>/embed/thanks/", views.embed_thanks, name="embed_thanks"),
    path("<slug:form_name>/embed.js", views.embed_script, name="embed_script"),
    path("<slug:form_name>/schema.json", views.form_schema, name="schema"),
]
