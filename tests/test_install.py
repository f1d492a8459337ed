"""Proof of installability: the README's "Add Inbox Intake to your Django site" lines, copied as
they are into a new `django-admin startproject mysite`, in a fresh virtualenv that has only the
built wheels (no checkout on its path), deliver a contact form submission to the Wix sandbox.

The README's code blocks are read by their `<!-- install:… -->` markers, so the documentation
cannot drift from what works: if a line there is wrong, this test fails, and the README is fixed.

What the test does that the README does not say, because a real site would not need it:

- it installs the wheels built from this checkout instead of `pip install inbox-intake` from an
  index, with requirements.txt as constraints (this repository's pinned Django and Celery);
- it appends to settings.py, under a marked comment, `WIX_API_BASE_URL` on a free port instead of
  8000, and `CELERY_BROKER_URL = "filesystem://"` with its folders, so that no Redis is needed.
"""

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import uuid
import zipfile

import pytest
import requests

from tests.conftest import ROOT, answers, free_port, stop_process, wait_for_start, wait_until

pytestmark = pytest.mark.e2e

README = ROOT / "README.md"
#: Variables that would configure Python, Django, Celery or the app in the new virtualenv: none
#: may leak in from the test run (the host site must work from its own files alone).
PARENT_ONLY_PREFIXES = ("PYTHON", "VIRTUAL_ENV", "DJANGO_", "CELERY_", "WIX_", "INBOX_INTAKE_")
#: What the build never needs: copying it would be slow, and stale build output or egg-info
#: manifests could slip files into the wheel that the sources would not.
NOT_SOURCES = shutil.ignore_patterns(
    ".git",
    ".venv",
    "node_modules",
    "var",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    "*.sqlite3",
    ".pytest_cache",
    ".ruff_cache",
)
#: Under pytest-timeout's 300 s for the whole test, so that a slow step fails with its own output.
COMMAND_TIMEOUT = 180


def install_block(marker: str) -> str:
    """The code block that follows `<!-- install:<marker> -->` in the README."""
    pattern = rf"<!-- install:{re.escape(marker)} -->\n```[a-z]*\n(.*?)```"
    found = re.search(pattern, README.read_text(), re.DOTALL)
    if not found:
        pytest.fail(f"README.md has no code block after <!-- install:{marker} -->")
    return found.group(1)


def host_env() -> dict[str, str]:
    """The parent's environment (pip's certificates and indexes, PATH, HOME for pip's cache)
    without anything that would make the new virtualenv see this checkout's configuration."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(PARENT_ONLY_PREFIXES)
    }


def run(command: list, cwd) -> None:
    """Run a step of the installation; a failing step fails the test with its output."""
    try:
        result = subprocess.run(
            [str(part) for part in command],
            cwd=cwd,
            env=host_env(),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
    except subprocess.TimeoutExpired as timeout:
        pytest.fail(f"{' '.join(timeout.cmd)} took over {COMMAND_TIMEOUT}s:\n{timeout.output}")
    if result.returncode:
        pytest.fail(
            f"{' '.join(result.args)} exited with {result.returncode}:\n"
            f"{result.stdout}\n{result.stderr}"
        )


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    """The app's wheel and the sandbox's, built from a copy of the sources (the build writes
    build/ and egg-info folders beside them; the checkout is left alone)."""
    sources = tmp_path_factory.mktemp("sources") / "inbox-intake"
    shutil.copytree(ROOT, sources, ignore=NOT_SOURCES)
    dist = tmp_path_factory.mktemp("dist")
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", dist]
    run([*pip_wheel, sources, sources / "sandbox"], cwd=dist)
    return one_file(dist, "inbox_intake-*.whl"), one_file(dist, "inbox_intake_wix_sandbox-*.whl")


def one_file(folder, pattern):
    found = list(folder.glob(pattern))
    assert len(found) == 1, f"{pattern} in {folder}: {found}"
    return found[0]


def wheel_names(wheel) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def wheel_metadata(wheel) -> str:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(next(n for n in archive.namelist() if n.endswith("/METADATA"))).decode()


def test_wheels_hold_what_a_host_needs_and_nothing_else(wheels):
    app_wheel, sandbox_wheel = wheels
    app = wheel_names(app_wheel)
    for needed in (
        "inbox_intake/templates/inbox_intake/form.html",
        "inbox_intake/static/inbox_intake/embed.js",
        "inbox_intake/migrations/0001_initial.py",
    ):
        assert needed in app, f"{needed} is missing from {app_wheel.name}"
    for foreign in ("site_project/", "wix_sandbox/", "tests/"):
        assert not [name for name in app if name.startswith(foreign)], f"{foreign} in the wheel"
    # The README's `pip install` line names the distribution this wheel is.
    distribution = install_block("pip").split()[-1]
    assert f"\nName: {distribution}\n" in wheel_metadata(app_wheel)

    sandbox = wheel_names(sandbox_wheel)
    assert "wix_sandbox/migrations/0001_initial.py" in sandbox
    assert [name for name in sandbox if name.startswith("wix_sandbox/templates/")]
    assert not [name for name in sandbox if name.startswith("inbox_intake/")]


@pytest.fixture(scope="module")
def venv(wheels, tmp_path_factory):
    """A fresh virtualenv of this interpreter with the two wheels and their dependencies, at the
    versions requirements.txt pins. The README says `pip install inbox-intake`; the test installs
    the wheel it has just built, so that what it proves is this checkout, not a release."""
    folder = tmp_path_factory.mktemp("venv")
    run([sys._base_executable, "-m", "venv", folder], cwd=folder)
    pip_install = [folder / "bin" / "python", "-m", "pip", "install", "--quiet"]
    run([*pip_install, "-c", ROOT / "requirements.txt", *wheels], cwd=folder)
    return folder / "bin"


@pytest.fixture
def mysite(venv, tmp_path):
    """`django-admin startproject mysite` with the README's lines, then the test-only overrides
    of the module docstring. Returns the project folder and the web server's port."""
    run([venv / "django-admin", "startproject", "mysite"], cwd=tmp_path)
    project = tmp_path / "mysite"
    package = project / "mysite"
    append(package / "settings.py", install_block("settings"), install_block("sandbox-settings"))
    append(package / "urls.py", install_block("urls"), install_block("sandbox-urls"))
    (package / "celery.py").write_text(install_block("celery"))
    (package / "__init__.py").write_text(install_block("celery-init"))

    port = free_port()
    broker = tmp_path / "broker"
    folders = {
        "data_folder_in": "queue",
        "processed_folder": "processed",
        "control_folder": "control",
    }
    for folder in folders.values():
        (broker / folder).mkdir(parents=True)
    options = {option: str(broker / folder) for option, folder in folders.items()}
    options["data_folder_out"] = options["data_folder_in"]
    append(
        package / "settings.py",
        "# --- Test-only overrides (tests/test_install.py): a real site needs none of these.",
        f'WIX_API_BASE_URL = "http://127.0.0.1:{port}/wix-sandbox"',
        'CELERY_BROKER_URL = "filesystem://"',
        f"CELERY_BROKER_TRANSPORT_OPTIONS = {options!r}",
    )
    return project, port


