import os
import secrets
import time
from pathlib import Path

import requests
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create the demo admin account for a local run (once), keeping its login in a file only "
        "its owner can read; with --announce, wait for the site to answer, then print the "
        "addresses and the login."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument(
            "--login-file", type=Path, required=True, help="where the login is kept (mode 0600)"
        )
        parser.add_argument("--announce", metavar="URL", help="the site's address, e.g. http://…/")

    def handle(self, *args, username, login_file, announce, **options):
        users = get_user_model().objects
        if not users.filter(username=username).exists():
            password = secrets.token_urlsafe(12)
            users.create_superuser(username=username, email="admin@example.com", password=password)
            _write_private(login_file, f"{username} {password}\n")
            self.stdout.write(f"Created the demo admin '{username}' (login in {login_file}).")
        if announce:
            self._announce(announce.rstrip("/"), username, login_file)

    def _announce(self, base: str, username: str, login_file: Path) -> None:
        # Printed once the web server answers, so the login is the last thing on the screen
        # rather than lost among the processes' start-up lines.
        deadline = time.monotonic() + 120
        while not _answers(base + "/admin/login/"):
            if time.monotonic() > deadline:
                return
            time.sleep(0.5)
        user = get_user_model().objects.get(username=username)
        saved = login_file.read_text().split() if login_file.exists() else []
        if len(saved) == 2 and saved[0] == username and user.check_password(saved[1]):
            login = f"log in as {username} / {saved[1]}"
        else:
            login = f"log in as {username} (its password was changed since it was created)"
        reset = f".venv/bin/python manage.py changepassword {username}"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"Inbox Intake is up on {base}/",
                    f"  the contact form   {base}/intake/contact/",
                    f"  the admin          {base}/admin/   {login}",
                    f"  the Wix sandbox    {base}/wix-sandbox/",
                    f"  Forgot the password? {reset}",
                    "  Ctrl-C stops everything.",
                    "",
                ]
            )
        )


def _write_private(path: Path, text: str) -> None:
    """Write a file that only its owner can read, from the moment it exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:  # refused, or too slow to answer yet
        return False
