"""Operations: alert mails, the health endpoint, Prometheus metrics and the delivery log line."""

import json
import logging
import os
from datetime import timedelta

import pytest
from celery import current_app
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from inbox_intake import alerts, health
from inbox_intake.conf import intake_settings
from inbox_intake.models import Heartbeat, Submission
from inbox_intake.services import delivery, staff_actions
from tests.conftest import wait_until

Status = Submission.Status
ADMIN_LIST = "/admin/inbox_intake/submission/"


@pytest.fixture
def admins(settings, mailoutbox):
    """Alerts go to these ADMINS, into Django's locmem outbox (`mail.outbox`: pytest-django
    may replace the list, so tests read it there)."""
    settings.ADMINS = [("Staff", "staff@example.com")]
    settings.INBOX_INTAKE_SITE_URL = "https://forms.example.com/"


# --- Alerts ---------------------------------------------------------------------------------------


def test_a_failed_submission_mails_one_digest_then_quiet_then_one_recovery(admins, make_submission):
    first = make_submission(status=Status.FAILED, last_error="POST /inbox/v2/messages: HTTP 401")

    assert alerts.send_alerts() == 1
    (message,) = mail.outbox
    assert message.to == ["staff@example.com"]
    assert "1 submission(s) failed" in message.subject
    assert str(first.reference) in message.body
    assert "POST /inbox/v2/messages: HTTP 401" in message.body
    assert f"https://forms.example.com{ADMIN_LIST}?status__exact=failed" in message.body
    assert "jane@example.com" not in message.body

    for _ in range(10):
        make_submission(status=Status.FAILED, last_error="HTTP 401")
    assert alerts.send_alerts() == 0, "ten more within the interval: no mail"
    assert len(mail.outbox) == 1

    staff_actions.discard_submissions(Submission.objects.filter(status=Status.FAILED))
    assert alerts.send_alerts() == 1
    assert "recovered" in mail.outbox[-1].subject
    assert alerts.send_alerts() == 0, "one recovery, not one per run"
    assert len(mail.outbox) == 2


def test_after_the_interval_a_digest_lists_only_the_new_failures(admins, make_submission):
    old = make_submission(status=Status.FAILED)
    alerts.send_alerts()
    news = [make_submission(status=Status.FAILED) for _ in range(7)]

    later = timezone.now() + timedelta(seconds=intake_settings.INBOX_INTAKE_ALERT_INTERVAL + 1)
    assert alerts.send_alerts(now=later) == 1

    digest = mail.outbox[-1]
    assert "7 submission(s) failed" in digest.subject
    assert str(old.reference) not in digest.body
    assert sum(str(s.reference) in digest.body for s in news) == alerts.SAMPLE_SIZE
    assert "and 2 more" in digest.body
    assert "8 submission(s) are failed in all" in digest.body


def test_the_backlog_alert_fires_on_an_old_queued_row_and_recovers(admins, make_submission):
    stuck = make_submission(status=Status.QUEUED, received=timezone.now() - timedelta(minutes=20))
    make_submission(status=Status.QUEUED)  # a fresh one is no backlog

    assert alerts.send_alerts() == 1
    (message,) = mail.outbox
    assert "1 submission(s) waiting over 15 minutes" in message.subject
    assert str(stuck.reference) in message.body
    assert "status__in=queued%2Cretrying%2Csending" in message.body

    Submission.objects.filter(pk=stuck.pk).update(status=Status.SENT)
    assert alerts.send_alerts() == 1
    assert "backlog has cleared" in mail.outbox[-1].subject


def test_each_alert_can_be_turned_off(admins, make_submission, settings):
    settings.INBOX_INTAKE_ALERT_FAILED = False
    settings.INBOX_INTAKE_ALERT_BACKLOG = False
    make_submission(status=Status.FAILED)
    make_submission(status=Status.QUEUED, received=timezone.now() - timedelta(hours=2))

    assert alerts.send_alerts() == 0
    assert mail.outbox == []


def test_alerts_cost_three_queries_when_nothing_is_wrong(
    admins, make_submission, django_assert_num_queries
):
    make_submission(status=Status.SENT)
    make_submission(status=Status.QUEUED)

    with django_assert_num_queries(3):
        assert alerts.send_alerts() == 0


def test_the_relay_command_notes_its_run_and_sends_alerts(admins, make_submission, capsys):
    make_submission(status=Status.FAILED)

    call_command("intake_relay")

    assert "Mailed 1 alert to the site's admins." in capsys.readouterr().out
    assert len(mail.outbox) == 1
    assert Heartbeat.objects.get(name=health.RELAY).at > timezone.now() - timedelta(seconds=10)


# --- Health ---------------------------------------------------------------------------------------


@pytest.fixture
def relay_ran(db):
    health.note_relay_run()


