"""The real parts of an Inbox Intake deployment, started and stopped for a benchmark: a private
Redis, a fresh PostgreSQL database, gunicorn (serving the form and the Wix sandbox), Celery workers
and Celery beat.

Every process runs in a session of its own, so a signal to its process group reaches the children
too (gunicorn's and Celery's worker processes): killing one kills it the way a crashed machine
would, and stopping it leaves nothing behind.
"""

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis
import requests
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
QUEUE = "inbox_intake"
#: Variables of the parent's environment (a test run, a developer's shell) that would point the
#: stack's processes somewhere else. Prefixes are dropped whole: the stack sets its own values.
INHERITED_PREFIXES = ("WIX_", "INBOX_INTAKE_", "CELERY_")
INHERITED_NAMES = ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "PORT", "SECRET_KEY", "DEBUG")
#: Blank, so that neither the environment nor a `.env` file can send the stack to a real Wix site.
WIX_CREDENTIALS = (
    "WIX_API_KEY",
    "WIX_SITE_ID",
    "WIX_ACCOUNT_ID",
    "WIX_APP_ID",
    "WIX_APP_SECRET",
    "WIX_APP_INSTANCE_ID",
)


class StackError(RuntimeError):
    """A part of the stack is missing or would not start; the message says which and why."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stack_env(**values: str) -> dict[str, str]:
    """The parent's environment without its Inbox Intake, Celery and Wix settings, plus `values`.

    Every stack delivers to the sandbox its web server serves (sandbox mode, chosen explicitly
    since its processes run with DEBUG off)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(INHERITED_PREFIXES) and name not in INHERITED_NAMES
    }
    return env | dict.fromkeys(WIX_CREDENTIALS, "") | {"INBOX_INTAKE_WIX_SANDBOX": "true"} | values


@dataclass
class ManagedProcess:
    """One long-running process of the stack, with a log file per start under `log_dir`."""

    name: str
    command: list[str]
    env: dict[str, str]
    log_dir: Path
    #: Text the process writes to its log once it is ready.
    ready_marker: str
    starts: int = 0
    popen: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.{self.starts}.log"

    @property
    def pid(self) -> int:
        return self.popen.pid

    def start(self) -> None:
        self.starts += 1
        with self.log_path.open("w") as log:
            self.popen = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def is_ready(self) -> bool:
        return self.ready_marker in self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise StackError(
                    f"{self.name} exited with code {self.popen.returncode}; "
                    f"its log ({self.log_path}) ends:\n{self.log_tail()}"
                )
            if self.is_ready():
                return
            time.sleep(0.1)
        raise StackError(f"{self.name} was not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the processes of its group still running:
        the process and its children (gunicorn's or Celery's workers). Linux only (/proc)."""
        return sum(p.cpu_seconds for p in _processes() if p.group == self.popen.pid)

    def kill(self) -> None:
        """SIGKILL the process and its children at once: nothing gets to clean up."""
        self._signal_group(signal.SIGKILL)
        self.popen.wait()

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left after `timeout` seconds.

        The group is signalled even when its leader has exited, so orphaned children go too.
        """
        if self.popen is None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.popen.wait()
        # Children that outlived their leader (a pool process finishing a task) stop here.
        self._signal_group(signal.SIGKILL)

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signum)


@dataclass(frozen=True)
class _ProcessTimes:
    pid: int
    name: str
    parent: int
    group: int
    #: user + system time of the process itself, and of its children it has reaped.
    cpu_seconds: float
    reaped_children_cpu_seconds: float


def _processes() -> list[_ProcessTimes]:
    """Every process's CPU times, from /proc (Linux only)."""
    tick = os.sysconf("SC_CLK_TCK")
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended meanwhile
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        # Fields after the command name (which may hold spaces): state, ppid, pgrp, …
        fields = stat.rsplit(")", 1)[1].split()
        found.append(
            _ProcessTimes(
                pid=int(entry.name),
                name=name,
                parent=int(fields[1]),
                group=int(fields[2]),
                cpu_seconds=(int(fields[11]) + int(fields[12])) / tick,
                reaped_children_cpu_seconds=(int(fields[13]) + int(fields[14])) / tick,
            )
        )
    return found


