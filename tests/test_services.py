"""Delivery, relay, retry and discard, against the Wix sandbox over real HTTP on loopback."""

import json
import random
from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db.models import JSONField
from django.utils import timezone

from inbox_intake.models import DeliveryAttempt, Submission, WixParticipant
from inbox_intake.services import broker, delivery, relay, staff_actions
from inbox_intake.tasks import deliver_submission
from inbox_intake.wix import ApiKeyAuth, WixClient
from site_project.celery import app as celery_app
from tests.conftest import PDF_BYTES, png_bytes, wait_until
from wix_sandbox.conf import sandbox_setting
from wix_sandbox.models import (
    ApiCall,
    SandboxContact,
    SandboxConversation,
    SandboxMediaFile,
    SandboxMessage,
)

Status = Submission.Status
Outcome = DeliveryAttempt.Outcome


@pytest.fixture
def sandbox_client(sandbox_url, settings):
    auth = ApiKeyAuth(
        sandbox_setting("WIX_SANDBOX_API_KEY"), site_id=sandbox_setting("WIX_SANDBOX_SITE_ID")
    )
    return WixClient(base_url=sandbox_url, auth=auth)


@pytest.fixture
def seeded_jitter(monkeypatch):
    monkeypatch.setattr(delivery, "jitter_random", random.Random(42))


def form_fields(message: SandboxMessage) -> dict:
    return {field["name"]: field["value"] for field in message.data["content"]["form"]["fields"]}


# --- Delivery -------------------------------------------------------------------------------------


def test_delivers_a_form_message_to_the_contacts_conversation(
    sandbox_url, make_submission, transactional_db
):
    submission = make_submission(data={"phone": "+15555550100"})

    delivered = delivery.deliver(submission.pk)

    assert delivered.status == Status.SENT
    assert delivered.sent_at is not None
    assert delivered.attempt_count == 1
    message = SandboxMessage.objects.get()
    assert message.data["id"] == delivered.wix_message_id
    assert str(message.conversation.id) == delivered.wix_conversation_id
    assert message.conversation.participant == {"contactId": delivered.wix_contact_id}
    assert message.data["direction"] == "PARTICIPANT_TO_BUSINESS"
    assert message.data["visibility"] == "BUSINESS"
    assert form_fields(message) == {
        "First name": "Jane",
        "Last name": "Doe",
        "Email": "jane@example.com",
        "Phone": "+15555550100",
        "Message": "Hello, I would like a quote.",
        "Subscribe to newsletter": "No",
        "Reference": str(submission.reference),
    }
    assert list(delivered.attempts.values_list("outcome", flat=True)) == [Outcome.SENT]


def test_a_repeat_submitter_costs_one_api_call(sandbox_url, make_submission, transactional_db):
    delivery.deliver(make_submission().pk)
    calls_before = ApiCall.objects.count()

    second = delivery.deliver(make_submission().pk)

    assert ApiCall.objects.count() - calls_before == 1
    assert second.status == Status.SENT
    assert SandboxConversation.objects.count() == 1
    assert SandboxMessage.objects.count() == 2


def test_an_existing_wix_contact_is_reused_not_duplicated(
    sandbox_url, sandbox_client, make_submission, transactional_db
):
    contact_id = sandbox_client.create_contact(
        {"emails": {"items": [{"tag": "WORK", "email": "JANE@example.com"}]}}
    )

    delivered = delivery.deliver(make_submission().pk)

    assert delivered.wix_contact_id == contact_id
    assert SandboxContact.objects.count() == 1
    creates = ApiCall.objects.filter(path="/contacts/v4/contacts").values_list("status", flat=True)
    assert list(creates) == [200, 409], "created once by the test, then refused as a duplicate"


