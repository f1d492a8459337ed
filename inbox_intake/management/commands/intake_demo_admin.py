import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the demo admin account for a local run (once) and print its login."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username, **options):
        users = get_user_model().objects
        if users.filter(username=username).exists():
            self.stdout.write(f"Demo admin '{username}' exists (password printed when created).")
            return
        password = secrets.token_urlsafe(12)
        users.create_superuser(username=username, email="admin@example.com", password=password)
        self.stdout.write(
            self.style.SUCCESS(f"Created the demo admin. Log in as {username} / {password}")
        )
