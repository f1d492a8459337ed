"""The baselines the intake benchmark measures the real form against.

- `bare_created`: baseline A, the fastest a Django page can be on this server: the same middleware,
  then a 201 with no body. It touches neither the database nor the broker. A ceiling, no peer.
- `synchronous_delivery`: baseline B, the naive design Inbox Intake avoids: the request itself
  creates the contact, gets the conversation and sends the message to Wix (here the sandbox, on
  the same server), so the visitor waits for three Wix calls and Wix's latency is theirs.
- `usual_json` and `usual_form`: baseline C, what a competent developer writes in an afternoon:
  the same form validated, the row saved with the ORM, `delay_on_commit` of the delivery task;
  no origin checks, rate limits, honeypot or CAPTCHA. The form version keeps CSRF and a session.
- `floor`: floor D, the least durable work: one parameterised INSERT with a raw cursor and one
  raw Redis push, no form.

They are mounted by bench/urls.py, only on the benchmark's own server (ROOT_URLCONF).
"""

import json
import os
import threading
import uuid

import redis
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from inbox_intake.conf import intake_settings
from inbox_intake.form_message import form_message_for
from inbox_intake.forms import ContactForm
from inbox_intake.models import Submission
from inbox_intake.tasks import deliver_submission
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


@csrf_exempt
@require_POST
def usual_json(request):
    try:
        form = ContactForm(json.loads(request.body))
    except ValueError:
        return JsonResponse({"errors": {"__all__": ["not JSON"]}}, status=400)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    submission = _save_the_usual_way(form.cleaned_data)
    return JsonResponse({"reference": str(submission.reference)}, status=201)


@require_POST
def usual_form(request):
    form = ContactForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    submission = _save_the_usual_way(form.cleaned_data)
    request.session["reference"] = str(submission.reference)
    return redirect("/intake/contact/thanks/")


def _save_the_usual_way(fields: dict) -> Submission:
    submission = Submission.objects.create(
        form_name="contact",
        data=fields,
        email=fields["email"].lower(),
        name=f"{fields['first_name']} {fields['last_name']}",
    )
    deliver_submission.delay_on_commit(submission.pk)
    return submission


#: One Redis client (a connection pool) per server process, as Celery keeps its own.
_broker = redis.Redis.from_url(os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"))
FLOOR_INSERT = f"""
INSERT INTO {connection.ops.quote_name(Submission._meta.db_table)} (reference, form_name, data,
    email, name, status, attempt_count, attempts_since_retry, needs_reconciliation, last_error,
    wix_member_id, wix_anonymous_visitor_id, wix_contact_id, wix_conversation_id, wix_message_id,
    user_agent, created_at, updated_at, enqueued_at)
VALUES (%s, 'contact', %s::jsonb, %s, '', 'queued', 0, 0, false, '', '', '', '', '', '', '',
    %s, %s, %s)
RETURNING id
"""  # noqa: S608 (the model's own table name)


@csrf_exempt
@require_POST
def floor(request):
    """The body as it came, stored in one INSERT, and its id pushed to the broker's list."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            FLOOR_INSERT, [uuid.uuid4(), request.body.decode(), "floor@example.com", now, now, now]
        )
        (submission_id,) = cursor.fetchone()
    _broker.lpush(os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "celery"), submission_id)
    return HttpResponse(status=201)