def test_one_mailbox_written_three_ways_is_one_wix_contact(
    sandbox_url, make_submission, transactional_db
):
    spellings = ["jane@ex\u00e4mple.com", "jane@exa\u0308mple.com", "jane@XN--EXMPLE-CUA.com"]

    delivered = [delivery.deliver(make_submission(data={"email": e}).pk) for e in spellings]

    assert [submission.status for submission in delivered] == [Status.SENT] * 3
    assert SandboxContact.objects.count() == 1
    assert WixParticipant.objects.get().key == "email:jane@xn--exmple-cua.com"
    create = json.loads(ApiCall.objects.get(path="/contacts/v4/contacts").body)
    assert create["info"]["emails"]["items"][0]["email"] == "jane@xn--exmple-cua.com"
    assert [submission.data["email"] for submission in delivered] == spellings  # as typed


def test_a_linked_member_uses_the_member_id(sandbox_url, make_submission, transactional_db):
    member_id = "88888888-8888-4888-8888-888888888888"

    delivered = delivery.deliver(make_submission(wix_member_id=member_id).pk)

    assert delivered.status == Status.SENT
    conversation = SandboxConversation.objects.get()
    assert conversation.participant["memberId"] == member_id
    assert not ApiCall.objects.filter(path__startswith="/contacts/").exists()


def test_an_anonymous_visitor_id_is_used_when_given(sandbox_url, make_submission, transactional_db):
    visitor_id = "99999999-9999-4999-8999-999999999999"

    delivery.deliver(make_submission(wix_anonymous_visitor_id=visitor_id).pk)

    assert SandboxConversation.objects.get().participant["anonymousVisitorId"] == visitor_id


def test_a_duplicate_task_message_does_nothing(sandbox_url, make_submission, transactional_db):
    submission = make_submission()
    delivery.deliver(submission.pk)

    assert delivery.deliver(submission.pk) is None
    assert SandboxMessage.objects.count() == 1


def test_a_stale_cached_conversation_is_looked_up_again(
    sandbox_url, make_submission, transactional_db
):
    delivery.deliver(make_submission().pk)
    WixParticipant.objects.update(conversation_id="00000000-0000-4000-8000-000000000000")

    delivered = delivery.deliver(make_submission().pk)

    assert delivered.status == Status.SENT
    assert SandboxMessage.objects.count() == 2
    assert WixParticipant.objects.get().conversation_id == delivered.wix_conversation_id


def test_a_message_already_in_wix_is_recorded_not_sent_twice(
    sandbox_url, make_submission, transactional_db
):
    submission = make_submission()
    delivery.deliver(submission.pk)
    Submission.objects.filter(pk=submission.pk).update(
        status=Status.RETRYING, next_attempt_at=timezone.now(), needs_reconciliation=True
    )

    delivered = delivery.deliver(submission.pk)

    assert delivered.status == Status.SENT
    assert delivered.needs_reconciliation is False
    assert SandboxMessage.objects.count() == 1
    assert delivered.attempts.first().outcome == Outcome.RECONCILED


def test_reconciliation_that_finds_nothing_sends(sandbox_url, make_submission, transactional_db):
    delivery.deliver(make_submission().pk)
    second = make_submission(needs_reconciliation=True)

    delivered = delivery.deliver(second.pk)

    assert delivered.attempts.first().outcome == Outcome.SENT
    assert SandboxMessage.objects.count() == 2


# --- Failures -------------------------------------------------------------------------------------


def test_wrong_api_key_fails_at_once_with_a_clear_reason(
    sandbox_url, make_submission, settings, transactional_db
):
    settings.INBOX_INTAKE_WIX_SANDBOX = False
    settings.WIX_API_KEY = "IST.wrong-key"
    settings.WIX_SITE_ID = sandbox_setting("WIX_SANDBOX_SITE_ID")

    failed = delivery.deliver(make_submission().pk)

    assert failed.status == Status.FAILED
    assert failed.next_attempt_at is None
    assert "HTTP 401" in failed.last_error
    assert "IST.wrong-key" not in failed.last_error
    attempt = failed.attempts.get()
    assert (attempt.outcome, attempt.http_status) == (Outcome.PERMANENT, 401)
    assert attempt.request_id


def test_wix_down_keeps_the_submission_for_a_retry(make_submission, settings, seeded_jitter):
    settings.WIX_API_BASE_URL = "http://127.0.0.1:9/wix-sandbox"

    retrying = delivery.deliver(make_submission().pk)

    assert retrying.status == Status.RETRYING
    assert retrying.next_attempt_at > timezone.now() - timedelta(seconds=1)
    assert "could not connect" in retrying.last_error
    assert retrying.attempts.get().outcome == Outcome.TRANSIENT


