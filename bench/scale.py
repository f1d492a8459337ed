"""Scale benchmark: the relay's due-query, the admin's list and intake_status as the table grows.

A dedicated PostgreSQL database is loaded with COPY (psycopg's cursor.copy) at each size, 10k,
100k and 1M submissions by default: a site receiving a steady number a day, the newest now, with
one delivery attempt per sent or failed one, vacuumed and analysed as autovacuum would leave it.
Nothing is due, as on a quiet day (a few RETRYING wait for later). At each size, inside this
process (django.setup() on that database, Django's test Client logged in as a superuser):

- the relay: relay.relay_due_submissions() with nothing due, and its SQL's EXPLAIN;
- the admin's submission list, first page, without and with a status filter (every query it
  makes is timed and explained);
- intake_status: reporting.delivery_status(), and its queries' plans.

    .venv/bin/python -m bench.scale                                  # 10k, 100k, 1M (~1.5 min)
    .venv/bin/python -m bench.scale --sizes 10000 100000 --keep

It prints a table and writes bench/results/scale.json, with the plans of the largest size.
"""

import argparse
import os
import random
import re
import secrets
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from bench._stack import (
    copy_submissions,
    drop_database,
    migrate,
    recreate_database,
    stack_env,
)
from bench.report import RESULTS_DIR, machine_facts, markdown_table, write_json

#: Shares of the table in each final state; the rest is SENT.
STATUS_SHARES = {"failed": 0.015, "discarded": 0.005, "spam": 0.02}
#: Submissions waiting for a retry later on: pending, but not due.
RETRYING_NOT_DUE = 20
MESSAGE = "I would like a quote for the spring, for a garden of about 200 square metres. " * 2
REPEATS = {"relay": 20, "changelist": 5, "changelist_filtered": 5, "intake_status": 10}
#: "Near-constant": the largest size takes at most this many times as long as the smallest.
NEAR_CONSTANT = 2.0
SCAN_NODE = re.compile(
    r"((?:Parallel )?(?:Seq Scan|Index Only Scan|Index Scan|Bitmap Heap Scan|"
    r"Bitmap Index Scan)(?: Backward)?(?: using \S+)? on \S+)"
)
CHANGELIST = "/admin/inbox_intake/submission/"
EXPLAINABLE = ("SELECT", "UPDATE", "INSERT", "DELETE", "WITH")


@dataclass
class ScaleConfig:
    sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    per_day: int = 2000
    seed: int = 1
    database: str = "inbox_intake_bench_scale"
    postgres_url: str = "postgres://postgres@127.0.0.1:5432"
    keep_database: bool = False


@dataclass
class QueryTiming:
    sql: str
    ms: float
    #: The scans of its EXPLAIN (ANALYZE, BUFFERS) plan: which tables, which indexes.
    scans: list[str]
    plan: str = ""


@dataclass
class Measurement:
    name: str
    median_ms: float
    min_ms: float
    max_ms: float
    queries: list[QueryTiming]


@dataclass
class SizeResult:
    rows: int
    attempts: int
    load_seconds: float
    #: StatusTally.fold() after the load: the triggers wrote one tally row per row.
    fold_seconds: float
    vacuum_analyze_seconds: float
    table_mb: float
    measurements: dict[str, Measurement] = field(default_factory=dict)


