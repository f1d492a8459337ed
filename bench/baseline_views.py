"""The two baselines the intake benchmark measures the real JSON endpoint against.

- `bare_created`: baseline A, the fastest a Django page can be on this server: the same middleware,
  then a 201 with no body. It touches neither the database nor the broker.
- `synchronous_delivery`: baseline B, the naive design Inbox Intake avoids: the request itself
  creates the contact, gets the conversation and sends the message to Wix (here the sandbox, on
  the same server), so the visitor waits for three Wix calls and Wix's latency is theirs.

They are mounted by bench/urls.py, only on the benchmark's own server (ROOT_URLCONF).
"""

import json
import threading

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from inbox_intake.conf import intake_settings
from inbox_intake.form_message import form_message_for
from inbox_intake.forms import ContactForm
from inbox_intake.models import Submission
from inbox_intake.wix import ApiKeyAuth, WixClient, WixError

#: One Wix client (one requests.Session) per server thread: a Session is not thread-safe.
_clients = threading.local()


@csrf_exempt
@require_POST
def bare_created(request):
    return HttpResponse(status=201)


@csrf_exempt
@require_POST
def synchronous_delivery(request):
    """Validate the contact form as the real endpoint does, then deliver it before answering.

    Nothing is stored on our side and nothing is retried: a Wix error is the visitor's error.
    """
    try:
        data = json.loads(request.body)
    except ValueError:
        return JsonResponse({"errors": {"__all__": ["not JSON"]}}, status=400)
    form = ContactForm(data)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    fields = form.cleaned_data
    submission = Submission(
        form_name="contact",
        data=fields,
        email=fields["email"].strip().lower(),
        name=f"{fields['first_name']} {fields['last_name']}".strip(),
    )
    client = _wix_client()
    try:
        contact_id = client.create_contact(
            {
                "name": {"first": fields["first_name"], "last": fields["last_name"]},
                "emails": {"items": [{"tag": "MAIN", "email": submission.email, "primary": True}]},
            }
        )
        conversation_id = client.get_or_create_conversation({"contactId": contact_id})
        sent = client.send_message(conversation_id, form_message_for(submission).as_wix())
    except WixError as error:
        return JsonResponse({"errors": {"__all__": [str(error)]}}, status=502)
    return JsonResponse({"reference": str(submission.reference), "message": sent["id"]}, status=201)


def _wix_client() -> WixClient:
    if not hasattr(_clients, "client"):
        credentials = intake_settings.wix_credentials()
        _clients.client = WixClient(
            base_url=intake_settings.WIX_API_BASE_URL,
            auth=ApiKeyAuth(credentials.api_key, site_id=credentials.site_id),
            timeout=(intake_settings.WIX_CONNECT_TIMEOUT, intake_settings.WIX_READ_TIMEOUT),
        )
    return _clients.client