def test_the_attempt_limit_turns_retrying_into_failed_and_says_so(make_submission, settings):
    settings.WIX_API_BASE_URL = "http://127.0.0.1:9/wix-sandbox"
    settings.INBOX_INTAKE_MAX_ATTEMPTS = 3
    submission = make_submission(attempt_count=2, attempts_since_retry=2)

    failed = delivery.deliver(submission.pk)

    assert failed.status == Status.FAILED
    assert failed.attempt_count == 3
    assert failed.last_error.startswith(
        "Gave up after 3 attempts (INBOX_INTAKE_MAX_ATTEMPTS): POST /contacts/v4/contacts: "
    )
    attempt = failed.attempts.get()
    assert attempt.outcome == Outcome.TRANSIENT
    assert attempt.error.startswith("Gave up after 3 attempts (INBOX_INTAKE_MAX_ATTEMPTS): ")


def test_a_limit_of_one_attempt_gives_up_in_the_singular(make_submission, settings):
    settings.WIX_API_BASE_URL = "http://127.0.0.1:9/wix-sandbox"
    settings.INBOX_INTAKE_MAX_ATTEMPTS = 1

    failed = delivery.deliver(make_submission().pk)

    assert failed.last_error.startswith("Gave up after 1 attempt (INBOX_INTAKE_MAX_ATTEMPTS): ")


def test_the_attempt_count_is_the_total_across_a_retry(make_submission, settings):
    """A retry starts the attempt limit again, but the count of attempts made goes on."""
    settings.WIX_API_BASE_URL = "http://127.0.0.1:9/wix-sandbox"
    settings.INBOX_INTAKE_MAX_ATTEMPTS = 2
    submission = make_submission()
    delivery.deliver(submission.pk)
    make_due(submission)
    assert delivery.deliver(submission.pk).status == Status.FAILED

    staff_actions.retry_submissions(Submission.objects.filter(pk=submission.pk))
    retried = delivery.deliver(submission.pk)

    assert (retried.status, retried.attempt_count, retried.attempts_since_retry) == (
        Status.RETRYING,
        3,
        1,
    )
    assert retried.attempts.count() == 3


def test_a_submission_too_large_for_wix_fails_with_the_reason(make_submission):
    failed = delivery.deliver(make_submission(data={"message": "x" * 200_000}).pk)

    assert failed.status == Status.FAILED
    assert "more than 14 fields" in failed.last_error
    assert failed.data["message"] == "x" * 200_000


# --- Claim, backoff, relay ------------------------------------------------------------------------


def test_an_expired_lease_is_taken_over_and_looks_before_sending(
    sandbox_url, make_submission, transactional_db
):
    submission = make_submission(
        status=Status.SENDING, locked_until=timezone.now() - timedelta(seconds=1), attempt_count=1
    )

    delivered = delivery.deliver(submission.pk)

    assert delivered.status == Status.SENT
    assert delivered.attempt_count == 2
    assert ApiCall.objects.filter(method="GET", path="/inbox/v2/messages").count() == 1


def test_a_live_lease_is_left_alone(make_submission):
    submission = make_submission(
        status=Status.SENDING, locked_until=timezone.now() + timedelta(minutes=1)
    )

    assert delivery.deliver(submission.pk) is None


def test_a_retry_that_is_not_due_is_left_alone(make_submission):
    submission = make_submission(
        status=Status.RETRYING, next_attempt_at=timezone.now() + timedelta(minutes=5)
    )

    assert delivery.deliver(submission.pk) is None


def test_backoff_is_exponential_with_full_jitter_and_capped(settings, seeded_jitter):
    settings.INBOX_INTAKE_BACKOFF_BASE = 10
    settings.INBOX_INTAKE_BACKOFF_CAP = 300
    expected = random.Random(42)

    delays = [delivery.retry_delay(attempt) for attempt in range(1, 9)]

    ceilings = [10, 20, 40, 80, 160, 300, 300, 300]
    assert delays == [expected.uniform(0, ceiling) for ceiling in ceilings]
    assert all(0 <= delay <= ceiling for delay, ceiling in zip(delays, ceilings, strict=True))