@dataclass
class ScaleResult:
    machine: dict
    config: dict
    sizes: list[SizeResult] = field(default_factory=list)

    def growth(self) -> dict[str, float]:
        """How many times longer each measurement took at the largest size than the smallest."""
        smallest, largest = self.sizes[0], self.sizes[-1]
        return {
            name: round(largest.measurements[name].median_ms / measurement.median_ms, 1)
            for name, measurement in smallest.measurements.items()
        }

    def goals(self) -> dict[str, bool]:
        growth = self.growth()
        verdicts = {
            f"{name}_near_constant": factor <= NEAR_CONSTANT for name, factor in growth.items()
        }
        relay = self.sizes[-1].measurements["relay"]
        verdicts["relay_query_uses_an_index"] = all(
            "Seq Scan" not in scan for query in relay.queries for scan in query.scans
        )
        return verdicts

    def as_dict(self) -> dict:
        return asdict(self) | {"growth_smallest_to_largest": self.growth(), "goals": self.goals()}

    def table(self) -> str:
        names = list(self.sizes[0].measurements)
        rows = [
            [
                f"{size.rows:,}",
                f"{size.load_seconds:.0f} s",
                *(
                    f"{size.measurements[name].median_ms:.1f} ms "
                    f"({len(size.measurements[name].queries)} q)"
                    for name in names
                ),
            ]
            for size in self.sizes
        ]
        growth = self.growth()
        rows.append(["growth", "", *(f"× {growth[name]}" for name in names)])
        lines = [markdown_table(["submissions", "load", *names], rows), ""]
        largest = self.sizes[-1]
        lines.append(f"Slowest queries at {largest.rows:,} rows:")
        for name in names:
            slowest = max(largest.measurements[name].queries, key=lambda query: query.ms)
            lines.append(
                f"  {name}: {slowest.ms:.1f} ms · {', '.join(slowest.scans) or 'no scan'} · "
                f"{slowest.sql[:110]}"
            )
        lines.append(
            "goals: "
            + " · ".join(
                f"{goal}: {'met' if met else 'MISSED'}" for goal, met in self.goals().items()
            )
        )
        return "\n".join(lines)


# --- Loading -------------------------------------------------------------------------------------


#: One attempt per submission that was tried, written by the database from the submissions.
ATTEMPTS_FROM_SUBMISSIONS = """
INSERT INTO inbox_intake_deliveryattempt (started_at, finished_at, outcome, http_status,
    wix_error_code, request_id, error, submission_id)
SELECT created_at, created_at + interval '350 milliseconds',
    CASE status WHEN 'sent' THEN 'sent' WHEN 'failed' THEN 'permanent' ELSE 'transient' END,
    CASE status WHEN 'sent' THEN NULL WHEN 'failed' THEN 401 ELSE 503 END,
    CASE status WHEN 'failed' THEN 'UNAUTHENTICATED' ELSE '' END,
    CASE status WHEN 'sent' THEN '' ELSE md5(id::text) END,
    CASE status WHEN 'sent' THEN '' ELSE last_error END,
    id
FROM inbox_intake_submission WHERE attempt_count > 0 ORDER BY id
"""


def load(database_url: str, rows: int, config: ScaleConfig) -> tuple[int, float]:
    """Empty the tables, COPY `rows` submissions, add their attempts; return (attempts, s)."""
    started = time.monotonic()
    now = datetime.now(UTC)
    choose = random.Random(config.seed)
    seconds_apart = 86_400 / config.per_day

    def submissions():
        # A million rows: strings are formatted directly (JSON included: every value is plain
        # ASCII), which is several times faster than json.dumps and uuid.UUID for each.
        for index in range(rows):
            # Oldest first, so ids grow with time as they do in a live table.
            created = now - timedelta(seconds=(rows - index) * seconds_apart)
            status = _status(choose, index, rows)
            email = f"visitor-{index}@example.com"
            row = {
                "reference": f"{choose.getrandbits(128):032x}",
                "data": (
                    f'{{"first_name": "Visitor", "last_name": "No. {index}", "email": "{email}", '
                    f'"phone": "+1 555 {index % 10_000_000:07d}", "message": "{MESSAGE}"}}'
                ),
                "email": email,
                "name": f"Visitor No. {index}",
                "status": status,
                "created_at": created,
                "updated_at": created,
                "user_agent": "Mozilla/5.0 (X11; Linux x86_64) bench",
                "client_ip": "203.0.113.7",
            }
            if status in ("sent", "failed", "retrying"):
                row["attempt_count"] = row["attempts_since_retry"] = 1
            if status == "sent":
                row |= {
                    "sent_at": created + timedelta(seconds=2),
                    "wix_message_id": str(int(created.timestamp() * 1e6)),
                    "wix_contact_id": f"00000000-0000-4000-8000-{index:012d}",
                    "wix_conversation_id": f"00000000-0000-4000-9000-{index:012d}",
                }
            elif status == "failed":
                row["last_error"] = "POST /inbox/v2/messages: unauthorized · HTTP 401"
            elif status == "retrying":
                row |= {
                    "next_attempt_at": now + timedelta(hours=1),
                    "enqueued_at": created,
                    "last_error": "POST /inbox/v2/messages: HTTP 503",
                }
            yield row

    with psycopg.connect(database_url) as db:
        db.execute(
            "TRUNCATE inbox_intake_attachment, inbox_intake_deliveryattempt,"
            " inbox_intake_submission, inbox_intake_statustally RESTART IDENTITY"
        )
        copy_submissions(db, submissions())
        attempts = db.execute(ATTEMPTS_FROM_SUBMISSIONS).rowcount
    return attempts, time.monotonic() - started


