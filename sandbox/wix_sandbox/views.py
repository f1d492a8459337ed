"""The sandbox's views: the Wix API paths (each method an Endpoint run by the gateway), the inbox
page and the fault-rules endpoint."""

import json

from django.conf import settings
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from . import auth, contacts, faults, inbox
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
    POST=Endpoint("messages.send", inbox.send_message),
)
oauth_token = api_view(POST=Endpoint("oauth2.token", auth.issue_token, authenticated=False))
unknown_api_path = api_view()


def inbox_page(request):
    """The sandbox's Inbox, as a site owner would read it. A debugging aid: DEBUG or staff only."""
    if not (settings.DEBUG or request.user.is_staff):
        raise Http404
    selected = request.GET.get("conversation")
    summaries = inbox.inbox_overview(
        selected,
        conversations_shown=INBOX_CONVERSATIONS_SHOWN,
        messages_each=(
            INBOX_MESSAGES_OF_ONE_CONVERSATION if selected else INBOX_MESSAGES_PER_CONVERSATION
        ),
    )
    return render(request, "wix_sandbox/inbox.html", {"summaries": summaries, "selected": selected})


@require_http_methods(["GET", "POST", "DELETE"])
def fault_rules(request):
    """GET shows the fault rules in force; POST a JSON body sets them; DELETE clears them."""
    if not (request.user.is_staff or request.user.is_superuser):
        return JsonResponse(
            {"error": "Only staff may see or change the sandbox's faults"}, status=403
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
