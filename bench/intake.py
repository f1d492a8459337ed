"""Intake benchmark: how fast the form answers, against its peers, in the same run.

One gunicorn server (gthread) serves the site, the Wix sandbox and the baseline views
(bench/baseline_views.py), on a fresh PostgreSQL database with a private Redis as the broker and
as the rate limits' cache. wrk, a second process on loopback, posts the contact form at:

- the real JSON endpoint (POST /intake/contact/, Accept: application/json), with every
  protection on as a real site runs it: origin check, rate limits (counted in Redis; set high
  enough never to refuse), honeypot;
- the real HTML form POST, with one CSRF cookie and token fetched beforehand;
- baseline C, the usual implementation (its JSON and its HTML version): the same form validated,
  the row saved with the ORM, `delay_on_commit` of the task, and no protections: the peer;
- floor D: one parameterised INSERT and one raw Redis push, no form: the least durable work;
- baseline A: a Django view that answers 201 and touches nothing: the ceiling, for reference;
- baseline B: the naive design, which calls the sandbox (create contact, conversation, send)
  inside the request.

The real paths, A and B run with the sandbox adding 0 ms and then 300 ms to every Wix call; C and
D never call Wix and run at 0 ms.

Each target is loaded twice at each latency: by 16 connections (throughput; the server is
saturated, so latency there is mostly queueing), then by one connection (the latency of a request
on a server with room to spare). No Celery worker runs: the real path stores the submission and
publishes its task to Redis on commit, and the sandbox is never called. Every request carries an
email of its own. The server keeps its database connections (CONN_MAX_AGE 60 s, the default); a
second server then runs baseline A and the real paths again with a new connection per request
(`conn_max_age=0` in DATABASE_URL, Django's own default), and each step of the real path is timed
on its own inside one Django process (request_costs), to show where a request's time goes.

    .venv/bin/python -m bench.intake                    # ~3 minutes
    .venv/bin/python -m bench.intake --duration 30 --connections 32 --latencies 0 100 300

It prints a table and writes bench/results/intake.json and bench/results/intake.svg.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg
import redis
import requests
from psycopg import sql

from bench._stack import QUEUE, ROOT, BenchStack, StackError, postgresql_cpu_seconds
from bench.report import (
    RESULTS_DIR,
    latency_chart_svg,
    machine_facts,
    markdown_table,
    milliseconds,
    work_folder,
    write_json,
)

#: The rate limits on, as a real site runs them (every request counted in Redis), but high
#: enough that one address sending every request is never refused.
SERVER_SETTINGS = {
    "INBOX_INTAKE_RATE_LIMIT_PER_IP": str(10**9),
    "INBOX_INTAKE_RATE_LIMIT_PER_FORM": str(10**9),
}
#: A third server with the rate limits off, for the table: what counting them costs.
RATE_LIMITS_OFF = "rate limits off"
NO_RATE_LIMITS = {"INBOX_INTAKE_RATE_LIMIT_PER_IP": "0", "INBOX_INTAKE_RATE_LIMIT_PER_FORM": "0"}
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
#: Intake's p99 "does not move" when it rises by less than this share of itself, or this many ms
#: (a single scheduling hiccup of the shared machine): B's rises by 3 × the sandbox's latency.
P99_TOLERANCE = 0.25
P99_SLACK_MS = 20.0
#: The goals (issue #15), on the main server, loaded, at +0 ms: throughput over a peer's.
GOALS = {
    "json_at_least_1.2_x_baseline_c": ("intake_json", "baseline_c_json", 1.2),
    "json_at_least_0.5_x_floor_d": ("intake_json", "floor_d", 0.5),
    "form_at_least_1.0_x_baseline_c": ("intake_form", "baseline_c_form", 1.0),
}
SAMPLE_SUBMISSION = {
    "first_name": "Load",
    "last_name": "Tester",
    "email": "visitor@bench.example",
    "message": "Load test message: please call me back about my order.",
}
#: Baseline B's calls to the sandbox in each request: create contact, conversation, send.
SANDBOX_CALLS = 3

#: wrk's script. Each request gets an email of its own (thread number and counter); "json" posts
#: what the script embed sends, "form" what a browser sends, with the CSRF cookie and token
#: fetched once beforehand (Django accepts a token many times). done() prints one JSON line.
WRK_SCRIPT = r"""
local threads_started = 0