def test_backoff_never_comes_before_retry_after(settings, seeded_jitter):
    settings.INBOX_INTAKE_BACKOFF_BASE = 1

    assert delivery.retry_delay(1, retry_after=30) == 30


def test_relay_enqueues_what_is_due_and_nothing_else(
    make_submission, django_capture_on_commit_callbacks, empty_queue
):
    now = timezone.now()
    long_ago = now - timedelta(hours=1)
    due = [
        make_submission(status=Status.QUEUED, enqueued_at=long_ago),
        make_submission(status=Status.RETRYING, next_attempt_at=now - timedelta(seconds=1)),
        make_submission(status=Status.SENDING, locked_until=now - timedelta(seconds=1)),
    ]
    make_submission(status=Status.QUEUED, enqueued_at=now - timedelta(seconds=5))  # in grace
    make_submission(status=Status.RETRYING, next_attempt_at=now + timedelta(minutes=1))
    make_submission(status=Status.SENDING, locked_until=now + timedelta(minutes=1))
    make_submission(status=Status.SENT, enqueued_at=long_ago)
    make_submission(status=Status.FAILED, enqueued_at=long_ago)

    with django_capture_on_commit_callbacks() as callbacks:
        enqueued = relay.relay_due_submissions(now=now)

    assert enqueued == 3
    assert len(callbacks) == 3
    relayed = Submission.objects.filter(enqueued_at=now)
    assert sorted(relayed.values_list("pk", flat=True)) == sorted(s.pk for s in due)


def test_relay_waits_a_grace_period_before_enqueuing_again(make_submission, empty_queue):
    make_submission(status=Status.QUEUED, enqueued_at=None)
    now = timezone.now()

    assert relay.relay_due_submissions(now=now) == 1
    assert relay.relay_due_submissions(now=now + timedelta(seconds=5)) == 0
    assert relay.relay_due_submissions(now=now + timedelta(minutes=5)) == 1


def test_relay_leaves_enqueued_rows_alone_while_tasks_wait_in_the_broker(
    make_submission, django_capture_on_commit_callbacks, empty_queue
):
    now = timezone.now()
    long_ago = now - timedelta(hours=1)
    waiting = make_submission(status=Status.QUEUED, enqueued_at=long_ago)
    retrying = make_submission(
        status=Status.RETRYING, next_attempt_at=long_ago, enqueued_at=long_ago
    )
    never_published = make_submission(status=Status.QUEUED, enqueued_at=None)
    orphaned = make_submission(status=Status.SENDING, locked_until=long_ago, enqueued_at=long_ago)
    deliver_submission.apply_async((waiting.pk,))  # a message still waiting its turn
    assert broker.waiting_task_count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        assert relay.relay_due_submissions(now=now) == 2
    relayed = Submission.objects.filter(enqueued_at=now).values_list("pk", flat=True)
    assert set(relayed) == {never_published.pk, orphaned.pk}

    assert broker.waiting_task_count() == 3
    empty_queue()
    with django_capture_on_commit_callbacks():
        assert relay.relay_due_submissions(now=now + timedelta(seconds=1)) == 2
    relayed = Submission.objects.filter(enqueued_at=now + timedelta(seconds=1))
    assert set(relayed.values_list("pk", flat=True)) == {waiting.pk, retrying.pk}


def test_waiting_in_broker_is_zero_for_a_missing_queue_or_an_unreachable_broker(
    monkeypatch, caplog
):
    queue = f"{celery_app.conf.task_default_queue}_never_declared"
    monkeypatch.setitem(celery_app.conf, "task_default_queue", queue)
    assert broker.waiting_task_count() == 0

    monkeypatch.setitem(celery_app.conf, "broker_read_url", "redis://127.0.0.1:9/0")
    assert broker.waiting_task_count() == 0
    assert "Could not ask the broker how many tasks wait" in caplog.text


