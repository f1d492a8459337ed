from django.core.management.base import BaseCommand

from inbox_intake import services


class Command(BaseCommand):
    help = "Counts per delivery status, the oldest pending submission, the latest failure."

    def handle(self, *args, **options):
        status = services.delivery_status()
        where = "the local Wix sandbox" if status.uses_sandbox else "Wix"
        self.stdout.write(f"Delivering to {where} at {status.api_base_url}")
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
        if status.last_failure:
            failure = status.last_failure
            self.stdout.write(
                f"Last error ({failure.started_at:%Y-%m-%d %H:%M:%S %Z}, "
                f"{failure.get_outcome_display()}): {failure.error}"
            )
        else:
            self.stdout.write("No failed attempts.")
