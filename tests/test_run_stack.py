"""`make run`, proven: the Procfile's processes under honcho on embedded defaults (SQLite and the
file-system broker under a fresh var/ folder, the sandbox in the web process), driven over HTTP,
then stopped with Ctrl-C."""

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from django.test import override_settings

from tests.conftest import ROOT, answers, free_port, wait_until
from wix_sandbox.conf import sandbox_setting

pytestmark = pytest.mark.e2e

#: Variables the test run sets for itself that `make run` would not have.
TEST_ONLY_VARIABLES = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CELERY_TASK_DEFAULT_QUEUE",
    "WIX_API_BASE_URL",
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_CONN_MAX_AGE",
    "INBOX_INTAKE_WIX_SANDBOX",
)


@dataclass
class Stack:
    base: str
    db_path: Path
    make: subprocess.Popen
    log_path: Path
    marker: str

    def ctrl_c(self) -> float:
        """Press Ctrl-C as in a terminal (SIGINT to the foreground process group); return how
        long everything took to stop."""
        started = time.monotonic()
        os.killpg(self.make.pid, signal.SIGINT)
        self.make.wait(timeout=30)
        wait_until(lambda: not self.processes(), timeout=30, what="every process to stop")
        return time.monotonic() - started

    def processes(self) -> list[int]:
        """The processes still alive that this stack started (they carry its marker variable)."""
        alive = []
        for environ in Path("/proc").glob("[0-9]*/environ"):
            with contextlib.suppress(OSError):
                if self.marker.encode() in environ.read_bytes().split(b"\0"):
                    alive.append(int(environ.parent.name))
        return alive


@pytest.fixture
def stack(tmp_path):
    """`make run` itself on a fresh var/ folder and a free port, as a person starts it."""
    port = free_port()
    marker = f"RUN_STACK_TEST={uuid.uuid4()}"
    env = {key: value for key, value in os.environ.items() if key not in TEST_ONLY_VARIABLES}
    env |= {"INBOX_INTAKE_VAR_DIR": str(tmp_path), "PORT": str(port)}
    env |= dict([marker.split("=")])
    log_path = tmp_path / "run.log"
    with log_path.open("w") as log:
        # A session of its own, like a terminal's foreground job: Ctrl-C reaches make and honcho.
        make = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack = Stack(f"http://127.0.0.1:{port}", tmp_path / "db.sqlite3", make, log_path, marker)
    try:
        wait_until(
            lambda: answers(stack.base + "/intake/contact/") or make.poll() is not None,
            timeout=90,
            what="the web server",
        )
        assert make.poll() is None, log_path.read_text()
        yield stack
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGINT)
            try:
                make.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(make.pid, signal.SIGKILL)
        for pid in stack.processes():
            os.kill(pid, signal.SIGKILL)
        print(log_path.read_text())


def submission_row(db_path):
    with sqlite3.connect(db_path) as db:
        return db.execute(
            "SELECT reference, status, wix_conversation_id, last_error FROM inbox_intake_submission"
        ).fetchone()


def test_make_run_delivers_a_submission_and_stops_cleanly_on_ctrl_c(stack, contact_data):
    base, db_path = stack.base, stack.db_path
    browser = requests.Session()
    page = browser.get(base + "/intake/contact/", timeout=10).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)

    response = browser.post(
        base + "/intake/contact/",
        data={**contact_data, "csrfmiddlewaretoken": token},
        allow_redirects=False,
        timeout=10,
    )

    assert response.status_code == 302
    assert browser.get(base + response.headers["Location"], timeout=10).status_code == 200
    row = wait_until(
        lambda: (r := submission_row(db_path)) and r[1] == "sent" and r,
        timeout=90,
        what="the worker to deliver over the file-system broker",
    )
    reference, _, conversation_id, _ = row
    # The stack's sandbox credentials derive from the secret key it keeps under its var/.
    with override_settings(SECRET_KEY=(db_path.parent / "secret_key").read_text().strip()):
        sandbox_headers = {
            "Authorization": sandbox_setting("WIX_SANDBOX_API_KEY"),
            "wix-site-id": sandbox_setting("WIX_SANDBOX_SITE_ID"),
        }
    listing = requests.get(
        base + "/wix-sandbox/inbox/v2/messages",
        params={"conversationId": conversation_id, "visibility": "BUSINESS"},
        headers=sandbox_headers,
        timeout=10,
    ).json()
    assert len(listing["messages"]) == 1
    fields = listing["messages"][0]["content"]["form"]["fields"]
    # SQLite stores UUIDs as 32 hex digits; Wix sees the dashed form.
    assert {"name": "Reference", "value": str(uuid.UUID(reference))} in fields

    assert len(stack.processes()) >= 4, "make, honcho, web, worker and beat run"
    took = stack.ctrl_c()

    assert took < 10, f"Ctrl-C took {took:.1f} s to stop everything"
    assert stack.processes() == [], "no process is left behind"
    log = stack.log_path.read_text()
    assert re.search(rf"Inbox Intake is up on {stack.base}/\n(.*\n)*.*log in as admin / \S+", log)
    assert "ERROR" not in log, log
    routine = (
        r"Sending due task inbox-intake-relay|relay_due_submissions\[\S+\] (received|succeeded)"
    )
    assert not re.search(routine, log), "the routine tasks' lines are dropped"
    assert log.count("Sandbox mode") <= 1, "said once, by the worker, when it first delivered"
    assert "Traceback" not in log, log