@pytest.mark.e2e
def test_waiting_in_broker_counts_on_rabbitmq_too(rabbitmq_broker, monkeypatch):
    assert broker.waiting_task_count() == 0, "no queue yet: nothing waits"

    for submission_id in (1, 2):
        deliver_submission.apply_async((submission_id,))

    queue = celery_app.conf.task_default_queue
    # Published on another connection: RabbitMQ may take a moment to route them.
    wait_until(lambda: broker.waiting_task_count() == 2, timeout=10, what="two waiting tasks")
    assert rabbitmq_broker.queue_length(queue) == 2
    monkeypatch.setitem(celery_app.conf, "task_default_queue", f"{queue}_never_declared")
    assert broker.waiting_task_count() == 0


# --- Retry and discard ----------------------------------------------------------------------------


def test_retry_requeues_failed_and_says_why_others_were_skipped(make_submission):
    failed = make_submission(
        status=Status.FAILED, attempt_count=50, attempts_since_retry=50, last_error="HTTP 401"
    )
    make_submission(status=Status.SENT)
    make_submission(status=Status.DISCARDED)
    make_submission(status=Status.SENDING)

    result = staff_actions.retry_submissions(Submission.objects.all())

    assert result.done == 1
    assert result.describe("queued") == (
        "1 submission queued. Skipped: 1 already sent, 1 being sent right now, 1 discarded."
    )
    failed.refresh_from_db()
    assert (failed.status, failed.attempt_count, failed.attempts_since_retry) == (
        Status.QUEUED,
        50,
        0,
    )


@pytest.mark.parametrize(
    ("done", "skipped", "text"),
    [
        (0, {}, "0 submissions queued."),
        (1, {}, "1 submission queued."),
        (2, {"already sent": 1}, "2 submissions queued. Skipped: 1 already sent."),
    ],
)
def test_bulk_results_use_plural_forms(done, skipped, text):
    assert staff_actions.BulkResult(done, Counter(skipped)).describe("queued") == text


def test_discard_stops_delivery_but_keeps_the_submission(make_submission):
    queued = make_submission(status=Status.QUEUED)
    make_submission(status=Status.SENT)

    result = staff_actions.discard_submissions(Submission.objects.all())

    assert result.done == 1
    assert dict(result.skipped) == {"already sent": 1}
    queued.refresh_from_db()
    assert queued.status == Status.DISCARDED


def test_relay_command_drains_every_due_batch(make_submission, settings, capsys):
    settings.INBOX_INTAKE_RELAY_BATCH_SIZE = 2
    for _ in range(5):
        make_submission(status=Status.QUEUED, enqueued_at=None)

    call_command("intake_relay")

    assert "Enqueued 5 submissions that were due." in capsys.readouterr().out
    assert not Submission.objects.filter(enqueued_at__isnull=True).exists()


# --- Each failure class, injected by the sandbox ------------------------------------------------


def make_due(submission):
    Submission.objects.filter(pk=submission.pk).update(next_attempt_at=timezone.now())


def test_rate_limit_waits_at_least_retry_after(make_submission, sandbox_faults):
    sandbox_faults({"contacts.create": {"rate_limit_429": 1, "retry_after": 45}})

    retrying = delivery.deliver(make_submission().pk)

    assert retrying.status == Status.RETRYING
    assert retrying.next_attempt_at >= timezone.now() + timedelta(seconds=44)
    attempt = retrying.attempts.get()
    assert (attempt.outcome, attempt.http_status) == (Outcome.TRANSIENT, 429)


def test_wix_5xx_on_a_lookup_is_retried(make_submission, sandbox_faults):
    sandbox_faults({"conversations.get_or_create": {"error_503": 1}})

    retrying = delivery.deliver(make_submission().pk)

    assert retrying.status == Status.RETRYING
    assert retrying.needs_reconciliation is False
    assert retrying.attempts.get().http_status == 503


