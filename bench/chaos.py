"""Chaos test: no submission lost, none duplicated, while the stack around delivery breaks.

Submissions are posted through the HTML contact form to gunicorn, delivered by two real Celery
workers over a private Redis and a fresh PostgreSQL database, to the Wix sandbox answering with
injected faults (5xx, 429, hangs, and sends that store the message and then fail). Meanwhile each
worker is SIGKILLed once (with its pool processes, mid-task) and restarted, and Redis is restarted
once, coming back empty. At the end every submission must be SENT, with exactly one message per
reference in the sandbox.

    .venv/bin/python -m bench.chaos                      # 500 submissions, seed 1
    .venv/bin/python -m bench.chaos --submissions 100 --seed 7 --keep

It prints a table and writes bench/results/chaos.json; docs/reliability.md records a run. The
exit status is 0 only when nothing was lost, duplicated or left unsent.
"""

import argparse
import contextlib
import json
import os
import random
import re
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg
import requests
from psycopg import sql

from bench._stack import (
    QUEUE,
    ROOT,
    ManagedProcess,
    RabbitVhost,
    StackError,
    Tables,
    beat_process,
    drop_database,
    free_port,
    migrate,
    recreate_database,
    redis_process,
    stack_env,
    wait_for_url,
    web_process,
    worker_process,
)

#: Faults on every sandbox endpoint, plus sends that are stored but answered with a 500.
DEFAULT_FAULTS = {
    "*": {
        "error_500": 0.10,
        "rate_limit_429": 0.05,
        "hang": 0.03,
        "latency_ms": 20,
        "hang_seconds": 5,
    },
    "messages.send": {"store_then_fail": 0.03},
}
#: Settings of every process of the stack. Timings are far shorter than production's, so a run
#: drains in minutes: the read timeout is below the sandbox's hang (a hang is a client timeout), the
#: lease outlasts the longest attempt (a few calls × read timeout), the relay looks every second.
#: The shared Wix rate limiter stays on, its budget scaled like the lease (production's 200 a
#: minute × 15, as 300 s → 20 s); the form's rate limits, meant for visitors, are off: every
#: submission here comes from one address.
CHAOS_SETTINGS = {
    "WIX_READ_TIMEOUT": "2",
    "INBOX_INTAKE_BACKOFF_BASE": "0.5",
    "INBOX_INTAKE_BACKOFF_CAP": "5",
    "INBOX_INTAKE_LEASE_SECONDS": "20",
    "INBOX_INTAKE_QUEUED_GRACE_SECONDS": "5",
    "INBOX_INTAKE_RELAY_INTERVAL": "1",
    "INBOX_INTAKE_MAX_ATTEMPTS": "200",
    "INBOX_INTAKE_WIX_REQUESTS_PER_MINUTE": "3000",
    "INBOX_INTAKE_RATE_LIMIT_PER_IP": "0",
    "INBOX_INTAKE_RATE_LIMIT_PER_FORM": "0",
}
PENDING_STATUSES = ("queued", "sending", "retrying")
FORM_PATH = "/intake/contact/"
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
MESSAGE_INDEX = re.compile(r"^Chaos submission #(\d+)\b")
#: Repeat submitters share these few addresses, so the participant cache is used (and raced).
REGULAR_VISITORS = 10
KILL_WORKER = "kill-worker"
#: Redis: restarted empty. RabbitMQ: the run's virtual host deleted (its queue, its messages and
#: every connection to it) and created again empty.
RESTART_BROKER = "restart-broker"
BROKERS = ("redis", "rabbitmq")
DEFAULT_RESULTS_PATH = ROOT / "bench" / "results" / "chaos.json"


@dataclass(frozen=True)
class Disruption:
    """Something to break once `at` (a fraction) of the submissions have been answered."""

    at: float
    action: str  # KILL_WORKER or RESTART_BROKER
    worker: int = 0  # for KILL_WORKER: 1, 2, …


DEFAULT_DISRUPTIONS = (
    Disruption(0.25, KILL_WORKER, worker=1),
    Disruption(0.45, RESTART_BROKER),
    Disruption(0.60, KILL_WORKER, worker=2),
)