function setup(thread)
  threads_started = threads_started + 1
  thread:set("thread_number", threads_started)
end

function init(args)
  mode, csrf_token = args[1], args[2]
  sent = 0
  wrk.method = "POST"
  if mode == "json" then
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Accept"] = "application/json"
  else
    wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
    wrk.headers["Accept"] = "text/html,application/xhtml+xml"
    wrk.headers["Cookie"] = "csrftoken=" .. args[3]
  end
end

local function form_encoded(text)
  return (text:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", c:byte()) end))
end

function request()
  sent = sent + 1
  local email = string.format("visitor-%d-%d@bench.example", thread_number, sent)
  local message = string.format("Load test message %d: please call me back about my order.", sent)
  local body
  if mode == "json" then
    body = string.format(
      '{"first_name":"Load","last_name":"Tester","email":"%s","message":"%s"}', email, message)
  else
    body = "first_name=Load&last_name=Tester&email=" .. form_encoded(email)
      .. "&message=" .. form_encoded(message) .. "&csrfmiddlewaretoken=" .. csrf_token
  end
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,'
    .. '"write":%d,"status":%d,"timeout":%d},'
    .. '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    summary.requests, summary.duration, errors.connect, errors.read, errors.write,
    errors.status, errors.timeout, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    path: str
    mode: str  # "json" or "form"
    #: What the database holds once per answered request: a submission, or a sandbox message.
    stores: str


BASELINE_A = Target("baseline_a", "baseline A: bare 201", "/bench/bare/", "json", "")
INTAKE_JSON = Target(
    "intake_json", "intake, JSON endpoint", "/intake/contact/", "json", "submission"
)
INTAKE_FORM = Target("intake_form", "intake, HTML form", "/intake/contact/", "form", "submission")
BASELINE_B = Target(
    "baseline_b", "baseline B: Wix calls in the request", "/bench/synchronous/", "json", "message"
)
BASELINE_C_JSON = Target(
    "baseline_c_json", "baseline C: the usual view, JSON", "/bench/usual/", "json", "submission"
)
BASELINE_C_FORM = Target(
    "baseline_c_form", "baseline C: the usual view, form", "/bench/usual/form/", "form",
    "submission",
)  # fmt: skip
FLOOR_D = Target(
    "floor_d", "floor D: one INSERT, one Redis push", "/bench/floor/", "json", "submission"
)
#: Loaded at every sandbox latency (they may call Wix), and at the lowest only (they never do).
TARGETS = (BASELINE_A, INTAKE_JSON, INTAKE_FORM, BASELINE_B)
PEERS = (BASELINE_C_JSON, BASELINE_C_FORM, FLOOR_D)
ALL_TARGETS = {target.key: target for target in (*TARGETS, *PEERS)}


@dataclass
class IntakeConfig:
    duration: int = 5
    warmup: int = 2
    #: Seconds of each single-connection run (baseline B gets only a few requests in at +300 ms).
    probe_duration: int = 4
    connections: int = 16
    wrk_threads: int = 2
    #: Baseline B holds a server thread for its three sandbox calls, and each of those calls
    #: holds another: the threads must outnumber twice the connections, or B deadlocks itself.
    web_workers: int = 2
    web_threads: int = 32
    sandbox_latencies: tuple[int, ...] = (0, 300)
    #: A second server that opens a PostgreSQL connection for every request (Django's own
    #: default, CONN_MAX_AGE 0, set in DATABASE_URL): what keeping them saves.
    new_connection_round: bool = True
    timeout: int = 30
    database: str = "inbox_intake_bench_intake"
    postgres_url: str = "postgres://postgres@127.0.0.1:5432"


#: The second server runs the fast paths only, with a new connection per request.
NEW_CONNECTIONS = "conn_max_age=0"
NEW_CONNECTIONS_THREADS = 16
NEW_CONNECTIONS_TARGETS = (BASELINE_A, INTAKE_JSON, INTAKE_FORM)


@dataclass
class Measurement:
    target: str
    label: str
    #: "" for the main server, else its DATABASE_URL options (NEW_CONNECTIONS).
    server_options: str
    sandbox_latency_ms: int
    connections: int
    requests: int
    seconds: float
    requests_per_second: float
    latency_ms: dict[str, float]
    errors: dict[str, int]
    #: Submissions (or sandbox messages) the run added: at least one per answered request.
    stored: int | None
    #: Celery tasks waiting in Redis after the run (the real path publishes one per submission).
    tasks_queued: int | None = None
    #: CPU per answered request, ms: gunicorn (its workers; for baseline B the sandbox's work
    #: too), PostgreSQL (all of its processes) and the stack's Redis.
    cpu_ms_per_request: dict[str, float] = field(default_factory=dict)


@dataclass
class IntakeResult:
    machine: dict
    config: dict
    server: str
    measurements: list[Measurement] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    load_average_at_end: list[float] = field(default_factory=list)
    #: Step → {"wall_ms", "cpu_ms"}: see request_costs().
    request_costs: dict[str, dict[str, float]] = field(default_factory=dict)

    def find(
        self, target: Target, latency: int, connections: int, options: str = ""
    ) -> Measurement | None:
        wanted = (target.key, latency, connections, options)
        return next(
            (
                m
                for m in self.measurements
                if (m.target, m.sandbox_latency_ms, m.connections, m.server_options) == wanted
            ),
            None,
        )

    def ratio(self, measurement: Measurement, peer: Target) -> float | None:
        """A real path's throughput over a peer's: same server, sandbox latency and load (None
        when the peer did not run there)."""
        if measurement.target not in (INTAKE_JSON.key, INTAKE_FORM.key):
            return None
        baseline = self.find(
            peer,
            measurement.sandbox_latency_ms,
            measurement.connections,
            measurement.server_options,
        )
        if baseline is None:
            return None
        return round(measurement.requests_per_second / baseline.requests_per_second, 3)

    def peer_of(self, measurement: Measurement) -> Target:
        """Baseline C in the same mode: the usual view for JSON, or for the HTML form."""
        return BASELINE_C_FORM if measurement.target == INTAKE_FORM.key else BASELINE_C_JSON

    def p99_moves(self, connections: int) -> dict[str, float]:
        """How far each path's p99 moved from the lowest sandbox latency to the highest, in ms."""
        low, high = min(self.config["sandbox_latencies"]), max(self.config["sandbox_latencies"])
        return {
            target.key: round(
                self.find(target, high, connections).latency_ms["p99"]
                - self.find(target, low, connections).latency_ms["p99"],
                1,
            )
            for target in TARGETS
        }

    def goals(self) -> dict[str, bool]:
        low, high = min(self.config["sandbox_latencies"]), max(self.config["sandbox_latencies"])
        loaded = self.config["connections"]

        def steady(target: Target, connections: int) -> bool:
            # One-sided: the promise is that Wix's latency never reaches the visitor. A p99
            # that drops while the sandbox slows down is the machine's noise, not a move.
            p99 = self.find(target, low, connections).latency_ms["p99"]
            move = self.p99_moves(connections)[target.key]
            return move <= max(P99_TOLERANCE * p99, P99_SLACK_MS)

        def ratio_met(target_key: str, peer_key: str, goal: float) -> bool:
            measurement = self.find(ALL_TARGETS[target_key], low, loaded)
            ratio = self.ratio(measurement, ALL_TARGETS[peer_key])
            return ratio is not None and ratio >= goal

        return {
            **{name: ratio_met(*goal) for name, goal in GOALS.items()},
            "intake_p99_unmoved_one_connection": all(
                steady(target, 1) for target in (INTAKE_JSON, INTAKE_FORM)
            ),
            "intake_p99_unmoved_under_load": all(
                steady(target, loaded) for target in (INTAKE_JSON, INTAKE_FORM)
            ),
            # B cannot answer before its three sandbox calls have: the visitor waits for Wix.
            "baseline_b_waits_for_the_sandbox": (
                self.find(BASELINE_B, high, 1).latency_ms["p50"] >= SANDBOX_CALLS * high
            ),
            "no_errors": not self.problems,
        }

    def as_dict(self) -> dict:
        return asdict(self) | {
            "ratios": [
                {
                    "target": m.target,
                    "server_options": m.server_options,
                    "sandbox_latency_ms": m.sandbox_latency_ms,
                    "connections": m.connections,
                    "to_baseline_c": self.ratio(m, self.peer_of(m)),
                    "to_floor_d": self.ratio(m, FLOOR_D),
                    "to_baseline_a": self.ratio(m, BASELINE_A),
                }
                for m in self.measurements
                if self.ratio(m, BASELINE_A) is not None
            ],
            "p99_move_ms": {
                f"{connections} connection(s)": self.p99_moves(connections)
                for connections in (1, self.config["connections"])
            },
            "goals": self.goals(),
        }

    def table(self) -> str:
        run_order = list(ALL_TARGETS)

        def shown(ratio: float | None) -> str:
            return "" if ratio is None else f"{ratio:.2f}"

        rows = [
            [
                m.label,
                m.server_options or "default",
                m.connections,
                f"+{m.sandbox_latency_ms} ms",
                f"{m.requests_per_second:.0f}",
                shown(self.ratio(m, self.peer_of(m))),
                shown(self.ratio(m, FLOOR_D)),
                milliseconds(m.latency_ms["p50"]),
                milliseconds(m.latency_ms["p90"]),
                milliseconds(m.latency_ms["p99"]),
                milliseconds(m.latency_ms["max"]),
                sum(m.errors.values()),
            ]
            for m in sorted(
                self.measurements,
                key=lambda m: (
                    m.server_options,
                    -m.connections,
                    m.sandbox_latency_ms,
                    run_order.index(m.target),
                ),
            )
        ]
        headers = ["target", "server", "wrk conns", "sandbox", "req/s", "÷ C", "÷ D", "p50"]
        return markdown_table([*headers, "p90", "p99", "max", "errors"], rows)


class IntakeBenchmark:
    def __init__(self, config: IntakeConfig, work_dir: Path):
        self.config = config
        self.work_dir = work_dir
        self.script = work_dir / "post_form.lua"

    def run(self) -> IntakeResult:
        config = self.config
        result = IntakeResult(
            machine=machine_facts(),
            config=asdict(config),
            server=(
                f"gunicorn -k gthread -w {config.web_workers} --threads {config.web_threads}, "
                "DEBUG off, PostgreSQL (connections kept 60 s, the default settings; and a "
                f"second server with {NEW_CONNECTIONS}, a new connection per request, and "
                f"{NEW_CONNECTIONS_THREADS} threads), "
                "broker: a private Redis, no Celery worker running; "
                f"wrk -t{config.wrk_threads} -c{config.connections} -d{config.duration}s after "
                f"a {config.warmup} s warm-up, then wrk -t1 -c1 -d{config.probe_duration}s, "
                f"--timeout {config.timeout}s"
            ),
        )
        self.script.write_text(WRK_SCRIPT)
        lowest = (min(config.sandbox_latencies),)
        self._round(result, "", config.web_threads, TARGETS, config.sandbox_latencies, PEERS)
        self._round(
            result,
            RATE_LIMITS_OFF,
            config.web_threads,
            (INTAKE_JSON, INTAKE_FORM),
            lowest,
            settings=SERVER_SETTINGS | NO_RATE_LIMITS,
        )
        if config.new_connection_round:
            self._round(
                result, NEW_CONNECTIONS, NEW_CONNECTIONS_THREADS, NEW_CONNECTIONS_TARGETS, lowest
            )
        result.load_average_at_end = [round(load, 2) for load in os.getloadavg()]
        return result

    def _round(
        self, result, options: str, threads: int, targets, latencies, peers=(), settings=None
    ) -> None:
        """Start a server, load each target at each sandbox latency (each peer at the lowest),
        stop the server."""
        stack = BenchStack(
            self.work_dir / (options.replace(" ", "-") or "default"),
            database=self.config.database,
            postgres_url=self.config.postgres_url,
            settings=settings or SERVER_SETTINGS,
            web_workers=self.config.web_workers,
            web_threads=threads,
            root_urlconf="bench.urls",
            database_options="" if options == RATE_LIMITS_OFF else options,
        )
        try:
            stack.start()
            csrf_cookie, csrf_token = _csrf_pair(stack.base_url)
            # Each target runs at every latency back to back, so that what else the machine
            # is doing changes as little as possible between the runs compared; the order of
            # the latencies alternates, so the sandbox's rule changes once per target.
            order, in_force = list(latencies), None
            for target in (*targets, *peers):
                for latency in order if target in targets else [min(latencies)]:
                    if latency != in_force:
                        stack.manage(
                            "wix_sandbox_faults", "set", json.dumps({"*": {"latency_ms": latency}})
                        )
                        in_force = latency
                    arguments = [target.mode, csrf_token, csrf_cookie]
                    warm_up = self._wrk(
                        stack, target, self.config.warmup, self.config.connections, arguments
                    )
                    if any(warm_up["errors"].values()):
                        result.problems.append(
                            f"{target.label} at +{latency} ms, warm-up: errors {warm_up['errors']}"
                        )
                    for connections, seconds in (
                        (self.config.connections, self.config.duration),
                        (1, self.config.probe_duration),
                    ):
                        measurement = self._measure(
                            stack, target, latency, options, connections, seconds, arguments
                        )
                        result.measurements.append(measurement)
                        result.problems += self._problems(measurement)
                order.reverse()
            stored, published = _stored(stack, INTAKE_JSON), _queued_tasks(stack)
            if stored != published:
                result.problems.append(
                    f"{stored} submissions stored but {published} tasks published to Redis"
                )
            if not options:
                # Last: it stores and publishes too, which the check above must not count.
                result.request_costs = _measure_request_costs(stack)
        finally:
            stack.stop()

    def _measure(self, stack, target, latency, options, connections, seconds, arguments):
        before = _settled_count(stack, target)
        cpu_before = _server_cpu_seconds(stack)
        outcome = self._wrk(stack, target, seconds, connections, arguments)
        cpu = {
            name: seconds - cpu_before[name] for name, seconds in _server_cpu_seconds(stack).items()
        }
        elapsed = outcome["duration_us"] / 1e6
        measurement = Measurement(
            target=target.key,
            label=target.label,
            server_options=options,
            sandbox_latency_ms=latency,
            connections=connections,
            requests=outcome["requests"],
            seconds=round(elapsed, 2),
            requests_per_second=round(outcome["requests"] / elapsed, 1),
            latency_ms={
                name: round(value / 1000, 2) for name, value in outcome["latency_us"].items()
            },
            errors=outcome["errors"],
            stored=None if before is None else _settled_count(stack, target) - before,
            tasks_queued=_queued_tasks(stack) if target.stores == "submission" else None,
            cpu_ms_per_request={
                name: round(seconds / max(outcome["requests"], 1) * 1000, 3)
                for name, seconds in cpu.items()
            },
        )
        print(
            f"  {target.label} ({options or 'default'}), sandbox +{latency} ms, "
            f"{connections} connection(s): {measurement.requests_per_second:.0f} req/s, "
            f"p50 {milliseconds(measurement.latency_ms['p50'])}, "
            f"p99 {milliseconds(measurement.latency_ms['p99'])}",
            file=sys.stderr,
            flush=True,
        )
        return measurement

    def _wrk(self, stack, target: Target, seconds: int, connections: int, arguments) -> dict:
        threads = min(self.config.wrk_threads, connections)
        command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s"]
        command += ["--timeout", f"{self.config.timeout}s", "-s", str(self.script)]
        command += [stack.base_url + target.path, "--", *arguments]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + self.config.timeout + 30
        )
        marker = next(
            (line for line in done.stdout.splitlines() if line.startswith("WRK_RESULT ")), None
        )
        if done.returncode or marker is None:
            raise StackError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return json.loads(marker.removeprefix("WRK_RESULT "))

    def _problems(self, measurement: Measurement) -> list[str]:
        """Errors, and answers that did not store what they claimed (wrk stops with up to one
        request per connection in flight, so up to that many more rows than answers)."""
        problems = []
        name = (
            f"{measurement.label} at +{measurement.sandbox_latency_ms} ms, "
            f"{measurement.connections} connection(s)"
        )
        if any(measurement.errors.values()):
            problems.append(f"{name}: errors {measurement.errors}")
        if measurement.stored is not None and not (
            measurement.requests
            <= measurement.stored
            <= measurement.requests + measurement.connections
        ):
            problems.append(
                f"{name}: {measurement.requests} answers but {measurement.stored} rows stored"
            )
        return problems