@pytest.mark.parametrize("fault", ["error_500", "reset"])
def test_an_uncertain_send_is_checked_before_sending_again(make_submission, sandbox_faults, fault):
    sandbox_faults({"messages.send": {fault: 1}})
    submission = make_submission()

    uncertain = delivery.deliver(submission.pk)

    assert uncertain.status == Status.RETRYING
    assert uncertain.needs_reconciliation is True
    assert uncertain.attempts.get().outcome == Outcome.AMBIGUOUS
    sandbox_faults({})
    make_due(submission)
    delivered = delivery.deliver(submission.pk)
    assert delivered.status == Status.SENT
    assert delivered.attempts.first().outcome == Outcome.SENT
    assert SandboxMessage.objects.count() == 1


def test_a_send_that_reached_wix_is_never_posted_twice(make_submission, sandbox_faults):
    sandbox_faults({"messages.send": {"store_then_fail": 1}})
    submission = make_submission()
    delivery.deliver(submission.pk)
    assert SandboxMessage.objects.count() == 1, "Wix kept the message but answered 500"

    sandbox_faults({})
    make_due(submission)
    delivered = delivery.deliver(submission.pk)

    assert delivered.status == Status.SENT
    assert delivered.attempts.first().outcome == Outcome.RECONCILED
    assert delivered.wix_message_id == SandboxMessage.objects.get().data["id"]
    assert not ApiCall.objects.filter(path="/inbox/v2/messages", method="POST", status=200)


def test_a_send_that_hangs_past_the_timeout_is_uncertain(make_submission, sandbox_faults, settings):
    settings.WIX_READ_TIMEOUT = 0.5
    sandbox_faults({"messages.send": {"hang": 1, "hang_seconds": 2}})

    uncertain = delivery.deliver(make_submission().pk)

    assert uncertain.status == Status.RETRYING
    assert uncertain.needs_reconciliation is True
    assert "did not answer in time" in uncertain.last_error
    # Let the sandbox finish the hung request, so its log row does not land in the next test.
    wait_until(lambda: ApiCall.objects.filter(status=504).exists(), timeout=10, what="the hang")


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("invalid_400", 400, ""),
        ("unauthenticated_401", 401, "UNAUTHENTICATED"),
        ("permission_denied_403", 403, "PERMISSION_DENIED"),
    ],
)
def test_permanent_faults_fail_at_once_and_a_retry_after_the_fix_delivers(
    make_submission, sandbox_faults, fault, status, code
):
    sandbox_faults({"messages.send": {fault: 1}})
    submission = make_submission()

    failed = delivery.deliver(submission.pk)

    assert failed.status == Status.FAILED
    assert f"HTTP {status}" in failed.last_error
    attempt = failed.attempts.get()
    assert (attempt.outcome, attempt.http_status, attempt.wix_error_code) == (
        Outcome.PERMANENT,
        status,
        code,
    )
    assert attempt.request_id and attempt.request_id not in attempt.error
    sandbox_faults({})
    staff_actions.retry_submissions(Submission.objects.filter(pk=submission.pk))
    delivered = delivery.deliver(submission.pk)
    assert (delivered.status, delivered.attempt_count) == (Status.SENT, 2)


def test_wix_down_is_transient(make_submission, sandbox_faults):
    sandbox_faults({"*": {"down": 1}})

    retrying = delivery.deliver(make_submission().pk)

    assert retrying.status == Status.RETRYING
    assert retrying.attempts.get().outcome == Outcome.TRANSIENT


def test_oauth_app_credentials_deliver_with_one_token(
    sandbox_url, make_submission, settings, transactional_db
):
    settings.INBOX_INTAKE_WIX_SANDBOX = False
    settings.WIX_APP_ID = sandbox_setting("WIX_SANDBOX_APP_ID")
    settings.WIX_APP_SECRET = sandbox_setting("WIX_SANDBOX_APP_SECRET")
    settings.WIX_APP_INSTANCE_ID = sandbox_setting("WIX_SANDBOX_INSTANCE_ID")

    first = delivery.deliver(make_submission().pk)
    second = delivery.deliver(make_submission().pk)

    assert (first.status, second.status) == (Status.SENT, Status.SENT)
    assert ApiCall.objects.filter(path="/oauth2/token").count() == 1
    send = ApiCall.objects.filter(path="/inbox/v2/messages").first()
    assert "wix-site-id" not in send.headers