@dataclass
class ChaosConfig:
    submissions: int = 500
    seed: int = 1
    database: str = "inbox_intake_chaos"
    postgres_url: str = "postgres://postgres@127.0.0.1:5432"
    #: Most form posts per second, all client threads together.
    rate: float = 25.0
    client_threads: int = 4
    #: Share of submissions sent from one of the REGULAR_VISITORS' addresses.
    repeat_share: float = 0.2
    workers: int = 2
    #: "redis" (a private redis-server) or "rabbitmq" (a private virtual host on the machine's).
    broker: str = "redis"
    faults: dict = field(default_factory=lambda: DEFAULT_FAULTS)
    settings: dict[str, str] = field(default_factory=lambda: dict(CHAOS_SETTINGS))
    disruptions: tuple[Disruption, ...] = DEFAULT_DISRUPTIONS
    #: How long the broker stays down when it is restarted.
    broker_downtime: float = 2.0
    #: Longest wait, after the last form post, for every submission to be SENT.
    drain_timeout: float = 600.0
    keep_database: bool = False


@dataclass
class ChaosResult:
    submissions: int
    seed: int
    cpu_cores: int
    fault_rules: dict
    settings: dict[str, str]
    #: HTTP status (or error name) → count, for form posts not answered with a redirect.
    form_errors: dict[str, int]
    stored: int
    delivered: int
    lost: int
    duplicated: int
    sandbox_messages: int
    statuses: dict[str, int]
    attempts_mean: float
    attempts_max: int
    attempt_outcomes: dict[str, int]
    faults_injected: dict[str, int]
    submitting_seconds: float
    #: From the last form answer until nothing was pending; None when the wait timed out.
    drain_seconds: float | None
    timeline: list[str]
    problems: list[str]

    @property
    def clean(self) -> bool:
        return (
            not self.form_errors
            and self.delivered == self.submissions
            and self.lost == 0
            and self.duplicated == 0
            and self.statuses == {"sent": self.submissions}
        )

    def table(self) -> str:
        drained = (
            f"{self.drain_seconds:.1f} s after the last submission"
            if self.drain_seconds is not None
            else "did not drain"
        )
        rows = [
            ("submissions", self.submissions),
            ("delivered", self.delivered),
            ("lost", self.lost),
            ("duplicated", self.duplicated),
            ("statuses", _listing(self.statuses)),
            ("form errors", _listing(self.form_errors) or "none"),
            ("sandbox messages", self.sandbox_messages),
            ("attempts/submission", f"mean {self.attempts_mean:.2f} · max {self.attempts_max}"),
            ("attempt outcomes", _listing(self.attempt_outcomes)),
            ("faults injected", _listing(self.faults_injected)),
            ("submitting took", f"{self.submitting_seconds:.1f} s"),
            ("time to drain", drained),
        ]
        lines = [
            f"Chaos run: {self.submissions} submissions, seed {self.seed}, "
            f"{self.cpu_cores} CPU cores",
            f"  sandbox faults: {json.dumps(self.fault_rules)}",
            "  settings: " + " ".join(f"{name}={value}" for name, value in self.settings.items()),
            *(f"  {event}" for event in self.timeline),
            *(f"{label:<21}{value}" for label, value in rows),
            *(f"PROBLEM: {problem}" for problem in self.problems),
            "RESULT: " + ("clean" if self.clean else "NOT CLEAN"),
        ]
        return "\n".join(lines)


def _listing(counts: dict) -> str:
    return " · ".join(f"{key} {value}" for key, value in sorted(counts.items()))


@dataclass
class FormPost:
    index: int
    outcome: str  # "accepted", an HTTP status, or the name of a network error


def form_data(index: int, seed: int, repeat_share: float) -> dict[str, str]:
    """The contact form as visitor `index` fills it in; the message names the index."""
    choose = random.Random(f"{seed}:{index}")
    if choose.random() < repeat_share:
        email = f"regular-{choose.randrange(REGULAR_VISITORS)}@chaos.example"
    else:
        email = f"visitor-{index}@chaos.example"
    data = {
        "first_name": "Visitor",
        "last_name": f"No. {index}",
        "email": email,
        "message": f"Chaos submission #{index}: please call me back about order {seed}-{index}.",
    }
    if choose.random() < 0.5:
        data["phone"] = f"+1 555 {index:07d}"
    if choose.random() < 0.3:
        data["subscribe_newsletter"] = "on"
    return data


class ContactFormVisitors:
    """Client threads posting the HTML form, each with its own session (cookies, CSRF token)."""

    def __init__(self, base_url: str, config: ChaosConfig):
        self.url = base_url + FORM_PATH
        self.config = config
        self._sessions = threading.local()

    def post(self, index: int, not_before: float) -> FormPost:
        time.sleep(max(not_before - time.monotonic(), 0))
        session = self._session()
        data = form_data(index, self.config.seed, self.config.repeat_share)
        try:
            page = session.get(self.url, timeout=10)
            token = CSRF_FIELD.search(page.text)
            if token is None:
                return FormPost(index, f"form page {page.status_code}")
            response = session.post(
                self.url,
                data={**data, "csrfmiddlewaretoken": token.group(1)},
                allow_redirects=False,
                timeout=10,
            )
        except requests.RequestException as error:
            return FormPost(index, type(error).__name__)
        return FormPost(
            index, "accepted" if response.status_code == 302 else str(response.status_code)
        )

    def _session(self) -> requests.Session:
        if not hasattr(self._sessions, "session"):
            self._sessions.session = requests.Session()
        return self._sessions.session


