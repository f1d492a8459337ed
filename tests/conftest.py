"""Shared fixtures: the sandbox over real HTTP, a real Celery worker process, and form data."""

import os
import shutil
import socket
import subprocess
import sys
import time
from io import BytesIO
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import connection
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from kombu import pools as kombu_pools
from PIL import Image

from inbox_intake.models import Attachment, Submission

ROOT = Path(__file__).resolve().parent.parent

# pytest caches the modules it rewrites for their asserts (the test modules, and those of plugins
# such as schemathesis, which test_fuzz.py imports) only where Python may write bytecode. Where
# PYTHONDONTWRITEBYTECODE is set, as in this machine's environment, it would rewrite them all again
# on every run: about 2 s of CPU. The test modules are imported after this file.
sys.dont_write_bytecode = False

# The property-based tests (test_fuzz.py): FUZZ_EXAMPLES examples each (more for a longer hunt),
# with no deadline, since a request's time varies with the machine's load.
hypothesis_settings.register_profile(
    "intake",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
hypothesis_settings.load_profile("intake")
#: A site allowed to embed the form, in the tests that need one.
LANDING = "https://landing.example"


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Rate-limit counters live in the cache: every test starts with none."""
    cache.clear()


@pytest.fixture
def allowed_origins(settings):
    settings.INBOX_INTAKE_ALLOWED_ORIGINS = [LANDING]


@pytest.fixture
def make_submission(db):
    """Save a submission with valid contact data. `data` entries replace the defaults';
    `received` moves it into the past; other keywords are model fields."""

    def make(status=Submission.Status.QUEUED, received=None, data=None, **fields):
        form_data = {
            "first_name": "Jane",
            "last_name": "Doe",
            "email": "jane@example.com",
            "phone": "",
            "message": "Hello, I would like a quote.",
            "subscribe_newsletter": False,
        } | (data or {})
        defaults = {"email": form_data["email"].lower(), "name": "Jane Doe", "status": status}
        submission = Submission.objects.create(data=form_data, **(defaults | fields))
        if received:
            Submission.objects.filter(pk=submission.pk).update(created_at=received)
            submission.refresh_from_db()
        return submission

    return make


#: A small but well-formed PDF, as a visitor's file.
PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def png_bytes(width: int = 4, height: int = 3) -> bytes:
    image = BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(image, "PNG")
    return image.getvalue()


@pytest.fixture
def make_attachment(attachment_storage):
    """Store a file as one of a submission's attachments, as intake does: a PDF unless told
    otherwise, an image's width and height read from it unless given, at the next position."""

    def make(submission, name="plan.pdf", content=PDF_BYTES, content_type=None, **fields):
        if content_type is None:
            content_type = "image/png" if name.endswith(".png") else "application/pdf"
        if content_type.startswith("image/") and "width" not in fields:
            with Image.open(BytesIO(content)) as image:
                fields = {"width": image.width, "height": image.height} | fields
        position = fields.pop("position", submission.attachments.count())
        return Attachment.objects.create(
            submission=submission,
            field_name=fields.pop("field_name", "drawings"),
            position=position,
            file=ContentFile(content, name=name),
            original_name=name,
            content_type=content_type,
            size=len(content),
            **fields,
        )

    return make


@pytest.fixture
def contact_data():
    return {
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "Jane.Doe@Example.com",
        "phone": "+1 555 555 0100",
        "message": "Hello, I would like a quote.",
        "subscribe_newsletter": "on",
    }


@pytest.fixture
def sandbox_url(live_server, settings):
    """The Wix sandbox served over real HTTP on loopback; the app's client points at it."""
    url = live_server.url + "/wix-sandbox"
    settings.WIX_API_BASE_URL = url
    return url


@pytest.fixture
def sandbox_faults(sandbox_url):
    """Set the sandbox's fault rules for this test (always, rate 1, unless a rate is given)."""
    from wix_sandbox import faults

    yield faults.save_rules
    faults.clear_rules()


def wait_until(predicate, *, timeout: float = 30.0, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}")


def free_port() -> int:
    """A loopback port free right now, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(url: str) -> bool:
    """Whether a server a test started serves this page yet."""
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:  # refused, or too slow to answer yet
        return False


def wait_for_start(process: subprocess.Popen, log_path: Path, ready, what: str) -> None:
    """Wait until `ready()`; a process that exits first fails the test with its log."""
    wait_until(lambda: ready() or process.poll() is not None, timeout=60, what=f"{what} to start")
    if process.poll() is not None:
        pytest.fail(f"{what} exited with {process.returncode}:\n{log_path.read_text()}")


def stop_process(process: subprocess.Popen, log_path: Path) -> None:
    """Stop a process a test started (killed if it will not stop), and print its log."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    print(f"--- {log_path.name} ---\n{log_path.read_text()}")


def database_url() -> str:
    """The URL of the test database pytest-django created, for processes started by tests."""
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def start_worker(sandbox_url, tmp_path):
    """Start real `celery worker` processes: over Redis, on the test database, against the
    sandbox. Extra environment variables change one worker's settings. All stop at teardown."""
    if connection.vendor != "postgresql":
        pytest.fail("Delivery tests need PostgreSQL (DATABASE_URL); it is not configured.")
    started = []

    def start(**extra_env: str) -> subprocess.Popen:
        log_path = tmp_path / f"worker-{len(started)}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "site_project.settings",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "CELERY_TASK_DEFAULT_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
            "WIX_API_BASE_URL": sandbox_url,
            "INBOX_INTAKE_VAR_DIR": str(tmp_path / "var"),
            # The sandbox's credentials derive from it: the worker must open the same sandbox.
            "SECRET_KEY": settings.SECRET_KEY,
            **extra_env,
        }
        command = [sys.executable, "-m", "celery", "-A", "site_project", "worker", "-l", "info"]
        command += ["--concurrency", "2", "-Q", settings.CELERY_TASK_DEFAULT_QUEUE]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        with log_path.open("w") as log:
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        started.append((process, log_path))
        wait_for_start(
            process, log_path, lambda: "ready." in log_path.read_text(), "The Celery worker"
        )
        return process

    yield start
    for process, log_path in started:
        stop_process(process, log_path)