def _csrf_pair(base_url: str) -> tuple[str, str]:
    """A CSRF cookie and a form token from the form page, as a browser would hold them."""
    session = requests.Session()
    page = session.get(base_url + INTAKE_FORM.path, timeout=10)
    token = CSRF_FIELD.search(page.text)
    if token is None or "csrftoken" not in session.cookies:
        raise StackError(f"The form page ({page.status_code}) has no CSRF cookie and token")
    return session.cookies["csrftoken"], token.group(1)


def _measure_request_costs(stack: BenchStack) -> dict[str, dict[str, float]]:
    """request_costs() in a process of its own, with the server's settings and database."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.intake", "--request-costs"],
        cwd=ROOT,
        env=stack.env | {"ALLOWED_HOSTS": "testserver"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode:
        raise StackError(f"Measuring the request's costs failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def request_costs(repeat: int = 300) -> dict[str, dict[str, float]]:
    """Where the real path's time goes: each step on its own, `repeat` times, in this process
    (Django's test Client; its database connection stays open between requests). CPU is this
    process's only: PostgreSQL's and Redis's work shows in the wall time."""
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from inbox_intake.forms import ContactForm
    from inbox_intake.models import Submission
    from inbox_intake.tasks import deliver_submission

    client = Client()
    body = json.dumps(SAMPLE_SUBMISSION)

    def reconnect():
        connection.close()
        connection.ensure_connection()

    steps = {
        "baseline A view, through Django": lambda: client.post(
            BASELINE_A.path, body, content_type="application/json"
        ),
        "JSON intake, through Django": lambda: client.post(
            INTAKE_JSON.path, body, content_type="application/json", HTTP_ACCEPT="application/json"
        ),
        "form validation": lambda: ContactForm(SAMPLE_SUBMISSION).is_valid(),
        "INSERT of the submission, committed": lambda: Submission.objects.create(
            form_name="contact", data=SAMPLE_SUBMISSION, email=SAMPLE_SUBMISSION["email"]
        ),
        "Celery publish to Redis": lambda: deliver_submission.delay(0),
        "new PostgreSQL connection": reconnect,
    }
    costs = {}
    for name, step in steps.items():
        for _ in range(10):
            step()
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(repeat):
            step()
        costs[name] = {
            "wall_ms": round((time.perf_counter() - wall) / repeat * 1000, 2),
            "cpu_ms": round((time.process_time() - cpu) / repeat * 1000, 2),
        }
    return costs


def _server_cpu_seconds(stack: BenchStack) -> dict[str, float]:
    redis_server = next(process for process in stack.processes if process.name == "redis")
    seconds = (stack.web.cpu_seconds(), postgresql_cpu_seconds(), redis_server.cpu_seconds())
    return dict(zip(SERVER_PARTS, seconds, strict=True))


def _settled_count(stack: BenchStack, target: Target, *, timeout: float = 10.0) -> int | None:
    """_stored() once the requests still in flight when wrk stopped have finished: it stopped
    changing for half a second (or `timeout` passed)."""
    count = _stored(stack, target)
    deadline = time.monotonic() + timeout
    while count is not None and time.monotonic() < deadline:
        time.sleep(0.5)
        count, previous = _stored(stack, target), count
        if count == previous:
            break
    return count


def _queued_tasks(stack: BenchStack) -> int:
    """Delivery tasks waiting in Redis: no worker runs, so every one published is still there."""
    return redis.Redis.from_url(stack.env["CELERY_BROKER_URL"]).llen(QUEUE)


def _stored(stack: BenchStack, target: Target) -> int | None:
    """How many submissions (or sandbox messages) the database holds, for targets that store."""
    model = {"submission": "inbox_intake.Submission", "message": "wix_sandbox.SandboxMessage"}
    if not target.stores:
        return None
    query = sql.SQL("SELECT count(*) FROM {}").format(stack.tables[model[target.stores]])
    with psycopg.connect(stack.database_url, autocommit=True) as db:
        return db.execute(query).fetchone()[0]


def chart(result: IntakeResult) -> str:
    """p50 and p99 of each path at each sandbox latency, with one connection, then loaded."""
    latencies = result.config["sandbox_latencies"]
    loads = (1, result.config["connections"])
    series = [
        (
            target.label,
            [
                (
                    result.find(target, latency, connections).latency_ms["p50"],
                    result.find(target, latency, connections).latency_ms["p99"],
                )
                for connections in loads
                for latency in latencies
            ],
        )
        for target in (INTAKE_JSON, INTAKE_FORM, BASELINE_B)
    ]
    cores = result.machine["cpu_cores"]
    return latency_chart_svg(
        f"Intake latency vs the sandbox's added latency ({cores} CPU cores)",
        [
            f"+{latency} ms, {connections} conn{'s' if connections > 1 else ''}"
            for connections in loads
            for latency in latencies
        ],
        series,
    )


SERVER_PARTS = ("web", "postgresql", "redis")


def cpu_table(result: IntakeResult) -> str:
    """Server CPU per request under load at the lowest sandbox latency, and the throughput ratio
    to baseline C and floor D that CPU alone would allow (the peer's total over the target's)."""
    loaded, low = result.config["connections"], min(result.config["sandbox_latencies"])
    rows = []
    for m in result.measurements:
        if m.connections != loaded or m.sandbox_latency_ms != low or not m.cpu_ms_per_request:
            continue
        total = sum(m.cpu_ms_per_request.values())
        rows.append(
            [
                m.label,
                m.server_options or "default",
                *(f"{m.cpu_ms_per_request[name]:.2f} ms" for name in SERVER_PARTS),
                f"{total:.2f} ms",
                _cpu_allows(result, m, result.peer_of(m)),
                _cpu_allows(result, m, FLOOR_D),
            ]
        )
    headers = ["target", "server", "web", "PostgreSQL", "Redis", "total"]
    return markdown_table([*headers, "C's total ÷ this", "D's total ÷ this"], rows)


def _cpu_allows(result: IntakeResult, m: Measurement, peer: Target) -> str:
    """The throughput ratio to `peer` that the two paths' CPU per request alone would allow."""
    baseline = result.find(peer, m.sandbox_latency_ms, m.connections, m.server_options)
    total = sum(m.cpu_ms_per_request.values())
    if m.target not in (INTAKE_JSON.key, INTAKE_FORM.key) or baseline is None or not total:
        return ""
    return f"{sum(baseline.cpu_ms_per_request.values()) / total:.2f}"


def summary(result: IntakeResult) -> str:
    costs = markdown_table(
        ["step of the real path, alone", "wall", "CPU of the Django process"],
        [
            [step, f"{cost['wall_ms']:.2f} ms", f"{cost['cpu_ms']:.2f} ms"]
            for step, cost in result.request_costs.items()
        ],
    )
    lines = [
        result.table(),
        "",
        f"Server CPU per request ({result.config['connections']} connections):",
        cpu_table(result),
        "",
        costs,
        "",
        "÷ C, ÷ D: throughput over baseline C's (the same mode) and floor D's, on the same "
        "server, load and sandbox latency; goals: " + ", ".join(f"{name}" for name in GOALS),
        *(
            f"p99 moved with the sandbox's latency ({connections} connection(s)): "
            + " · ".join(
                f"{key} {move:+.1f} ms" for key, move in result.p99_moves(connections).items()
            )
            for connections in (1, result.config["connections"])
        ),
        "goals: "
        + " · ".join(
            f"{goal}: {'met' if met else 'MISSED'}" for goal, met in result.goals().items()
        ),
        *(f"PROBLEM: {problem}" for problem in result.problems),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    defaults = IntakeConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=defaults.duration, help="seconds per run")
    parser.add_argument("--warmup", type=int, default=defaults.warmup)
    parser.add_argument(
        "--probe-duration",
        type=int,
        default=defaults.probe_duration,
        help="seconds of each single-connection run",
    )
    parser.add_argument("--connections", type=int, default=defaults.connections)
    parser.add_argument("--web-threads", type=int, default=defaults.web_threads)
    parser.add_argument(
        "--latencies",
        type=int,
        nargs="+",
        default=list(defaults.sandbox_latencies),
        help="the sandbox's added latency of each round, ms",
    )
    parser.add_argument(
        "--no-new-connection-round",
        action="store_true",
        help=f"skip the second server ({NEW_CONNECTIONS})",
    )
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "intake.json")
    parser.add_argument(
        "--request-costs",
        action="store_true",
        help="only print request_costs() as JSON (the benchmark runs this inside its stack)",
    )
    args = parser.parse_args(argv)
    if args.request_costs:
        print(json.dumps(request_costs()))
        return 0
    if args.web_threads * defaults.web_workers < 2 * args.connections + 2:
        parser.error("baseline B needs more server threads than twice the connections")
    config = IntakeConfig(
        duration=args.duration,
        warmup=args.warmup,
        probe_duration=args.probe_duration,
        connections=args.connections,
        web_threads=args.web_threads,
        sandbox_latencies=tuple(args.latencies),
        new_connection_round=not args.no_new_connection_round,
    )
    started = time.monotonic()
    with work_folder("inbox-intake-bench-intake-") as (work_dir, keep):
        result = IntakeBenchmark(config, work_dir).run()
        keep["keep"] = bool(result.problems)
    print(summary(result))
    elapsed = round(time.monotonic() - started)
    print(f"took {elapsed} s")
    write_json(args.output, result.as_dict() | {"elapsed_seconds": elapsed})
    args.output.with_suffix(".svg").write_text(chart(result))
    return 0 if not result.problems else 1


if __name__ == "__main__":
    sys.exit(main())
