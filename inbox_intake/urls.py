from django.urls import path

from . import views

app_name = "inbox_intake"

urlpatterns = [
    path("contact/", views.intake_form, {"form_name": "contact"}, name="contact"),
    path("<slug:form_name>/thanks/", views.thanks, name="thanks"),
]
