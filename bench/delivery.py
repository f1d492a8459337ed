"""Delivery benchmark: how fast a backlog drains, how many Wix calls each message costs, and that
the shared rate limiter keeps the drain just under Wix's limit without a single 429.

A backlog of M submissions is written straight into PostgreSQL (COPY; status QUEUED, never
enqueued), as after a broker outage or a "retry all failed". Celery beat's relay enqueues them
and real Celery workers deliver them over a private Redis to the Wix sandbox, served by gunicorn
with an added latency L on every call.

1. Throughput: for each worker concurrency C and sandbox latency L, M new submitters (cold: 3
   calls each, create contact, get-or-create conversation, send) then M repeat submitters (warm:
   their contact and conversation are cached, 1 call). Messages per second against the ideal
   C / (calls × L). The client-side limiter stays on with a budget too large to bind, so its
   cost is counted; the sandbox has no limit.
2. Calls per message, from the sandbox's own call log (ApiCall): goal 3 cold, ≤ 1.05 warm.
   Then one concurrency at the lowest latency again over RabbitMQ (a virtual host of its own on
   the machine's RabbitMQ) instead of Redis, to show the other broker beside it.
3. Rate limit: a larger cold backlog with the client's limiter and the sandbox's limit set to
   the same budget (Wix's 200 a minute scaled up so a run takes a minute or two, not an hour):
   the calls of every sliding minute against the budget, and the sandbox's 429s (goal: none).

    .venv/bin/python -m bench.delivery                                  # ~4 minutes
    .venv/bin/python -m bench.delivery --messages 5000 --limited-messages 5000   # full size

It prints a table and writes bench/results/delivery.json.
"""

import argparse
import bisect
import json
import sys
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from bench._stack import BenchStack, ManagedProcess, Tables, copy_submissions
from bench.report import RESULTS_DIR, machine_facts, markdown_table, work_folder, write_json

#: Settings of every process. The relay runs every second and enqueues up to 500 at a time, so
#: it never limits the drain; everything else is production's default.
STACK_SETTINGS = {
    "INBOX_INTAKE_RELAY_INTERVAL": "1",
    "INBOX_INTAKE_RELAY_BATCH_SIZE": "500",
}
#: A client-side budget that never binds: the limiter still counts every call in the database.
UNBINDING_BUDGET = "1000000"
#: Wix calls a message costs: a new submitter's contact, conversation and send; a repeat
#: submitter's send alone (the rest is cached). The goals allow warm runs a rare cache refresh.
IDEAL_CALLS = {"cold": 3, "warm": 1}
CALL_GOALS = {"cold": 3.0, "warm": 1.05}
#: The drain "sits just under" the limit when a sliding minute holds at least this share of it.
JUST_UNDER = 0.85
PENDING = ("queued", "sending", "retrying")
#: What a Celery worker logs when it receives a delivery task (the relay's own tasks share it).
TASK_RECEIVED = ("deliver_submission[", "] received")


@dataclass
class DeliveryConfig:
    messages: int = 100
    concurrencies: tuple[int, ...] = (4, 16)
    latencies: tuple[int, ...] = (0, 50, 200)
    limited_messages: int = 450
    limited_per_minute: int = 1200
    limited_concurrency: int = 8
    #: One cold and one warm drain over RabbitMQ too (a virtual host of its own), beside Redis.
    rabbitmq_drain: bool = True
    limited_latency: int = 50
    database: str = "inbox_intake_bench_delivery"
    postgres_url: str = "postgres://postgres@127.0.0.1:5432"


@dataclass
class Drain:
    kind: str  # "cold" or "warm"
    broker: str  # "redis" or "rabbitmq"
    concurrency: int
    sandbox_latency_ms: int
    messages: int
    sent: int
    #: From the backlog's commit until its last message was sent.
    drain_seconds: float
    #: Between the first and the last message sent: the steady rate, without the relay's tick.
    messages_per_second: float
    ideal_messages_per_second: float | None
    ratio_to_ideal: float | None
    api_calls: int
    calls_per_message: float
    call_statuses: dict[str, int]
    #: Celery task runs per message: more than 1 when the relay enqueued a row again.
    task_runs_per_message: float | None
    attempts_per_message: float
    #: What each message took beyond waiting for the sandbox: C / rate − calls × L.
    overhead_ms_per_message: float | None
    #: CPU of the Celery worker (all its processes), and of the sandbox's gunicorn (what Wix's
    #: servers would spend), per message. PostgreSQL's is not counted.
    worker_cpu_ms_per_message: float
    sandbox_cpu_ms_per_message: float