def test_a_refused_oauth_token_request_fails_as_an_auth_error(
    sandbox_url, make_submission, settings, transactional_db
):
    settings.INBOX_INTAKE_WIX_SANDBOX = False
    settings.WIX_APP_ID = "not-an-app"
    settings.WIX_APP_SECRET = "wrong"
    settings.WIX_APP_INSTANCE_ID = "nowhere"
    settings.WIX_API_BASE_URL = sandbox_url + "/no-such-prefix"  # the token endpoint answers 404

    failed = delivery.deliver(make_submission().pk)

    assert failed.status == Status.FAILED
    assert failed.last_error.startswith("The OAuth access token request failed")
    assert failed.attempts.get().outcome == Outcome.PERMANENT


def test_a_row_with_a_lone_surrogate_is_delivered(
    sandbox_url, make_submission, transactional_db, monkeypatch
):
    submission = make_submission()
    read = JSONField.from_db_value

    def as_sqlite_can_store_it(field, *args):
        data = read(field, *args)
        return data | {"message": "Hi \udfff"} if field.model is Submission else data

    monkeypatch.setattr(JSONField, "from_db_value", as_sqlite_can_store_it)

    delivered = delivery.deliver(submission.pk)

    assert delivered.status == Status.SENT
    assert form_fields(SandboxMessage.objects.get())["Message"] == "Hi \ufffd"


def test_an_unexpected_error_is_recorded_not_left_stuck(make_submission, monkeypatch):
    def broken(submission):
        raise RuntimeError("disk full")

    monkeypatch.setattr(delivery, "form_message_for", broken)

    retrying = delivery.deliver(make_submission().pk)

    assert retrying.status == Status.RETRYING
    assert retrying.needs_reconciliation is True
    assert "RuntimeError: disk full" in retrying.last_error


def test_a_worker_whose_lease_passed_to_another_never_sends(
    sandbox_url, make_submission, monkeypatch, transactional_db
):
    """The wait before the send (here the rate limiter) outlasts the lease; the relay hands the
    row to another worker. The first worker must then leave the send to that one."""
    submission = make_submission()
    client = delivery.get_wix_client()

    def slow_throttle():
        if ApiCall.objects.filter(path="/inbox/v2/conversations").exists():
            Submission.objects.filter(pk=submission.pk).update(
                locked_until=timezone.now() + timedelta(minutes=5)  # another worker's lease
            )

    monkeypatch.setattr(client, "throttle", slow_throttle)
    monkeypatch.setattr(delivery, "get_wix_client", lambda: client)

    assert delivery.deliver(submission.pk) is None
    assert not SandboxMessage.objects.exists()
    assert not DeliveryAttempt.objects.exists()
    submission.refresh_from_db()
    assert submission.status == Status.SENDING


def test_the_lease_is_renewed_right_before_the_send(
    sandbox_url, make_submission, settings, transactional_db
):
    settings.INBOX_INTAKE_LEASE_SECONDS = 300
    submission = make_submission()

    delivered = delivery.deliver(submission.pk)

    assert delivered.status == Status.SENT
    assert delivered.locked_until is None


# --- Attachments ------------------------------------------------------------------------------


@pytest.fixture
def with_two_files(make_submission, make_attachment):
    submission = make_submission()
    make_attachment(submission, "plan.pdf")
    make_attachment(submission, "photo.png", png_bytes(40, 30))
    return submission


def calls_to(path: str) -> int:
    return ApiCall.objects.filter(path__startswith=path).count()


