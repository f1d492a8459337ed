import socket
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand

from inbox_intake.services import reporting


class Command(BaseCommand):
    help = (
        "Where submissions are delivered, counts per delivery status, the oldest pending "
        "submission, and the latest failure while something is failing."
    )

    def handle(self, *args, **options):
        status = reporting.delivery_status()
        where = "the local Wix sandbox" if status.uses_sandbox else "Wix"
        self.stdout.write(f"Delivering to {where} at {status.api_base_url}")
        if status.uses_sandbox and not _answers(status.api_base_url):
            # The sandbox's address comes from PORT (or SITE_PORT), as the web server's does: a
            # shell without the server's PORT looks at another port.
            self.stdout.write(
                self.style.WARNING(
                    "Nothing answers there: is the site running? If it runs on another port, "
                    "run this command with the same PORT (e.g. PORT=9000)."
                )
            )
        for name, count in status.counts.items():
            self.stdout.write(f"  {name:<10} {count:>10}")
        if status.oldest_pending:
            pending = status.oldest_pending
            self.stdout.write(
                f"Oldest pending: {pending.reference} ({pending.status}) received "
                f"{pending.created_at:%Y-%m-%d %H:%M:%S %Z}"
            )
        else:
            self.stdout.write("Nothing pending.")
        if status.drain:
            self.stdout.write(f"Backlog: {status.drain.describe()}.")
        if status.last_failure:
            failure = status.last_failure
            self.stdout.write(
                f"Last error ({failure.started_at:%Y-%m-%d %H:%M:%S %Z}, "
                f"{failure.get_outcome_display()}): {failure.full_error}"
            )
        else:
            self.stdout.write("Nothing is failing.")


def _answers(url: str) -> bool:
    """Whether a server listens at the URL's host and port."""
    address = urlsplit(url)
    port = address.port or (443 if address.scheme == "https" else 80)
    try:
        with socket.create_connection((address.hostname, port), timeout=1):
            return True
    except OSError:
        return False