@dataclass
class RateLimitRun:
    per_minute: int
    concurrency: int
    sandbox_latency_ms: int
    drain: Drain
    #: The most calls the sandbox received in any 60-second window.
    busiest_sliding_minute: int
    calls_per_minute_mean: float
    sandbox_429s: int


@dataclass
class DeliveryResult:
    machine: dict
    config: dict
    settings: dict
    drains: list[Drain] = field(default_factory=list)
    rate_limit: RateLimitRun | None = None
    problems: list[str] = field(default_factory=list)

    def goals(self) -> dict[str, bool]:
        def calls_within(kind: str) -> bool:
            runs = [drain for drain in self.drains if drain.kind == kind]
            if self.rate_limit and kind == "cold":
                runs.append(self.rate_limit.drain)
            return all(drain.calls_per_message <= CALL_GOALS[kind] for drain in runs)

        limited = self.rate_limit
        return {
            "cold_calls_per_message_3": calls_within("cold"),
            "warm_calls_per_message_at_most_1.05": calls_within("warm"),
            "rate_limit_never_exceeded": bool(
                limited and limited.busiest_sliding_minute <= limited.per_minute
            ),
            "no_429s": bool(limited and limited.sandbox_429s == 0),
            "drain_just_under_the_limit": bool(
                limited and limited.busiest_sliding_minute >= JUST_UNDER * limited.per_minute
            ),
            "every_message_sent": not self.problems,
        }

    def as_dict(self) -> dict:
        return asdict(self) | {"goals": self.goals()}

    def tables(self) -> str:
        rows = [
            [
                drain.broker,
                drain.concurrency,
                f"+{drain.sandbox_latency_ms} ms",
                drain.kind,
                drain.messages,
                f"{drain.messages_per_second:.1f}",
                "–"
                if drain.ideal_messages_per_second is None
                else f"{drain.ideal_messages_per_second:.1f}",
                "–" if drain.ratio_to_ideal is None else f"{drain.ratio_to_ideal:.2f}",
                "–"
                if drain.overhead_ms_per_message is None
                else f"{drain.overhead_ms_per_message:.0f} ms",
                f"{drain.worker_cpu_ms_per_message:.0f} ms",
                f"{drain.sandbox_cpu_ms_per_message:.0f} ms",
                f"{drain.calls_per_message:.2f}",
                "–" if drain.task_runs_per_message is None else drain.task_runs_per_message,
                f"{drain.drain_seconds:.1f} s",
            ]
            for drain in self.drains
        ]
        headers = ["broker", "C", "sandbox", "kind", "messages", "msg/s", "ideal", "÷ ideal"]
        headers += ["overhead"]
        headers += ["worker CPU", "sandbox CPU", "calls/msg", "tasks/msg", "drain"]
        lines = [markdown_table(headers, rows)]
        if self.rate_limit:
            limited = self.rate_limit
            drain = limited.drain
            lines += [
                "",
                markdown_table(
                    ["budget", "C", "sandbox", "messages", "calls", "busiest minute"]
                    + ["mean calls/min", "msg/s", "429s", "tasks/msg", "drain"],
                    [
                        [
                            f"{limited.per_minute}/min",
                            limited.concurrency,
                            f"+{limited.sandbox_latency_ms} ms",
                            drain.messages,
                            drain.api_calls,
                            limited.busiest_sliding_minute,
                            f"{limited.calls_per_minute_mean:.0f}",
                            f"{drain.messages_per_second:.2f}",
                            limited.sandbox_429s,
                            drain.task_runs_per_message,
                            f"{drain.drain_seconds:.1f} s",
                        ]
                    ],
                ),
            ]
        lines.append(
            "goals: "
            + " · ".join(
                f"{goal}: {'met' if met else 'MISSED'}" for goal, met in self.goals().items()
            )
        )
        lines += [f"PROBLEM: {problem}" for problem in self.problems]
        return "\n".join(lines)


