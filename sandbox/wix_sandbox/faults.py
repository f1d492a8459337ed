"""Fault injection: the sandbox fails the way a remote API does, so that retries can be tested.

Rules are JSON, per endpoint name or "*" for every endpoint; an endpoint's own rule wins over "*"
key by key:

    {"messages.send": {"error_500": 0.1, "latency_ms": 300}, "*": {"rate_limit_429": 0.05}}

Fault rates, each 0..1 (true counts as 1). One draw per request picks at most one fault; the rates
are stacked in this order, so an earlier fault wins when they add up to more than 1:

    down                           answer 503 to everything (the API is down)
    reset                          close the connection without an answer
    hang                           hold the request `hang_seconds`, then answer 504
    error_503, error_500           answer 503 / 500 with Wix's empty 5xx body
    rate_limit_429                 answer 429 with `Retry-After: <retry_after>`
    rate_limit_429_no_retry_after  answer 429 without Retry-After
    invalid_400                    answer 400 with Wix's validationError body (content refused)
    unauthenticated_401            answer 401 UNAUTHENTICATED, as for a wrong API key
    permission_denied_403          answer 403 PERMISSION_DENIED, as for a wrong site id
    store_then_fail                do the work (store the message...), then answer 500

The 400, 401 and 403 faults are permanent failures: the app gives up at once (FAILED), so the
demo can rehearse failing, fixing the cause (clearing the rule) and retrying.

Other keys: `latency_ms` (added before every request), `retry_after` (seconds, default 1),
`hang_seconds` (default settings.WIX_SANDBOX_HANG_SECONDS).

Rules set at runtime are kept in the database (one FaultConfig row, so every web process sees
them) and win over the WIX_SANDBOX_FAULTS environment variable. Draws come from a random.Random
seeded from WIX_SANDBOX_FAULT_SEED when that is set.
"""

import contextlib
import errno
import json
import os
import random
import socket
import struct
import time
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse

from .conf import sandbox_setting
from .errors import (
    permission_denied,
    rate_limited,
    system_error,
    unauthenticated,
    validation_error,
)
from .models import FaultConfig
from .validation import violation

ENV_VAR = "WIX_SANDBOX_FAULTS"
SEED_ENV_VAR = "WIX_SANDBOX_FAULT_SEED"
ALL_ENDPOINTS = "*"
ENDPOINTS = (
    "contacts.create",
    "contacts.query",
    "contacts.get",
    "conversations.get_or_create",
    "conversations.get",
    "messages.send",
    "messages.list",
    "oauth2.token",
    "media.upload_url",
    "media.upload",
    "media.storage_quota",
    "media.download_url",
)
FAULTS = (
    "down",
    "reset",
    "hang",
    "error_503",
    "error_500",
    "rate_limit_429",
    "rate_limit_429_no_retry_after",
    "invalid_400",
    "unauthenticated_401",
    "permission_denied_403",
    "store_then_fail",
)
DURATIONS = ("latency_ms", "retry_after", "hang_seconds")
DEFAULT_RETRY_AFTER_SECONDS = 1

# Not for security: a seedable source so that a test run's faults can be reproduced.
fault_random = random.Random(os.environ.get(SEED_ENV_VAR))  # noqa: S311


class FaultRulesError(ValueError):
    pass


@dataclass(frozen=True)
class FaultPlan:
    """What to do to one request: `fault` is one of FAULTS, or "" for none."""

    fault: str = ""
    latency_ms: float = 0
    retry_after: int = DEFAULT_RETRY_AFTER_SECONDS
    hang_seconds: float = 0


NO_FAULT = FaultPlan()


def validated_rules(rules) -> dict:
    """`rules` with rates as floats; FaultRulesError says what is wrong."""
    if not isinstance(rules, dict):
        raise FaultRulesError('Fault rules must be a JSON object like {"*": {"error_500": 0.1}}')
    cleaned = {}
    for endpoint, rule in rules.items():
        if endpoint != ALL_ENDPOINTS and endpoint not in ENDPOINTS:
            raise FaultRulesError(
                f"Unknown endpoint {endpoint!r}: use one of {', '.join(ENDPOINTS)} or *"
            )
        if not isinstance(rule, dict):
            raise FaultRulesError(f"The rule for {endpoint} must be a JSON object")
        cleaned[endpoint] = {}
        for key, value in rule.items():
            is_number = isinstance(value, int | float)
            if key in FAULTS:
                if not is_number or not 0 <= value <= 1:
                    raise FaultRulesError(f"{endpoint}.{key} must be a rate from 0 to 1")
                cleaned[endpoint][key] = float(value)
            elif key in DURATIONS:
                if not is_number or isinstance(value, bool) or value < 0:
                    raise FaultRulesError(f"{endpoint}.{key} must be a number of at least 0")
                cleaned[endpoint][key] = value
            else:
                raise FaultRulesError(
                    f"Unknown key {endpoint}.{key}: use {', '.join(FAULTS + DURATIONS)}"
                )
    return cleaned