def fold_tally(rows: int) -> float:
    """Fold the status tally as the periodic task would have, and check it against the table
    itself; return how long the fold took."""
    from django.db.models import Count

    from inbox_intake.models import StatusTally, Submission

    started = time.monotonic()
    StatusTally.fold()
    seconds = time.monotonic() - started
    counted = Submission.objects.order_by().values_list("status").annotate(n=Count("*"))
    tallied = {status: n for status, n in StatusTally.counts().items() if n}
    if tallied != dict(counted) or sum(tallied.values()) != rows:
        raise RuntimeError(f"The status tally {tallied} disagrees with the table {dict(counted)}")
    return seconds


def _status(choose: random.Random, index: int, rows: int) -> str:
    if index >= rows - RETRYING_NOT_DUE:
        return "retrying"
    draw, stacked = choose.random(), 0.0
    for status, share in STATUS_SHARES.items():
        stacked += share
        if draw < stacked:
            return status
    return "sent"


def vacuum_analyze(database_url: str) -> tuple[float, float]:
    """VACUUM ANALYZE as autovacuum would, in time (statistics, visibility map for index-only
    scans); return how long it took and the submissions table's size in MB."""
    started = time.monotonic()
    with psycopg.connect(database_url, autocommit=True) as db:
        db.execute("VACUUM ANALYZE inbox_intake_submission")
        db.execute("VACUUM ANALYZE inbox_intake_deliveryattempt")
        # The load left the tally a million dead rows long, with its folded rows at the end, so a
        # plain VACUUM cannot shrink it; a live table, folded every minute, never grows so long.
        db.execute("VACUUM FULL ANALYZE inbox_intake_statustally")
        size = db.execute("SELECT pg_total_relation_size('inbox_intake_submission')").fetchone()[0]
    return time.monotonic() - started, round(size / 2**20, 1)


# --- Measuring (inside Django) -------------------------------------------------------------------


def measure_all(repeats: dict[str, int], *, keep_plans: bool) -> dict[str, Measurement]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from inbox_intake.services import reporting
    from inbox_intake.services.relay import relay_due_submissions

    user_model = get_user_model()
    admin = user_model.objects.filter(username="bench-admin").first()
    if admin is None:
        admin = user_model.objects.create_superuser("bench-admin", "bench@example.com", None)
    client = Client()
    client.force_login(admin)

    def changelist(query: str = ""):
        def get():
            response = client.get(CHANGELIST + query)
            if response.status_code != 200:
                raise RuntimeError(f"The admin list answered {response.status_code}")

        return get

    def relay():
        if relay_due_submissions():
            raise RuntimeError("Something was due: the relay enqueued it")

    work = {
        "relay": relay,
        "changelist": changelist(),
        "changelist_filtered": changelist("?status__exact=failed"),
        "intake_status": reporting.delivery_status,
    }
    return {
        name: _measure(name, function, repeats[name], keep_plans=keep_plans)
        for name, function in work.items()
    }