@pytest.fixture
def rabbitmq_broker(monkeypatch):
    """A RabbitMQ virtual host of this test's own, which this process's Celery app publishes to
    until the test ends (its queue is created by the first publish or the first worker)."""
    from bench._stack import rabbitmq_vhost
    from site_project.celery import app

    with rabbitmq_vhost(f"inbox_intake_test_{os.getpid()}") as vhost:
        # Celery reads CELERY_BROKER_URL from the environment before its own setting.
        monkeypatch.setenv("CELERY_BROKER_URL", vhost.url)
        _drop_broker_pools(app)
        yield vhost
        monkeypatch.undo()
        _drop_broker_pools(app)


def _drop_broker_pools(app) -> None:
    """The app's connection and producer pools are built from the broker URL on first use, and
    kombu keeps them in a registry by URL: empty it and drop the app's references, so that they
    are built again for the broker now configured."""
    kombu_pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def celery_worker(start_worker):
    return start_worker()


def _test_queue(connection):
    from site_project.celery import app

    return app.amqp.queues[settings.CELERY_TASK_DEFAULT_QUEUE].bind(connection.default_channel)


@pytest.fixture(scope="session", autouse=True)
def purge_test_queue():
    """Leave nothing behind in Redis: drop this run's queue when the session ends."""
    yield
    from site_project.celery import app

    with app.connection_for_write() as connection:
        queue = _test_queue(connection)
        # Declared first: kombu's Redis transport deletes only the bindings it knows of.
        queue.declare()
        queue.delete()


@pytest.fixture(scope="session", autouse=True)
def remove_metrics_files():
    """tests/settings.py made a metrics directory for this run: remove it at the end."""
    yield
    shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


@pytest.fixture
def empty_queue():
    """This run's delivery queue, emptied of what earlier tests published; call it to empty the
    queue again."""
    from site_project.celery import app

    def empty():
        with app.connection_for_write() as connection:
            _test_queue(connection).purge()

    empty()
    return empty


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright. A missing browser fails the run: browser
    tests are never skipped (`make test` installs it)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (make test does).")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; the test's own database
    # calls are still synchronous, so Django's guard against async misuse does not apply.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    yield context.new_page()
    context.close()


@pytest.fixture(autouse=True)
def attachment_storage(settings, tmp_path):
    """Attachments are written under this test's own folder (never the checkout's var/), where
    the worker processes it starts look for them too (their INBOX_INTAKE_VAR_DIR)."""
    entry = settings.STORAGES["inbox_intake"]
    location = tmp_path / "var" / "attachments"
    settings.STORAGES = {
        **settings.STORAGES,
        "inbox_intake": {**entry, "OPTIONS": {**entry["OPTIONS"], "location": str(location)}},
    }
    return storages["inbox_intake"]
