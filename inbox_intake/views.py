"""Thin views: validate the form, hand the data to the intake service, redirect."""

from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from . import services
from .forms import INTAKE_FORMS


@require_http_methods(["GET", "POST"])
def intake_form(request, form_name: str):
    form_class = INTAKE_FORMS.get(form_name)
    if form_class is None:
        raise Http404("No such form.")
    if request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            submission = services.accept_submission(
                form_name=form_name,
                data=form.cleaned_data,
                client_ip=request.META.get("REMOTE_ADDR"),
                user_agent=request.headers.get("User-Agent", ""),
                user=request.user,
            )
            request.session["intake_reference"] = str(submission.reference)
            return redirect("inbox_intake:thanks", form_name=form_name)
        return render(request, "inbox_intake/form.html", {"form": form}, status=400)
    return render(request, "inbox_intake/form.html", {"form": form_class()})


def thanks(request, form_name: str):
    if form_name not in INTAKE_FORMS:
        raise Http404("No such form.")
    reference = request.session.get("intake_reference")
    return render(request, "inbox_intake/thanks.html", {"reference": reference})