class Backlog:
    """The benchmark's view of one stack's database: it queues submissions and watches them."""

    def __init__(self, database_url: str, tables: Tables):
        self.db = psycopg.connect(database_url, autocommit=True)
        self.tables = tables
        self.submissions = tables["inbox_intake.Submission"]
        self.api_calls = tables["wix_sandbox.ApiCall"]

    def close(self) -> None:
        self.db.close()

    def queue(self, emails: list[str]) -> tuple[int, int, float]:
        """Write one QUEUED submission per email, never enqueued, so the relay picks them up;
        return the first and last id and when they were committed (epoch seconds)."""
        first_id = self._max_id(self.submissions) + 1
        now = datetime.now(UTC)
        with self.db.transaction():
            count = copy_submissions(
                self.db,
                self.tables,
                (
                    {
                        "reference": uuid.uuid4(),
                        "data": json.dumps(
                            {
                                "first_name": "Backlog",
                                "last_name": f"No. {index}",
                                "email": email,
                                "phone": f"+1 555 {index:07d}",
                                "message": f"Backlog message {index}: please call me back.",
                            }
                        ),
                        "email": email,
                        "name": f"Backlog No. {index}",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for index, email in enumerate(emails)
                ),
            )
        return first_id, first_id + count - 1, time.time()

    def wait_drained(self, first_id: int, last_id: int, timeout: float) -> dict[str, int]:
        """Poll until none of the rows is pending (or `timeout`); return their statuses."""
        deadline = time.monotonic() + timeout
        while True:
            statuses = dict(
                self.db.execute(
                    sql.SQL(
                        "SELECT status, count(*) FROM {} WHERE id BETWEEN %s AND %s GROUP BY 1"
                    ).format(self.submissions),
                    [first_id, last_id],
                ).fetchall()
            )
            if not any(statuses.get(status) for status in PENDING):
                return statuses
            if time.monotonic() > deadline:
                return statuses
            time.sleep(0.25)

    def sent_times(self, first_id: int, last_id: int) -> tuple[float, float, int, int]:
        """First and last sent_at (epoch seconds), how many were sent, and their attempts."""
        first, last, sent, attempts = self.db.execute(
            sql.SQL(
                "SELECT extract(epoch FROM min(sent_at)), extract(epoch FROM max(sent_at)), "
                "count(sent_at), sum(attempt_count) FROM {} WHERE id BETWEEN %s AND %s"
            ).format(self.submissions),
            [first_id, last_id],
        ).fetchone()
        return float(first or 0), float(last or 0), sent, int(attempts or 0)

    def calls_since(self, first_call_id: int) -> tuple[list[float], Counter]:
        """Arrival times (epoch seconds) and statuses of the sandbox's calls after an id."""
        rows = self.db.execute(
            sql.SQL(
                "SELECT extract(epoch FROM created), status FROM {} WHERE id >= %s ORDER BY created"
            ).format(self.api_calls),
            [first_call_id],
        ).fetchall()
        return [float(arrived) for arrived, _ in rows], Counter(str(status) for _, status in rows)

    def next_call_id(self) -> int:
        return self._max_id(self.api_calls) + 1

    def _max_id(self, table: sql.Identifier) -> int:
        query = sql.SQL("SELECT coalesce(max(id), 0) FROM {}").format(table)
        return self.db.execute(query).fetchone()[0]


class DeliveryBenchmark:
    def __init__(self, config: DeliveryConfig, work_dir: Path):
        self.config = config
        self.work_dir = work_dir
        self.result = DeliveryResult(
            machine=machine_facts(),
            config=asdict(config),
            settings=STACK_SETTINGS
            | {
                "INBOX_INTAKE_WIX_REQUESTS_PER_MINUTE": f"{UNBINDING_BUDGET} (phases 1-2), "
                f"{config.limited_per_minute} (phase 3)",
                "WIX_SANDBOX_RATE_LIMIT_PER_MINUTE": f"0 (phases 1-2), "
                f"{config.limited_per_minute} (phase 3)",
                "web": "gunicorn -k gthread -w 2 --threads 16 (the sandbox)",
                "workers": "one celery worker node, prefork pool of C processes",
            },
        )

    def run(self) -> DeliveryResult:
        self._throughput()
        if self.config.rabbitmq_drain:
            self._throughput(broker="rabbitmq")
        self._rate_limited()
        return self.result

    # --- Phases ---------------------------------------------------------------------------------

    def _throughput(self, *, broker: str = "redis") -> None:
        """Every concurrency at every latency over Redis; over RabbitMQ, the first concurrency at
        the lowest latency, to show the other broker beside it."""
        config = self.config
        stack = self._stack(
            f"throughput-{broker}",
            STACK_SETTINGS | {"INBOX_INTAKE_WIX_REQUESTS_PER_MINUTE": UNBINDING_BUDGET},
            broker=broker,
        )
        concurrencies, latencies = config.concurrencies, config.latencies
        if broker != "redis":
            concurrencies, latencies = concurrencies[:1], (min(latencies),)
        try:
            stack.start()
            stack.start_beat()
            backlog = Backlog(stack.database_url, stack.tables)
            try:
                for concurrency in concurrencies:
                    workers = stack.start_workers(1, concurrency=concurrency)
                    # Unmeasured: each new worker process's first tasks open its connections.
                    _set_latency(stack, 0)
                    warm_up = [
                        f"warm-up-c{concurrency}-{n}@bench.example" for n in range(4 * concurrency)
                    ]
                    first_id, last_id, _ = backlog.queue(warm_up)
                    backlog.wait_drained(first_id, last_id, _drain_timeout(len(warm_up), None))
                    for latency in latencies:
                        _set_latency(stack, latency)
                        tag = f"{broker}-c{concurrency}-l{latency}"
                        emails = [
                            f"cold-{tag}-{index}@bench.example" for index in range(config.messages)
                        ]
                        for kind in ("cold", "warm"):
                            drain = self._drain(
                                stack, backlog, workers, emails, kind, concurrency, latency
                            )
                            self.result.drains.append(drain)
                    stack.stop_processes(workers)
            finally:
                backlog.close()
        finally:
            stack.stop()

    def _rate_limited(self) -> None:
        config = self.config
        budget = str(config.limited_per_minute)
        # The same budget on both sides: the client's limiter, and Wix's own (the sandbox's 429s).
        stack = self._stack(
            "rate-limit",
            STACK_SETTINGS
            | {
                "INBOX_INTAKE_WIX_REQUESTS_PER_MINUTE": budget,
                "WIX_SANDBOX_RATE_LIMIT_PER_MINUTE": budget,
            },
        )
        try:
            stack.start()
            stack.start_beat()
            _set_latency(stack, config.limited_latency)
            workers = stack.start_workers(1, concurrency=config.limited_concurrency)
            backlog = Backlog(stack.database_url, stack.tables)
            try:
                first_call = backlog.next_call_id()
                emails = [
                    f"limited-{index}@bench.example" for index in range(config.limited_messages)
                ]
                drain = self._drain(
                    stack,
                    backlog,
                    workers,
                    emails,
                    "cold",
                    config.limited_concurrency,
                    config.limited_latency,
                    per_minute=config.limited_per_minute,
                )
                arrivals, statuses = backlog.calls_since(first_call)
            finally:
                backlog.close()
        finally:
            stack.stop()
        span_minutes = (arrivals[-1] - arrivals[0]) / 60 if len(arrivals) > 1 else 0
        self.result.rate_limit = RateLimitRun(
            per_minute=config.limited_per_minute,
            concurrency=config.limited_concurrency,
            sandbox_latency_ms=config.limited_latency,
            drain=drain,
            busiest_sliding_minute=busiest_minute(arrivals),
            calls_per_minute_mean=round(len(arrivals) / span_minutes, 1) if span_minutes else 0,
            sandbox_429s=statuses.get("429", 0),
        )
        _report(
            f"rate-limited drain: {busiest_minute(arrivals)} calls in the busiest sliding minute "
            f"(budget {config.limited_per_minute}), {statuses.get('429', 0)} 429s"
        )

    # --- One drain ------------------------------------------------------------------------------

    def _drain(
        self,
        stack: BenchStack,
        backlog: Backlog,
        workers: list[ManagedProcess],
        emails: list[str],
        kind: str,
        concurrency: int,
        latency: int,
        per_minute: int | None = None,
    ) -> Drain:
        """Queue one backlog, wait until it is delivered, and measure; `per_minute` is the rate
        limit in force, if it binds."""
        first_call = backlog.next_call_id()
        tasks_before = _tasks_received(workers)
        cpu_before = [process.cpu_seconds() for process in (*workers, stack.web)]
        first_id, last_id, committed = backlog.queue(emails)
        timeout = _drain_timeout(len(emails), per_minute)
        statuses = backlog.wait_drained(first_id, last_id, timeout)
        # Copies the relay enqueued again (rows queued longer than its grace period) are still
        # on the broker: let the workers take them too, so that they are counted.
        _wait_for_empty_queue(stack)
        cpu = [
            process.cpu_seconds() - before
            for process, before in zip((*workers, stack.web), cpu_before, strict=True)
        ]
        first_sent, last_sent, sent, attempts = backlog.sent_times(first_id, last_id)
        _, call_statuses = backlog.calls_since(first_call)
        calls = sum(call_statuses.values())
        count = len(emails)
        if sent != count:
            self.result.problems.append(
                f"{kind} C={concurrency} +{latency} ms: {sent} of {count} sent ({statuses})"
            )
        rate = (sent - 1) / (last_sent - first_sent) if sent > 1 and last_sent > first_sent else 0
        ideal = concurrency / (IDEAL_CALLS[kind] * latency / 1000) if latency else None
        waiting = IDEAL_CALLS[kind] * latency
        drain = Drain(
            kind=kind,
            broker=stack.broker,
            concurrency=concurrency,
            sandbox_latency_ms=latency,
            messages=count,
            sent=sent,
            drain_seconds=round(last_sent - committed, 2) if sent else 0.0,
            messages_per_second=round(rate, 2),
            ideal_messages_per_second=None if ideal is None else round(ideal, 2),
            ratio_to_ideal=None if ideal is None else round(rate / ideal, 2),
            api_calls=calls,
            calls_per_message=round(calls / count, 3),
            call_statuses=dict(call_statuses),
            task_runs_per_message=(
                None
                if tasks_before is None
                else round((_tasks_received(workers) - tasks_before) / count, 2)
            ),
            attempts_per_message=round(attempts / count, 3),
            overhead_ms_per_message=(
                round(concurrency / rate * 1000 - waiting, 1) if rate else None
            ),
            worker_cpu_ms_per_message=round(sum(cpu[:-1]) / count * 1000, 1),
            sandbox_cpu_ms_per_message=round(cpu[-1] / count * 1000, 1),
        )
        _report(
            f"C={concurrency} +{latency} ms {kind}: {drain.messages_per_second} msg/s, "
            f"{drain.calls_per_message} calls/msg, drained in {drain.drain_seconds} s"
        )
        return drain

    def _stack(self, name: str, settings: dict[str, str], broker: str = "redis") -> BenchStack:
        return BenchStack(
            self.work_dir / name,
            database=self.config.database,
            postgres_url=self.config.postgres_url,
            settings=settings,
            broker=broker,
        )


def _drain_timeout(messages: int, per_minute: int | None) -> float:
    """How long a drain may take before it counts as stuck: generous, and long enough for the
    full-size runs (a second a message; at a rate limit, twice what its budget allows)."""
    if per_minute:
        return 300 + 2 * messages * IDEAL_CALLS["cold"] * 60 / per_minute
    return 300 + messages


def busiest_minute(arrivals: list[float]) -> int:
    """The most arrivals (sorted epoch seconds) within any 60-second window."""
    return max(
        (bisect.bisect_left(arrivals, start + 60) - index for index, start in enumerate(arrivals)),
        default=0,
    )


def _wait_for_empty_queue(stack: BenchStack, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while stack.queue_length() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)  # the last task taken off the queue finishes (a no-op claim)


def _set_latency(stack: BenchStack, latency: int) -> None:
    stack.manage("wix_sandbox_faults", "set", json.dumps({"*": {"latency_ms": latency}}))


def _tasks_received(workers: list[ManagedProcess]) -> int | None:
    """How many deliver tasks the workers have received, from their logs (Celery logs each)."""
    try:
        logs = [worker.log_path.read_text(errors="replace") for worker in workers]
    except OSError:
        return None
    return sum(
        all(marker in line for marker in TASK_RECEIVED) for log in logs for line in log.splitlines()
    )


def _report(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    defaults = DeliveryConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--messages", type=int, default=defaults.messages, help="backlog of each throughput run"
    )
    parser.add_argument(
        "--concurrencies", type=int, nargs="+", default=list(defaults.concurrencies)
    )
    parser.add_argument(
        "--latencies",
        type=int,
        nargs="+",
        default=list(defaults.latencies),
        help="the sandbox's added latency, ms",
    )
    parser.add_argument("--limited-messages", type=int, default=defaults.limited_messages)
    parser.add_argument(
        "--per-minute",
        type=int,
        default=defaults.limited_per_minute,
        help="the rate-limited run's budget, on both sides (Wix: 200)",
    )
    parser.add_argument("--no-rabbitmq", action="store_true", help="skip the drains over RabbitMQ")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "delivery.json")
    args = parser.parse_args(argv)
    config = DeliveryConfig(
        messages=args.messages,
        concurrencies=tuple(args.concurrencies),
        latencies=tuple(args.latencies),
        limited_messages=args.limited_messages,
        limited_per_minute=args.per_minute,
        rabbitmq_drain=not args.no_rabbitmq,
    )
    started = time.monotonic()
    with work_folder("inbox-intake-bench-delivery-") as (work_dir, keep):
        result = DeliveryBenchmark(config, work_dir).run()
        keep["keep"] = bool(result.problems)
    print(result.tables())
    elapsed = round(time.monotonic() - started)
    print(f"took {elapsed} s")
    write_json(args.output, result.as_dict() | {"elapsed_seconds": elapsed})
    return 0 if not result.problems else 1


if __name__ == "__main__":
    sys.exit(main())