def test_health_is_200_on_a_healthy_stack(client, relay_ran, make_submission):
    make_submission(status=Status.FAILED, email="private@example.com")

    response = client.get("/intake/health/")

    assert response.status_code == 200, response.json()
    assert response["Cache-Control"].startswith("max-age=0")
    body = response.json()
    assert body["status"] == "ok"
    assert body["problems"] == []
    assert (body["database"], body["broker"], body["sandbox"]) == (True, True, True)
    assert body["relay_last_run_age"] <= 5
    assert body["oldest_pending_age"] is None
    assert body["failed"] == 1
    assert b"private@example.com" not in response.content


def test_health_is_503_when_the_broker_is_unreachable(client, relay_ran, monkeypatch):
    # Celery reads CELERY_BROKER_URL from the environment before its own setting.
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setitem(current_app.conf, "broker_url", "redis://127.0.0.1:1/0")

    response = client.get("/intake/health/")

    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["broker"], body["database"]) == ("unhealthy", False, True)
    assert body["problems"] == ["broker unreachable"]


def test_health_is_503_when_the_relay_is_stale(client, db, settings):
    response = client.get("/intake/health/")
    assert response.status_code == 503
    assert response.json()["problems"] == ["relay has never run"]

    Heartbeat.objects.create(name=health.RELAY, at=timezone.now() - timedelta(minutes=10))
    response = client.get("/intake/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["relay_last_run_age"] >= 600
    assert body["problems"][0].startswith("relay last ran 6")
    assert "limit 300 s" in body["problems"][0]


def test_health_is_503_when_the_backlog_is_old(client, relay_ran, make_submission):
    make_submission(status=Status.RETRYING, received=timezone.now() - timedelta(hours=1))

    body = client.get("/intake/health/").json()

    assert body["oldest_pending_age"] >= 3600
    assert body["problems"][0].startswith("oldest pending submission has waited")


def test_the_detailed_health_check_can_require_a_token(client, relay_ran, settings):
    settings.INBOX_INTAKE_HEALTH_TOKEN = "s3cret"

    assert client.get("/intake/health/").status_code == 403
    assert client.get("/intake/health/?token=wrong").status_code == 403
    assert client.get("/intake/health/?token=s3cret").status_code == 200
    bearer = {"Authorization": "Bearer s3cret"}
    assert client.get("/intake/health/", headers=bearer).status_code == 200


def test_liveness_touches_nothing(client, db, settings, django_assert_num_queries):
    settings.INBOX_INTAKE_HEALTH_TOKEN = "s3cret"  # protects only the detailed check

    with django_assert_num_queries(0):
        response = client.get("/intake/health/live/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


# --- Metrics --------------------------------------------------------------------------------------


def scrape(client, **kwargs) -> dict:
    """{(sample name, frozen labels): value} from the metrics endpoint."""
    response = client.get("/intake/metrics/", **kwargs)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def sample(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def metrics_on(settings, db):
    settings.INBOX_INTAKE_METRICS = True


def test_metrics_are_off_by_default(client, db):
    assert client.get("/intake/metrics/").status_code == 404


def test_the_metrics_endpoint_can_be_restricted(client, metrics_on, settings):
    settings.INBOX_INTAKE_METRICS_TOKEN = "s3cret"
    assert client.get("/intake/metrics/").status_code == 403
    scrape(client, headers={"Authorization": "Bearer s3cret"})

    settings.INBOX_INTAKE_METRICS_TOKEN = ""
    settings.INBOX_INTAKE_METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert client.get("/intake/metrics/").status_code == 403  # the test client is 127.0.0.1
    settings.INBOX_INTAKE_METRICS_ALLOWED_IPS = ["10.0.0.0/8", "127.0.0.1"]
    scrape(client)


def test_refusals_are_counted_by_reason_and_the_backlog_by_status(
    client, metrics_on, contact_data, make_submission
):
    make_submission(status=Status.FAILED)
    before = scrape(client)

    client.post("/intake/contact/", contact_data | {"email": "not an email"})
    client.post(
        "/intake/contact/",
        "{",
        content_type="application/json",
        headers={"Accept": "application/json"},
    )

    after = scrape(client)
    for result in ("invalid", "malformed_body"):
        labels = {"form": "contact", "result": result}
        assert sample(after, "inbox_intake_submissions_total", **labels) == (
            sample(before, "inbox_intake_submissions_total", **labels) + 1
        )
    assert sample(after, "inbox_intake_submissions_in_status", status="failed") == 1
    assert sample(after, "inbox_intake_submissions_in_status", status="sent") == 0


@pytest.mark.e2e
def test_metrics_move_in_the_web_process_and_in_the_worker(
    client, metrics_on, start_worker, contact_data
):
    """The web side (this process) counts the submission; a real worker process delivers it and
    counts the delivery, its latency and its Wix requests; one scrape shows both."""
    start_worker(
        INBOX_INTAKE_METRICS="true", PROMETHEUS_MULTIPROC_DIR=os.environ["PROMETHEUS_MULTIPROC_DIR"]
    )
    before = scrape(client)

    assert client.post("/intake/contact/", contact_data).status_code == 302
    submission = Submission.objects.get()
    wait_until(
        lambda: Submission.objects.filter(pk=submission.pk, status=Status.SENT).exists(),
        timeout=60,
        what="the worker to deliver the submission",
    )

    after = scrape(client)

    def moved(name, **labels):
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert moved("inbox_intake_submissions_total", form="contact", result="accepted") == 1
    assert moved("inbox_intake_deliveries_total", outcome="sent", status="sent") == 1
    assert moved("inbox_intake_delivery_latency_seconds_count") == 1
    assert moved("inbox_intake_delivery_latency_seconds_sum") > 0
    send = {"endpoint": "messages.send", "status": "200"}
    assert moved("inbox_intake_wix_request_duration_seconds_count", **send) == 1
    create = {"endpoint": "contacts.create", "status": "200"}
    assert moved("inbox_intake_wix_request_duration_seconds_count", **create) == 1
    assert sample(after, "inbox_intake_submissions_in_status", status="sent") == 1


# --- The delivery log line ------------------------------------------------------------------------


def test_each_attempt_logs_one_key_value_line(
    sandbox_url, make_submission, transactional_db, caplog
):
    submission = make_submission(data={"message": "A private message body"})

    with caplog.at_level(logging.INFO, logger="inbox_intake.delivery"):
        delivery.deliver(submission.pk)

    (record,) = [r for r in caplog.records if r.name == "inbox_intake.delivery"]
    line = record.getMessage()
    fields = dict(part.split("=", 1) for part in line.split(" "))
    attempt = submission.attempts.get()
    assert fields["event"] == "delivery_attempt"
    assert fields["reference"] == str(submission.reference)
    assert (fields["outcome"], fields["status"], fields["http_status"]) == ("sent", "sent", "200")
    assert fields["wix_request_id"] == attempt.request_id != ""
    assert int(fields["duration_ms"]) >= 0
    assert fields["wix_calls"] == "3"
    assert "private message" not in line
    assert "jane@example.com" not in line


def test_the_log_line_can_be_json_and_names_the_failure(
    sandbox_url, make_submission, settings, transactional_db, caplog
):
    from wix_sandbox.conf import sandbox_setting

    settings.INBOX_INTAKE_LOG_FORMAT = "json"
    settings.INBOX_INTAKE_WIX_SANDBOX = False
    settings.WIX_API_KEY = "IST.wrong-key"
    settings.WIX_SITE_ID = sandbox_setting("WIX_SANDBOX_SITE_ID")
    submission = make_submission()

    with caplog.at_level(logging.INFO, logger="inbox_intake.delivery"):
        delivery.deliver(submission.pk)

    (record,) = [r for r in caplog.records if r.name == "inbox_intake.delivery"]
    assert record.levelno == logging.ERROR
    entry = json.loads(record.getMessage())
    assert entry["reference"] == str(submission.reference)
    assert (entry["outcome"], entry["status"], entry["http_status"]) == ("permanent", "failed", 401)
    assert entry["wix_request_id"]
    assert entry["wix_error_code"] == "UNAUTHENTICATED"
    # The status, code and request id have their own keys; the error is Wix's message.
    assert (
        entry["error"]
        == "POST /contacts/v4/contacts: unauthorized: Unknown API key or access token"
    )
    assert "IST.wrong-key" not in record.getMessage()


# --- System checks --------------------------------------------------------------------------------


def operations_messages() -> set[str]:
    from inbox_intake.checks import check_operations

    return {message.id for message in check_operations(None)}


def test_checks_refuse_what_cannot_work(settings):
    assert operations_messages() == {"inbox_intake.W021"}  # tests run with DEBUG off, no ADMINS
    settings.ADMINS = [("Staff", "staff@example.com")]
    assert operations_messages() == set()

    settings.INBOX_INTAKE_LOG_FORMAT = "xml"
    settings.INBOX_INTAKE_FORMS = {"health": {"form": "inbox_intake.forms.ContactForm"}}
    settings.INBOX_INTAKE_METRICS = True
    assert operations_messages() == {"inbox_intake.E020", "inbox_intake.E023", "inbox_intake.W020"}

    settings.INBOX_INTAKE_METRICS_ALLOWED_IPS = ["10.0.0.0/8", "not-an-ip"]
    assert "inbox_intake.E022" in operations_messages()
    settings.INBOX_INTAKE_METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert "inbox_intake.W020" not in operations_messages()