def _measure(name: str, function, repeat: int, *, keep_plans: bool) -> Measurement:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        function()  # warms caches, and shows which queries one call makes
    queries = [
        _explained(query["sql"], keep_plan=keep_plans)
        for query in captured.captured_queries
        # Transaction control (BEGIN, SAVEPOINT…) has no plan.
        if query["sql"].startswith(EXPLAINABLE)
    ]
    durations = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        durations.append((time.perf_counter() - started) * 1000)
    return Measurement(
        name=name,
        median_ms=round(statistics.median(durations), 2),
        min_ms=round(min(durations), 2),
        max_ms=round(max(durations), 2),
        queries=queries,
    )


def _explained(sql: str, *, keep_plan: bool) -> QueryTiming:
    """The query's own time and plan, from EXPLAIN (ANALYZE, BUFFERS), in a transaction that is
    rolled back (the relay's SELECT … FOR UPDATE takes locks, the session's UPDATEs write)."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    executed = re.search(r"Execution Time: ([\d.]+) ms", plan)
    return QueryTiming(
        sql=sql,
        ms=float(executed.group(1)) if executed else 0.0,
        scans=sorted(set(SCAN_NODE.findall(plan))),
        plan=plan if keep_plan else "",
    )


# --- The run -------------------------------------------------------------------------------------


def run_scale(config: ScaleConfig, work_dir: Path) -> ScaleResult:
    result = ScaleResult(machine=machine_facts(), config=asdict(config))
    database_url = recreate_database(config.postgres_url, config.database)
    try:
        env = stack_env(
            DJANGO_SETTINGS_MODULE="site_project.settings",
            DATABASE_URL=database_url,
            # The relay finds nothing due, so nothing is ever published: no broker is needed.
            CELERY_BROKER_URL="memory://",
            INBOX_INTAKE_VAR_DIR=str(work_dir / "var"),
            SECRET_KEY=secrets.token_urlsafe(50),
            ALLOWED_HOSTS="testserver",
        )
        migrate(env)
        os.environ.update(env)
        import django

        django.setup()
        from django.db import connection

        for size in config.sizes:
            connection.close()
            attempts, load_seconds = load(database_url, size, config)
            fold_seconds = fold_tally(size)
            vacuum_seconds, table_mb = vacuum_analyze(database_url)
            _report(f"{size:,} rows loaded in {load_seconds:.0f} s ({table_mb} MB)")
            measurements = measure_all(REPEATS, keep_plans=size == config.sizes[-1])
            result.sizes.append(
                SizeResult(
                    rows=size,
                    attempts=attempts,
                    load_seconds=round(load_seconds, 1),
                    fold_seconds=round(fold_seconds, 1),
                    vacuum_analyze_seconds=round(vacuum_seconds, 1),
                    table_mb=table_mb,
                    measurements=measurements,
                )
            )
            _report(
                f"{size:,} rows: "
                + " · ".join(f"{name} {m.median_ms:.1f} ms" for name, m in measurements.items())
            )
        connection.close()
    finally:
        if not config.keep_database:
            drop_database(config.postgres_url, config.database)
    return result


def _report(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    defaults = ScaleConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(defaults.sizes))
    parser.add_argument(
        "--per-day", type=int, default=defaults.per_day, help="submissions received a day"
    )
    parser.add_argument(
        "--keep", action="store_true", help=f"keep the database ({defaults.database})"
    )
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "scale.json")
    args = parser.parse_args(argv)
    config = ScaleConfig(
        sizes=tuple(sorted(args.sizes)), per_day=args.per_day, keep_database=args.keep
    )
    # SIGTERM stops the run like Ctrl-C does, so the database is dropped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="inbox-intake-bench-scale-") as work_dir:
        result = run_scale(config, Path(work_dir))
    print(result.table())
    elapsed = round(time.monotonic() - started)
    print(f"took {elapsed} s")
    write_json(args.output, result.as_dict() | {"elapsed_seconds": elapsed})
    return 0


if __name__ == "__main__":
    sys.exit(main())