class ChaosRun:
    """One run: the stack, the load, the disruptions, and what the database says at the end."""

    def __init__(self, config: ChaosConfig, work_dir: Path):
        self.config = config
        self.work_dir = work_dir
        self.timeline: list[str] = []
        self.problems: list[str] = []
        self.started = time.monotonic()
        self.redis: ManagedProcess | None = None
        self.vhost: RabbitVhost | None = None
        self.web: ManagedProcess | None = None
        self.beat: ManagedProcess | None = None
        self.workers: list[ManagedProcess] = []
        self.database_url = ""
        self.tables: Tables | None = None

    # --- The stack ------------------------------------------------------------------------------

    def start_stack(self) -> str:
        """Start the broker, migrate a fresh database, start the web server, workers and beat;
        return the web server's base URL."""
        config = self.config
        web_port = free_port()
        logs = self.work_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        broker_url = self.start_broker(logs)
        self.database_url = recreate_database(config.postgres_url, config.database)
        env = stack_env(
            DJANGO_SETTINGS_MODULE="site_project.settings",
            DATABASE_URL=self.database_url,
            CELERY_BROKER_URL=broker_url,
            CELERY_TASK_DEFAULT_QUEUE=QUEUE,
            INBOX_INTAKE_VAR_DIR=str(self.work_dir / "var"),
            SECRET_KEY=secrets.token_urlsafe(50),
            PORT=str(web_port),
            WIX_API_BASE_URL=f"http://127.0.0.1:{web_port}/wix-sandbox",
            WIX_SANDBOX_FAULTS=json.dumps(config.faults),
            WIX_SANDBOX_FAULT_SEED=str(config.seed),
            **config.settings,
        )
        migrate(env)
        self.tables = Tables.of(env)
        self.web = web_process(web_port, logs, env)
        self.workers = [worker_process(n, logs, env) for n in range(1, config.workers + 1)]
        self.beat = beat_process(logs, env)
        for process in (self.web, *self.workers, self.beat):
            process.start()
        for process in (self.web, *self.workers, self.beat):
            process.wait_ready()
        base_url = f"http://127.0.0.1:{web_port}"
        wait_for_url(base_url + FORM_PATH)
        return base_url

    def start_broker(self, logs: Path) -> str:
        """Start the run's own broker; return its URL."""
        if self.config.broker == "rabbitmq":
            self.vhost = RabbitVhost(f"inbox_intake_chaos_{os.getpid()}")
            with contextlib.suppress(StackError):
                self.vhost.delete()  # left over from a run that was killed
            self.vhost.create()
            return self.vhost.url
        port = free_port()
        self.redis = redis_process(port, logs, stack_env())
        self.redis.start()
        self.redis.wait_ready()
        return f"redis://127.0.0.1:{port}/0"

    def stop_stack(self) -> None:
        for process in (*self.workers, self.beat, self.web, self.redis):
            if process is not None:
                process.stop()
        if self.vhost is not None:
            self.vhost.delete()
        if not self.config.keep_database and self.database_url:
            drop_database(self.config.postgres_url, self.config.database)

    def supervise(self) -> None:
        """Restart any process that died without being told to, and say so."""
        for process in (self.redis, self.web, *self.workers, self.beat):
            if process is not None and not process.running():
                problem = (
                    f"{process.name} exited on its own with code {process.popen.returncode} "
                    f"(log: {process.log_path}); restarted"
                )
                self.problems.append(problem)
                self.note(problem)
                process.start()

    # --- Disruptions ----------------------------------------------------------------------------

    def disrupt(self, disruption: Disruption) -> None:
        if disruption.action == KILL_WORKER:
            worker = self.workers[disruption.worker - 1]
            in_flight = self.status_counts().get("sending", 0)
            old_pid = worker.pid
            worker.kill()
            worker.start()
            self.note(
                f"SIGKILL {worker.name} (pid {old_pid} and its pool; {in_flight} submission(s) "
                f"SENDING across all workers); restarted as pid {worker.pid}"
            )
        elif disruption.action == RESTART_BROKER and self.vhost is not None:
            self.vhost.delete()
            time.sleep(self.config.broker_downtime)
            self.vhost.create()
            self.note(
                "RabbitMQ virtual host deleted (its queue, its messages and every connection), "
                f"down {self.config.broker_downtime:.0f} s, created again empty"
            )
        elif disruption.action == RESTART_BROKER:
            self.redis.stop()
            time.sleep(self.config.broker_downtime)
            self.redis.start()
            self.redis.wait_ready()
            self.note(
                f"Redis stopped (SIGTERM), down {self.config.broker_downtime:.0f} s, "
                "restarted empty"
            )
        else:
            raise ValueError(f"Unknown disruption {disruption.action!r}")

    # --- Load and drain -------------------------------------------------------------------------

    def submit_with_disruptions(self, base_url: str) -> tuple[list[FormPost], float]:
        """Post every submission at the configured rate, disrupting the stack on the way; return
        the form posts and when the last one was answered (monotonic)."""
        config = self.config
        visitors = ContactFormVisitors(base_url, config)
        pending_disruptions = sorted(config.disruptions, key=lambda disruption: disruption.at)
        self.started = time.monotonic()
        self.note(f"posting {config.submissions} submissions, at most {config.rate:g}/s")
        with ThreadPoolExecutor(config.client_threads) as pool:
            posts = [
                pool.submit(visitors.post, index, self.started + index / config.rate)
                for index in range(config.submissions)
            ]
            while True:
                answered = sum(post.done() for post in posts)
                while pending_disruptions and answered >= pending_disruptions[0].at * len(posts):
                    self.disrupt(pending_disruptions.pop(0))
                if answered == len(posts):
                    break
                self.supervise()
                time.sleep(0.1)
        last_answer = time.monotonic()
        form_posts = [post.result() for post in posts]
        self.note(
            f"all {len(form_posts)} form posts answered; "
            f"{sum(post.outcome == 'accepted' for post in form_posts)} accepted"
        )
        return form_posts, last_answer

    def drain(self, last_answer: float) -> float | None:
        """Wait until no submission is pending; return how long it took, or None on timeout."""
        deadline = last_answer + self.config.drain_timeout
        next_report = time.monotonic() + 10
        while True:
            counts = self.status_counts()
            if not any(counts.get(status) for status in PENDING_STATUSES):
                drained = time.monotonic() - last_answer
                self.note(f"drained: {_listing(counts)}")
                return drained
            if time.monotonic() > deadline:
                self.note(
                    f"gave up waiting after {self.config.drain_timeout:.0f} s: {_listing(counts)}"
                )
                return None
            if time.monotonic() >= next_report:
                self.note(f"draining: {_listing(counts)}")
                next_report += 10
            self.supervise()
            time.sleep(1)

    # --- The verdict ----------------------------------------------------------------------------

    def result(
        self, form_posts: list[FormPost], submitting: float, drained: float | None
    ) -> ChaosResult:
        tables = self.tables
        messages = tables["wix_sandbox.SandboxMessage"]
        with psycopg.connect(self.database_url, autocommit=True) as db:
            rows = db.execute(
                sql.SQL(
                    "SELECT reference::text, status, attempt_count, data->>'message' FROM {}"
                ).format(tables["inbox_intake.Submission"])
            ).fetchall()
            messages_per_reference = dict(
                db.execute(
                    sql.SQL(
                        "SELECT field->>'value', count(*) FROM {} message "
                        "CROSS JOIN LATERAL jsonb_array_elements("
                        "  message.data->'content'->'form'->'fields') AS field "
                        "WHERE field->>'name' = 'Reference' GROUP BY 1"
                    ).format(messages)
                ).fetchall()
            )
            sandbox_messages = db.execute(
                sql.SQL("SELECT count(*) FROM {}").format(messages)
            ).fetchone()[0]
            outcomes = dict(
                db.execute(
                    sql.SQL("SELECT outcome, count(*) FROM {} GROUP BY 1").format(
                        tables["inbox_intake.DeliveryAttempt"]
                    )
                ).fetchall()
            )
            faults = dict(
                db.execute(
                    sql.SQL("SELECT fault, count(*) FROM {} WHERE fault <> '' GROUP BY 1").format(
                        tables["wix_sandbox.ApiCall"]
                    )
                ).fetchall()
            )
        stored_indexes = {
            int(match.group(1)) for *_, message in rows if (match := MESSAGE_INDEX.match(message))
        }
        accepted_not_stored = [
            post.index
            for post in form_posts
            if post.outcome == "accepted" and post.index not in stored_indexes
        ]
        if accepted_not_stored:
            self.problems.append(
                f"accepted by the form but not in the database: #{accepted_not_stored[:20]}"
            )
        rejected_but_stored = [
            post.index
            for post in form_posts
            if post.outcome != "accepted" and post.index in stored_indexes
        ]
        if rejected_but_stored:
            self.problems.append(
                f"{len(rejected_but_stored)} form post(s) answered with an error were stored "
                f"anyway (the visitor was told it failed): #{rejected_but_stored[:20]}"
            )
        copies = [messages_per_reference.get(reference, 0) for reference, *_ in rows]
        attempts = [attempt_count for _, _, attempt_count, _ in rows] or [0]
        return ChaosResult(
            submissions=len(form_posts),
            seed=self.config.seed,
            cpu_cores=os.cpu_count() or 0,
            fault_rules=self.config.faults,
            settings=self.config.settings,
            form_errors=dict(
                Counter(post.outcome for post in form_posts if post.outcome != "accepted")
            ),
            stored=len(rows),
            delivered=sum(1 for count in copies if count),
            lost=copies.count(0) + len(accepted_not_stored),
            duplicated=sum(1 for count in copies if count > 1),
            sandbox_messages=sandbox_messages,
            statuses=dict(Counter(status for _, status, _, _ in rows)),
            attempts_mean=round(statistics.fmean(attempts), 2),
            attempts_max=max(attempts),
            attempt_outcomes=outcomes,
            faults_injected=faults,
            submitting_seconds=round(submitting, 1),
            drain_seconds=None if drained is None else round(drained, 1),
            timeline=self.timeline,
            problems=self.problems,
        )

    # --- Helpers --------------------------------------------------------------------------------

    def status_counts(self) -> dict[str, int]:
        with psycopg.connect(self.database_url, autocommit=True) as db:
            return dict(
                db.execute(
                    sql.SQL("SELECT status, count(*) FROM {} GROUP BY 1").format(
                        self.tables["inbox_intake.Submission"]
                    )
                ).fetchall()
            )

    def note(self, text: str) -> None:
        line = f"{time.monotonic() - self.started:7.1f} s  {text}"
        self.timeline.append(line)
        print(line, file=sys.stderr, flush=True)