def append(path, *blocks: str) -> None:
    with path.open("a") as file:
        for block in blocks:
            file.write(f"\n{block.rstrip()}\n")


@pytest.fixture
def start(venv, mysite, tmp_path):
    """Start a long-running command of the site (`python …` in the virtualenv) with its output in
    a log file; all are stopped at teardown, and their logs printed."""
    project, _ = mysite
    started = []

    def start_process(name: str, *arguments: str):
        log_path = tmp_path / f"{name}.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [str(venv / "python"), *arguments],
                cwd=project,
                env=host_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        started.append((process, log_path))
        return process, log_path

    yield start_process
    for process, log_path in started:
        stop_process(process, log_path)


def delivered(db_path):
    """The submission's reference once it is sent and the sandbox holds its message."""
    with sqlite3.connect(db_path) as db:
        row = db.execute("SELECT reference, status FROM inbox_intake_submission").fetchone()
        messages = [
            json.loads(data)
            for (data,) in db.execute("SELECT data FROM wix_sandbox_sandboxmessage")
        ]
    if not (row and row[1] == "sent"):
        return None
    # SQLite stores UUIDs as 32 hex digits; Wix sees the dashed form.
    reference = str(uuid.UUID(row[0]))
    return reference, messages


def test_readme_lines_make_a_new_site_deliver_to_the_sandbox(venv, mysite, start, contact_data):
    project, port = mysite
    python = venv / "python"
    run([python, "manage.py", "check"], cwd=project)
    run([python, "manage.py", "migrate", "--noinput"], cwd=project)

    form_url = f"http://127.0.0.1:{port}/intake/contact/"
    web = start("runserver", "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload")
    worker = start(
        "worker", "-m", "celery", "-A", "mysite", "worker", "-l", "info", "--concurrency", "1"
    )
    wait_for_start(*web, lambda: answers(form_url), "The web server")
    wait_for_start(*worker, lambda: "ready." in worker[1].read_text(), "The Celery worker")

    browser = requests.Session()
    page = browser.get(form_url, timeout=10).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = browser.post(
        form_url,
        data={**contact_data, "csrfmiddlewaretoken": token},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text

    reference, messages = wait_until(
        lambda: delivered(project / "db.sqlite3"),
        timeout=90,
        what="the worker to deliver the submission to the sandbox",
    )
    assert len(messages) == 1
    assert {"name": "Reference", "value": reference} in messages[0]["content"]["form"]["fields"]
