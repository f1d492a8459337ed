"""The sandbox's views: the Wix API paths (each method an Endpoint run by the gateway), the inbox
page, the fault page and the fault-rules endpoint.

The pages and the fault-rules endpoint are for superusers and users with the permission
"Can use the Wix sandbox" only; the API paths answer to the sandbox's credentials instead, and the
upload and download URLs (media.py) to the token in their path.
"""

import json
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from . import auth, contacts, faults, inbox, media
from .forms import FaultRuleForm
from .gateway import Endpoint, api_view

INBOX_CONVERSATIONS_SHOWN = 100
INBOX_MESSAGES_PER_CONVERSATION = 10
INBOX_MESSAGES_OF_ONE_CONVERSATION = 1000

contact_collection = api_view(POST=Endpoint("contacts.create", contacts.create_contact))
contact_query = api_view(POST=Endpoint("contacts.query", contacts.query_contacts))
contact_detail = api_view(GET=Endpoint("contacts.get", contacts.get_contact))
conversation_collection = api_view(
    POST=Endpoint("conversations.get_or_create", inbox.get_or_create_conversation)
)
conversation_detail = api_view(GET=Endpoint("conversations.get", inbox.get_conversation))
message_collection = api_view(
    GET=Endpoint("messages.list", inbox.list_messages),
    POST=Endpoint("messages.send", inbox.send_message, takes_request=True),
)
upload_url = api_view(
    POST=Endpoint("media.upload_url", media.generate_upload_url, takes_request=True)
)
upload = api_view(PUT=Endpoint("media.upload", media.upload, authenticated=False, upload=True))
storage_quota = api_view(GET=Endpoint("media.storage_quota", media.storage_quota))
download_url = api_view(
    POST=Endpoint("media.download_url", media.generate_download_url, takes_request=True)
)
download = require_http_methods(["GET", "HEAD"])(media.download)
oauth_token = api_view(POST=Endpoint("oauth2.token", auth.issue_token, authenticated=False))
unknown_api_path = api_view()


def may_use_sandbox(user) -> bool:
    return user.is_superuser or user.has_perm("wix_sandbox.use_sandbox")


def sandbox_page(view):
    """An HTML page of the sandbox: visitors sign in through the admin first, and a signed-in user
    without the permission gets 403."""

    @login_required(login_url="admin:login")
    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not may_use_sandbox(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return guarded


@sandbox_page
def inbox_page(request):
    """The sandbox's Inbox, as a site owner would read it."""
    selected = request.GET.get("conversation")
    summaries = inbox.inbox_overview(
        selected,
        conversations_shown=INBOX_CONVERSATIONS_SHOWN,
        messages_each=(
            INBOX_MESSAGES_OF_ONE_CONVERSATION if selected else INBOX_MESSAGES_PER_CONVERSATION
        ),
    )
    return render(request, "wix_sandbox/inbox.html", {"summaries": summaries, "selected": selected})


@sandbox_page
@require_http_methods(["GET", "POST"])
def fault_page(request):
    """The fault rules in force, a form to add one, and a button to clear them. A POST that
    succeeds redirects back here; one that does not shows why, with status 400."""
    form = FaultRuleForm()
    if request.method == "POST":
        if request.POST.get("action") == "clear":
            faults.clear_rules()
            return redirect("wix_sandbox:fault_page")
        form = FaultRuleForm(request.POST)
        if form.is_valid():
            try:
                faults.add_rule(form.cleaned_data["endpoint"], form.rule())
            except faults.FaultRulesError as error:
                form.add_error(None, str(error))
            else:
                return redirect("wix_sandbox:fault_page")
    source, rules = faults.current_rules()
    context = {"form": form, "source": source, "rules": rules, "env_var": faults.ENV_VAR}
    return render(request, "wix_sandbox/faults.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST", "DELETE"])
def fault_rules(request):
    """GET shows the fault rules in force; POST a JSON body sets them; DELETE clears them."""
    if not may_use_sandbox(request.user):
        return JsonResponse(
            {"error": 'Needs a superuser or the permission "Can use the Wix sandbox"'}, status=403
        )
    if request.method == "POST":
        try:
            faults.save_rules(json.loads(request.body or b"null"))
        except ValueError as error:
            return JsonResponse({"error": str(error)}, status=400)
    elif request.method == "DELETE":
        faults.clear_rules()
    source, rules = faults.current_rules()
    return JsonResponse({"source": source, "rules": rules})
