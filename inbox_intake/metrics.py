"""Prometheus metrics, when INBOX_INTAKE_METRICS is on (off by default).

prometheus_client is imported only then, so the app runs without it; a site that turns metrics
on installs `inbox-intake[metrics]`. Counters and histograms are recorded where things happen, in
whichever process that is (web, worker); the backlog gauge is read from the status tally at scrape
time, so it is exact whatever process is scraped. With several processes (gunicorn workers, Celery's
prefork pool), set PROMETHEUS_MULTIPROC_DIR to one directory they all share: each process writes its
own file there, and a scrape adds them up (see the README's "Metrics").
"""

import ipaddress
import os
from functools import cache
from types import SimpleNamespace

from .conf import intake_settings

#: Received → sent: seconds when all is well, hours while Wix is down.
LATENCY_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)
#: One Wix request: the read timeout is 20 s.
WIX_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30)
#: The rate limiter's windows are 6 s long.
WAIT_BUCKETS = (0.1, 0.5, 1, 2, 3, 6, 12, 30, 60)


def enabled() -> bool:
    return bool(intake_settings.INBOX_INTAKE_METRICS)


@cache
def _metrics() -> SimpleNamespace:
    from prometheus_client import Counter, Histogram

    return SimpleNamespace(
        submissions=Counter(
            "inbox_intake_submissions",
            "Form posts by form and result: accepted, spam, invalid, or the refusal's code.",
            ["form", "result"],
        ),
        deliveries=Counter(
            "inbox_intake_deliveries",
            "Delivery attempts by outcome, and the submission's status after the attempt.",
            ["outcome", "status"],
        ),
        latency=Histogram(
            "inbox_intake_delivery_latency_seconds",
            "From a submission's receipt to its delivery to the Wix Inbox.",
            buckets=LATENCY_BUCKETS,
        ),
        wix_requests=Histogram(
            "inbox_intake_wix_request_duration_seconds",
            "Wix API requests by endpoint and HTTP status (or timeout, connection_error).",
            ["endpoint", "status"],
            buckets=WIX_BUCKETS,
        ),
        rate_limiter_waits=Histogram(
            "inbox_intake_rate_limiter_wait_seconds",
            "Waits for a slot in the shared Wix rate limit, before a request.",
            buckets=WAIT_BUCKETS,
        ),
    )


def submission(form: str, result: str) -> None:
    if enabled():
        _metrics().submissions.labels(form, result).inc()


def delivery(outcome: str, status: str, latency: float | None) -> None:
    if enabled():
        metrics = _metrics()
        metrics.deliveries.labels(outcome, status).inc()
        if latency is not None:
            metrics.latency.observe(latency)


def wix_request(call) -> None:
    """`call`: a wix.WixCall."""
    if enabled():
        _metrics().wix_requests.labels(call.endpoint, str(call.status)).observe(call.seconds)


def rate_limiter_wait(seconds: float) -> None:
    if enabled():
        _metrics().rate_limiter_waits.observe(seconds)


# --- The scrape ----------------------------------------------------------------------------------


def may_scrape(client_ip: str | None) -> bool:
    """Whether INBOX_INTAKE_METRICS_ALLOWED_IPS (addresses or networks) lets this client in; an
    empty list lets everyone in (the token, if set, still applies)."""
    allowed = intake_settings.INBOX_INTAKE_METRICS_ALLOWED_IPS
    if not allowed:
        return True
    if not client_ip:
        return False
    address = ipaddress.ip_address(client_ip)
    return any(address in ipaddress.ip_network(network, strict=False) for network in allowed)


def exposition() -> tuple[bytes, str]:
    """The metrics of every process (with PROMETHEUS_MULTIPROC_DIR) or of this one, and the
    backlog by status, in Prometheus' text format; and its content type."""
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        REGISTRY,
        CollectorRegistry,
        generate_latest,
        multiprocess,
    )

    _metrics()  # declared, so a scrape lists them before anything happened
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry) + generate_latest(_backlog_registry()), CONTENT_TYPE_LATEST


@cache
def _backlog_registry():
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import GaugeMetricFamily

    class BacklogCollector:
        def collect(self):
            from .models import StatusTally

            gauge = GaugeMetricFamily(
                "inbox_intake_submissions_in_status",
                "Submissions in each status now (from the status tally).",
                labels=["status"],
            )
            for status, count in StatusTally.counts().items():
                gauge.add_metric([status], count)
            yield gauge

    registry = CollectorRegistry(auto_describe=False)
    registry.register(BacklogCollector())
    return registry
