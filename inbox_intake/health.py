"""The health check for monitors: is every part that delivery needs there, and is delivery
keeping up?

It reports counts, ages and yes/no answers only: no submission, no address, no error text that
could name a host. `problems` says in words what is wrong; any problem makes it unhealthy (503).
"""

import logging

from celery import current_app
from django.db import DatabaseError, connection
from django.utils import timezone
from kombu.exceptions import OperationalError

from .conf import intake_settings
from .models import Heartbeat, StatusTally, Submission
from .services import reporting

logger = logging.getLogger(__name__)

RELAY = "relay"


def note_relay_run() -> None:
    """Record that the relay ran now (one UPDATE of one row; an INSERT the first time)."""
    now = timezone.now()
    if not Heartbeat.objects.filter(name=RELAY).update(at=now):
        Heartbeat.objects.update_or_create(name=RELAY, defaults={"at": now})


def check() -> dict:
    """The detailed check: database, broker, relay, backlog, failed count, sandbox mode."""
    now = timezone.now()
    report = {
        "database": database_reachable(),
        "broker": broker_reachable(),
        "sandbox": intake_settings.uses_sandbox,
    }
    problems = [f"{part} unreachable" for part in ("database", "broker") if not report[part]]
    if report["database"]:
        relay_at = Heartbeat.objects.filter(name=RELAY).values_list("at", flat=True).first()
        oldest = reporting.oldest_pending()
        report |= {
            "relay_last_run_age": _age(relay_at, now),
            "oldest_pending_age": _age(oldest and oldest.created_at, now),
            "failed": StatusTally.counts()[Submission.Status.FAILED],
        }
        problems += _lateness_problems(report)
    return {"status": "unhealthy" if problems else "ok", "problems": problems, **report}


def _lateness_problems(report: dict) -> list[str]:
    problems = []
    relay_limit = intake_settings.INBOX_INTAKE_RELAY_MAX_AGE
    relay_age = report["relay_last_run_age"]
    if relay_age is None:
        problems.append("relay has never run")
    elif relay_age > relay_limit:
        problems.append(f"relay last ran {relay_age} s ago (limit {relay_limit} s)")
    backlog_limit = intake_settings.INBOX_INTAKE_BACKLOG_MAX_AGE
    backlog_age = report["oldest_pending_age"]
    if backlog_age is not None and backlog_age > backlog_limit:
        problems.append(
            f"oldest pending submission has waited {backlog_age} s (limit {backlog_limit} s)"
        )
    return problems


def _age(moment, now) -> int | None:
    return None if moment is None else max(round((now - moment).total_seconds()), 0)


def database_reachable() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        logger.warning("Health check: the database is unreachable: %s", error)
        return False
    return True


def broker_reachable() -> bool:
    """Whether the host's Celery app can connect to its broker: a second try at once, no
    waiting (the connect timeout is Celery's broker_connection_timeout)."""
    with current_app.connection_for_read() as broker:
        try:
            broker.ensure_connection(max_retries=1, interval_start=0)
        except (OperationalError, *broker.connection_errors) as error:
            logger.warning("Health check: the broker is unreachable: %s", error)
            return False
    return True