def test_files_are_uploaded_then_sent_as_the_messages_media(
    sandbox_url, with_two_files, transactional_db
):
    delivered = delivery.deliver(with_two_files.pk)

    assert delivered.status == Status.SENT, delivered.last_error
    plan, photo = delivered.attachments.all()
    assert plan.is_uploaded and photo.is_uploaded
    stored = {media.id: media for media in SandboxMediaFile.objects.all()}
    assert bytes(stored[plan.wix_file_id].content) == PDF_BYTES
    assert bytes(stored[photo.wix_file_id].content) == png_bytes(40, 30)
    send = ApiCall.objects.get(method="POST", path="/inbox/v2/messages")
    assert json.loads(send.body)["message"]["content"]["form"]["media"] == [
        {
            "file": {
                "id": plan.wix_file_id,
                "url": plan.wix_url,
                "filename": "plan.pdf",
                "mimeType": "application/pdf",
            }
        },
        {
            "image": {
                "id": photo.wix_file_id,
                "url": photo.wix_url,
                "filename": "photo.png",
                "width": 40,
                "height": 30,
            }
        },
    ]
    media = SandboxMessage.objects.get().data["content"]["form"]["media"]
    assert [item["file" if "file" in item else "image"]["id"] for item in media] == [
        plan.wix_file_id,
        photo.wix_file_id,
    ]
    assert calls_to("/communication-channels-media/v1/upload-url") == 2
    assert delivered.attempts.get().outcome == Outcome.SENT


def test_a_file_whose_name_says_another_type_is_uploaded_under_a_name_that_fits(
    sandbox_url, make_submission, make_attachment, transactional_db
):
    """Intake goes by the content (a PNG named plan.pdf is a PNG); Wix refuses a name that
    contradicts the declared type, so the upload's name gets the type's extension."""
    submission = make_submission()
    make_attachment(submission, "plan.pdf", png_bytes(40, 30), "image/png")

    delivered = delivery.deliver(submission.pk)

    assert delivered.status == Status.SENT, delivered.last_error
    photo = delivered.attachments.get()
    assert SandboxMediaFile.objects.get(pk=photo.wix_file_id).file_name == "plan.pdf.png"
    media = SandboxMessage.objects.get().data["content"]["form"]["media"]
    assert media[0]["image"]["filename"] == "plan.pdf", "the message keeps the visitor's name"


def test_a_file_wix_refuses_fails_the_submission_naming_it(with_two_files, sandbox_faults):
    sandbox_faults({"media.upload_url": {"invalid_400": 1}})

    failed = delivery.deliver(with_two_files.pk)

    assert failed.status == Status.FAILED
    assert failed.last_error.startswith(
        'Attachment "plan.pdf": POST /communication-channels-media/v1/upload-url: '
    )
    assert failed.attempts.get().outcome == Outcome.PERMANENT
    assert not SandboxMessage.objects.exists()


@pytest.mark.parametrize("fault", ["error_503", "rate_limit_429", "reset"])
def test_a_failed_upload_is_retried_and_the_retry_sends_one_message(
    with_two_files, sandbox_faults, fault
):
    sandbox_faults({"media.upload": {fault: 1}})

    retrying = delivery.deliver(with_two_files.pk)

    assert retrying.status == Status.RETRYING
    assert retrying.needs_reconciliation is False
    assert retrying.last_error.startswith('Attachment "plan.pdf": PUT ')
    assert retrying.attempts.get().outcome == Outcome.TRANSIENT
    sandbox_faults({})
    make_due(with_two_files)
    delivered = delivery.deliver(with_two_files.pk)
    assert delivered.status == Status.SENT
    assert len(SandboxMessage.objects.get().data["content"]["form"]["media"]) == 2


@pytest.mark.parametrize("fault", ["error_500", "store_then_fail"])
def test_a_retry_after_an_uncertain_send_uploads_nothing_again(
    with_two_files, sandbox_faults, fault
):
    sandbox_faults({"messages.send": {fault: 1}})
    uncertain = delivery.deliver(with_two_files.pk)
    assert uncertain.status == Status.RETRYING
    uploaded = list(uncertain.attachments.values_list("wix_file_id", flat=True))

    sandbox_faults({})
    make_due(with_two_files)
    delivered = delivery.deliver(with_two_files.pk)

    assert delivered.status == Status.SENT
    assert calls_to("/communication-channels-media/v1/upload-url") == 2
    assert list(delivered.attachments.values_list("wix_file_id", flat=True)) == uploaded
    media = SandboxMessage.objects.get().data["content"]["form"]["media"]
    assert [next(iter(item.values()))["id"] for item in media] == uploaded
