"""The example site's own settings and checks (site_project/)."""

import os
import subprocess
import sys

from tests.conftest import ROOT


def manage_check(tmp_path, **env):
    # Without what the test run sets for itself (tests/settings.py): the sandbox, a key.
    environment = {
        key: value
        for key, value in os.environ.items()
        if key != "SECRET_KEY" and not key.startswith(("WIX_", "INBOX_INTAKE_"))
    }
    environment |= {"DJANGO_SETTINGS_MODULE": "site_project.settings"}
    environment |= {"INBOX_INTAKE_VAR_DIR": str(tmp_path), **env}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_a_secret_key_and_with_debug_off_the_site_refuses_to_start(tmp_path):
    done = manage_check(tmp_path, DEBUG="false", WIX_API_KEY="key", WIX_SITE_ID="site")

    assert done.returncode != 0
    assert "site_project.E001" in done.stderr
    assert "SECRET_KEY is not set, and DEBUG is off." in done.stderr
    assert not (tmp_path / "secret_key").exists()


def test_make_run_keeps_its_generated_key(tmp_path):
    done = manage_check(tmp_path, DEBUG="true")

    assert done.returncode == 0, done.stderr
    assert (tmp_path / "secret_key").exists()


def test_a_secret_key_from_the_environment_is_enough(tmp_path):
    done = manage_check(
        tmp_path, DEBUG="false", SECRET_KEY="k" * 50, WIX_API_KEY="key", WIX_SITE_ID="site"
    )

    assert done.returncode == 0, done.stderr