def postgresql_cpu_seconds() -> float:
    """CPU time used so far by the machine's PostgreSQL server: its running processes, plus the
    backends that have ended (a connection's backend exits with it), which its postmaster has
    reaped. Linux only (/proc)."""
    processes = _processes()
    postgres = {p.pid for p in processes if p.name.startswith("postgres")}
    return sum(
        p.cpu_seconds + (0 if p.parent in postgres else p.reaped_children_cpu_seconds)
        for p in processes
        if p.pid in postgres
    )


def redis_process(port: int, log_dir: Path, env: dict[str, str]) -> ManagedProcess:
    """A Redis of our own: nothing saved, so a restart brings it back empty."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise StackError("redis-server is not installed (Debian: apt-get install redis-server).")
    command = [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(log_dir)]
    return ManagedProcess("redis", command, env, log_dir, "Ready to accept connections")


@dataclass
class RabbitVhost:
    """A virtual host of its own on the machine's RabbitMQ (127.0.0.1:5672, guest/guest): its
    queues and connections are this run's alone, and deleting it empties them, the way a Redis of
    our own restarts empty, without touching the RabbitMQ service itself."""

    name: str

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:5672/{self.name}"

    def create(self) -> None:
        _rabbitmqctl("add_vhost", self.name)
        _rabbitmqctl("set_permissions", "-p", self.name, "guest", ".*", ".*", ".*")

    def delete(self) -> None:
        """Delete it, with every queue and message in it; its clients are disconnected."""
        _rabbitmqctl("delete_vhost", self.name)

    def queue_length(self, queue: str) -> int:
        """Messages ready in `queue` (0 if there is no such queue)."""
        listing = _rabbitmqctl("list_queues", "-p", self.name, "--no-table-headers", "-q")
        for line in listing.splitlines():
            name, _, count = line.partition("\t")
            if name == queue:
                return int(count)
        return 0


@contextlib.contextmanager
def rabbitmq_vhost(name: str):
    vhost = RabbitVhost(name)
    with contextlib.suppress(StackError):
        vhost.delete()  # left over from a run that was killed
    vhost.create()
    try:
        yield vhost
    finally:
        vhost.delete()


def _rabbitmqctl(*args: str) -> str:
    executable = shutil.which("rabbitmqctl")
    if executable is None:
        raise StackError("rabbitmqctl is not installed (Debian: apt-get install rabbitmq-server).")
    done = subprocess.run(
        [executable, *args], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise StackError(f"rabbitmqctl {' '.join(args)} failed: {done.stderr or done.stdout}")
    return done.stdout


def web_process(
    port: int, log_dir: Path, env: dict[str, str], *, workers: int = 2, threads: int = 16
) -> ManagedProcess:
    command = [PYTHON, "-m", "gunicorn", "site_project.wsgi", "-b", f"127.0.0.1:{port}"]
    command += ["-k", "gthread", "--threads", str(threads), "-w", str(workers)]
    # gunicorn's control socket has one path for every server on the machine: two stacks at
    # once (a benchmark beside the chaos test) would take it from each other.
    command += ["--graceful-timeout", "5", "--no-control-socket"]
    return ManagedProcess("web", command, env, log_dir, "Booting worker")


def worker_process(
    number: int,
    log_dir: Path,
    env: dict[str, str],
    *,
    concurrency: int = 4,
    node_name: str = "chaos-worker",
) -> ManagedProcess:
    command = [PYTHON, "-m", "celery", "-A", "site_project", "worker", "-l", "info"]
    command += ["--concurrency", str(concurrency), "-Q", QUEUE, "-n", f"{node_name}-{number}@%h"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    return ManagedProcess(f"worker-{number}", command, env, log_dir, " ready.")


def beat_process(log_dir: Path, env: dict[str, str]) -> ManagedProcess:
    command = [PYTHON, "-m", "celery", "-A", "site_project", "beat", "-l", "info"]
    return ManagedProcess("beat", command, env, log_dir, "beat: Starting")


def recreate_database(server_url: str, name: str) -> str:
    """Drop and create database `name` on the PostgreSQL server; return its URL for Django."""
    with _maintenance_connection(server_url) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return f"{server_url.rstrip('/')}/{name}"


def drop_database(server_url: str, name: str) -> None:
    with _maintenance_connection(server_url) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _maintenance_connection(server_url: str) -> psycopg.Connection:
    try:
        return psycopg.connect(server_url, dbname="postgres", autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        raise StackError(f"PostgreSQL is not reachable at {server_url}: {error}") from error


def migrate(env: dict[str, str]) -> None:
    done = subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode:
        raise StackError(f"manage.py migrate failed:\n{done.stdout}{done.stderr}")


@dataclass(frozen=True)
class Tables:
    """The database's tables by model label (`tables["inbox_intake.Submission"]`), quoted for
    psycopg's `sql` and read from each model's `_meta.db_table`: the benchmarks' SQL never spells
    a table's name, so renaming a model or its table breaks the benchmark where it names it."""

    names: dict[str, str]

    def __getitem__(self, label: str) -> sql.Identifier:
        return sql.Identifier(self.names[label])

    @classmethod
    def from_django(cls) -> "Tables":
        """In a process where Django is set up."""
        from django.apps import apps

        return cls({model._meta.label: model._meta.db_table for model in apps.get_models()})

    @classmethod
    def of(cls, env: dict[str, str]) -> "Tables":
        """As a Django of the stack's settings (`env`) names them: the benchmark itself does
        not run Django."""
        script = (
            "import django, json; django.setup(); from bench._stack import Tables; "
            "print(json.dumps(Tables.from_django().names))"
        )
        done = subprocess.run(
            [PYTHON, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        if done.returncode:
            raise StackError(f"Reading the models' tables failed:\n{done.stderr}")
        return cls(json.loads(done.stdout.splitlines()[-1]))


def wait_for_url(url: str, timeout: float = 30.0) -> None:
    """Wait until `url` answers 200: every web worker may take a moment after gunicorn's first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise StackError(f"The web server did not serve {url} within {timeout:.0f} s")


@dataclass
class BenchStack:
    """Redis, a fresh PostgreSQL database and gunicorn serving the site and the Wix sandbox: what
    every benchmark starts with. Celery workers and beat are started on demand, with settings of
    their own if need be; `stop()` ends every process started and drops the database."""

    work_dir: Path
    database: str
    postgres_url: str = "postgres://postgres@127.0.0.1:5432"
    #: Environment variables of every process (INBOX_INTAKE_*, WIX_SANDBOX_*…).
    settings: dict[str, str] = field(default_factory=dict)
    web_workers: int = 2
    web_threads: int = 16
    root_urlconf: str = "site_project.urls"
    #: Django's options in DATABASE_URL's query string, e.g. "conn_max_age=60".
    database_options: str = ""
    #: Celery's broker: "redis" (the stack's own Redis) or "rabbitmq" (a virtual host of its own
    #: on the machine's RabbitMQ). Redis runs either way: it holds the rate limits' counters.
    broker: str = "redis"
    vhost: RabbitVhost | None = None
    env: dict[str, str] = field(default_factory=dict)
    base_url: str = ""
    database_url: str = ""
    tables: Tables | None = None
    web: ManagedProcess | None = None
    processes: list[ManagedProcess] = field(default_factory=list)

    @property
    def log_dir(self) -> Path:
        return self.work_dir / "logs"

    def start(self) -> None:
        redis_port, web_port = free_port(), free_port()
        self.database_url = recreate_database(self.postgres_url, self.database)
        self.base_url = f"http://127.0.0.1:{web_port}"
        broker_url = f"redis://127.0.0.1:{redis_port}/0"
        if self.broker == "rabbitmq":
            self.vhost = RabbitVhost(f"inbox_intake_bench_{os.getpid()}")
            with contextlib.suppress(StackError):
                self.vhost.delete()  # left over from a run that was killed
            self.vhost.create()
            broker_url = self.vhost.url
        self.env = stack_env(
            DJANGO_SETTINGS_MODULE="site_project.settings",
            DATABASE_URL=f"{self.database_url}?{self.database_options}".rstrip("?"),
            CELERY_BROKER_URL=broker_url,
            CELERY_TASK_DEFAULT_QUEUE=QUEUE,
            # The rate limits' counters, shared by the web processes as a real site's must be.
            CACHE_URL=f"redis://127.0.0.1:{redis_port}/1",
            INBOX_INTAKE_VAR_DIR=str(self.work_dir / "var"),
            SECRET_KEY=secrets.token_urlsafe(50),
            PORT=str(web_port),
            WIX_API_BASE_URL=f"{self.base_url}/wix-sandbox",
            ROOT_URLCONF=self.root_urlconf,
            **self.settings,
        )
        self.log_dir.mkdir(parents=True, exist_ok=True)
        redis = self._started(redis_process(redis_port, self.log_dir, self.env))
        migrate(self.env)
        self.tables = Tables.of(self.env)
        redis.wait_ready()
        self.web = web_process(
            web_port, self.log_dir, self.env, workers=self.web_workers, threads=self.web_threads
        )
        self._started(self.web).wait_ready()
        wait_for_url(self.base_url + "/intake/contact/")

    def start_workers(
        self, count: int, *, concurrency: int, node_name: str = "bench-worker"
    ) -> list[ManagedProcess]:
        """Start `count` Celery workers and wait until they are ready."""
        workers = [
            self._started(
                worker_process(
                    number, self.log_dir, self.env, concurrency=concurrency, node_name=node_name
                )
            )
            for number in range(1, count + 1)
        ]
        for worker in workers:
            worker.wait_ready()
        return workers

    def manage(self, *arguments: str) -> str:
        """Run a manage.py command with the stack's settings and database; return its output."""
        done = subprocess.run(
            [PYTHON, "manage.py", *arguments],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode:
            raise StackError(f"manage.py {arguments[0]} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def start_beat(self) -> ManagedProcess:
        beat = self._started(beat_process(self.log_dir, self.env))
        beat.wait_ready()
        return beat

    def stop_processes(self, processes: list[ManagedProcess]) -> None:
        for process in processes:
            process.stop()
            self.processes.remove(process)

    def stop(self) -> None:
        """Stop every process this stack started, newest first, then drop its database (and
        its RabbitMQ virtual host)."""
        self.stop_processes(list(reversed(self.processes)))
        if self.database_url:
            drop_database(self.postgres_url, self.database)
            self.database_url = ""
        if self.vhost is not None:
            self.vhost.delete()
            self.vhost = None

    def queue_length(self) -> int:
        """Delivery tasks waiting in the broker's queue."""
        if self.vhost is not None:
            return self.vhost.queue_length(QUEUE)
        return redis.Redis.from_url(self.env["CELERY_BROKER_URL"]).llen(QUEUE)

    def _started(self, process: ManagedProcess) -> ManagedProcess:
        process.start()
        self.processes.append(process)
        return process


#: What a bulk-loaded submission holds unless told otherwise: Django sets no database defaults, so
#: COPY must fill every NOT NULL column itself.
SUBMISSION_DEFAULTS = {
    "form_name": "contact",
    "name": "",
    "status": "queued",
    "attempt_count": 0,
    "attempts_since_retry": 0,
    "next_attempt_at": None,
    "locked_until": None,
    "enqueued_at": None,
    "needs_reconciliation": False,
    "last_error": "",
    "wix_member_id": "",
    "wix_anonymous_visitor_id": "",
    "wix_contact_id": "",
    "wix_conversation_id": "",
    "wix_message_id": "",
    "client_ip": None,
    "user_agent": "",
    "sent_at": None,
}
#: The columns each row must give, beside the defaults.
SUBMISSION_REQUIRED = ("reference", "data", "email", "created_at", "updated_at")


def copy_submissions(connection: psycopg.Connection, tables: Tables, rows: Iterable[dict]) -> int:
    """Insert submissions with COPY, far faster than the ORM for a backlog or a big table.

    Each row is a dict of column values (`data` as JSON text); SUBMISSION_DEFAULTS fill the
    rest. Returns how many rows were written.
    """
    columns = (*SUBMISSION_REQUIRED, *SUBMISSION_DEFAULTS)
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        tables["inbox_intake.Submission"], sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    written = 0
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            values = SUBMISSION_DEFAULTS | row
            copy.write_row([values[column] for column in columns])
            written += 1
    return written
