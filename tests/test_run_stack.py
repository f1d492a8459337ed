"""`make run`'s configuration, proven: the whole stack on embedded defaults (SQLite and the
file-system broker under a fresh var/ folder, the sandbox in the web process), driven over HTTP."""

import os
import re
import signal
import sqlite3
import subprocess
import sys
import uuid

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
)


@pytest.fixture
def stack(tmp_path):
    """scripts/run.py (what `make run` starts) on a fresh var/ folder; stopped with Ctrl-C."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in TEST_ONLY_VARIABLES}
    env |= {"INBOX_INTAKE_VAR_DIR": str(tmp_path), "PORT": str(port), "DEBUG": "true"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    log_path = tmp_path / "run.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "scripts/run.py"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(base + "/intake/contact/"), timeout=60, what="the web server")
        yield base, tmp_path / "db.sqlite3", process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        print(log_path.read_text())


def submission_row(db_path):
    with sqlite3.connect(db_path) as db:
        return db.execute(
            "SELECT reference, status, wix_conversation_id, last_error FROM inbox_intake_submission"
        ).fetchone()


def test_make_run_configuration_delivers_a_submission(stack, contact_data):
    base, db_path, process = stack
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

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