def current_rules() -> tuple[str, dict]:
    """(where the rules come from: "database", "environment" or "none", the rules)."""
    config = FaultConfig.objects.filter(pk=FaultConfig.SINGLETON_ID).first()
    if config is not None:
        return "database", config.rules
    if raw := os.environ.get(ENV_VAR, "").strip():
        return "environment", environment_rules(raw)
    return "none", {}


def environment_rules(raw: str) -> dict:
    try:
        return validated_rules(json.loads(raw))
    except ValueError as error:  # FaultRulesError and JSONDecodeError alike
        raise ImproperlyConfigured(f"{ENV_VAR} is not valid fault rules: {error}") from error


def save_rules(rules) -> dict:
    cleaned = validated_rules(rules)
    FaultConfig.objects.update_or_create(pk=FaultConfig.SINGLETON_ID, defaults={"rules": cleaned})
    return cleaned


def add_rule(endpoint: str, rule: dict) -> dict:
    """Merge `rule` into the rules in force, its keys replacing the endpoint's own, and save them
    (rules from the environment variable are copied to the database with it)."""
    _source, rules = current_rules()
    return save_rules({**rules, endpoint: {**rules.get(endpoint, {}), **rule}})


def clear_rules() -> None:
    """Forget the runtime rules: the environment variable's apply again, if any."""
    FaultConfig.objects.filter(pk=FaultConfig.SINGLETON_ID).delete()


def plan_for(endpoint: str) -> FaultPlan:
    _source, rules = current_rules()
    rule = {**rules.get(ALL_ENDPOINTS, {}), **rules.get(endpoint, {})}
    if not rule:
        return NO_FAULT
    return FaultPlan(
        fault=_draw(rule),
        latency_ms=rule.get("latency_ms", 0),
        retry_after=int(rule.get("retry_after", DEFAULT_RETRY_AFTER_SECONDS)),
        hang_seconds=rule.get("hang_seconds", sandbox_setting("WIX_SANDBOX_HANG_SECONDS")),
    )


def _draw(rule: dict) -> str:
    rates = [(fault, rule.get(fault, 0.0)) for fault in FAULTS]
    if not any(rate for _fault, rate in rates):
        return ""
    draw, stacked = fault_random.random(), 0.0
    for fault, rate in rates:
        stacked += rate
        if draw < stacked:
            return fault
    return ""


def add_latency(plan: FaultPlan) -> None:
    if plan.latency_ms:
        time.sleep(plan.latency_ms / 1000)


def fail_before_handling(plan: FaultPlan) -> None:
    """Raise the answer of a fault that strikes before the endpoint does any work."""
    if plan.fault in ("down", "error_503"):
        raise system_error(503)
    if plan.fault == "error_500":
        raise system_error(500)
    if plan.fault == "rate_limit_429":
        raise rate_limited(plan.retry_after)
    if plan.fault == "rate_limit_429_no_retry_after":
        raise rate_limited(None)
    if plan.fault == "invalid_400":
        raise validation_error(
            [violation("message.content", "is not valid (injected fault invalid_400)", "OTHER")]
        )
    if plan.fault == "unauthenticated_401":
        raise unauthenticated("API key is not valid (injected fault unauthenticated_401)")
    if plan.fault == "permission_denied_403":
        raise permission_denied("Site id does not match the key (fault permission_denied_403)")
    if plan.fault == "hang":
        time.sleep(plan.hang_seconds)
        raise system_error(504)


def drop_connection(request) -> HttpResponse:
    """Close the client's TCP connection without an answer (the `reset` fault).

    The socket is found where the server keeps it: gunicorn puts it in the environ
    (`gunicorn.socket`); Django's runserver and LiveServerThread (wsgiref) read the request from
    `socket.makefile("rb")`, whose bound `read` Django's LimitedStream holds as `wsgi.input._read`.
    SO_LINGER 0 turns the server's eventual close() into an RST, and shutdown() ends the
    connection at once: the client reads end-of-stream before any status line. The descriptor is
    left to the server, which owns it; its write of the placeholder response returned here fails
    with EPIPE, which both servers treat as a client gone away.

    Where the socket cannot be found (Django's test client, other servers), this raises
    ConnectionResetError: the test client re-raises it, a server answers 500.
    """
    client = _client_socket(request.META)
    if client is None:
        raise ConnectionResetError(errno.ECONNRESET, "wix_sandbox: no client socket to reset")
    with contextlib.suppress(OSError):  # raised when the client is already gone
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.shutdown(socket.SHUT_RDWR)
    return HttpResponse(status=500)


def _client_socket(environ: dict) -> socket.socket | None:
    candidate = environ.get("gunicorn.socket")
    if candidate is None:
        buffered_reader = getattr(
            getattr(environ.get("wsgi.input"), "_read", None), "__self__", None
        )
        candidate = getattr(getattr(buffered_reader, "raw", None), "_sock", None)
    return candidate if isinstance(candidate, socket.socket) else None