def run_chaos(config: ChaosConfig, work_dir: Path) -> ChaosResult:
    """Run the whole chaos test in `work_dir` (var/ folder and logs); stop everything after."""
    run = ChaosRun(config, work_dir)
    try:
        base_url = run.start_stack()
        form_posts, last_answer = run.submit_with_disruptions(base_url)
        drained = run.drain(last_answer)
        return run.result(form_posts, last_answer - run.started, drained)
    finally:
        run.stop_stack()


def _setting(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not name or not equals:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    return name, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=ChaosConfig.submissions)
    parser.add_argument("--seed", type=int, default=ChaosConfig.seed)
    parser.add_argument(
        "--rate", type=float, default=ChaosConfig.rate, help="form posts per second"
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help=f"keep the database ({ChaosConfig.database}) and the logs for inspection",
    )
    parser.add_argument(
        "--set",
        type=_setting,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change one of the stack's settings (repeatable), "
        "e.g. --set INBOX_INTAKE_LEASE_SECONDS=60",
    )
    parser.add_argument("--broker", choices=BROKERS, default=ChaosConfig.broker)
    parser.add_argument(
        "--output", type=Path, help=f"default: {DEFAULT_RESULTS_PATH} (chaos-rabbitmq.json)"
    )
    args = parser.parse_args(argv)
    changes = dict(args.set)
    config = ChaosConfig(
        submissions=args.submissions,
        seed=args.seed,
        rate=args.rate,
        broker=args.broker,
        keep_database=args.keep,
        settings=CHAOS_SETTINGS | changes,
    )
    # SIGTERM stops the run like Ctrl-C does, so the processes it started are stopped too.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    work_dir = Path(tempfile.mkdtemp(prefix="inbox-intake-chaos-"))
    try:
        result = run_chaos(config, work_dir)
    except BaseException:
        print(f"logs and var/ folder kept in {work_dir}", file=sys.stderr)
        raise
    print(result.table())
    output = args.output or DEFAULT_RESULTS_PATH.with_stem(
        "chaos" if args.broker == "redis" else f"chaos-{args.broker}"
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(asdict(result), indent=2) + "\n")
    if args.keep or not result.clean:
        print(f"logs and var/ folder kept in {work_dir}")
    else:
        shutil.rmtree(work_dir)
    return 0 if result.clean else 1


if __name__ == "__main__":
    sys.exit(main())
