from django.core.management.base import BaseCommand

from inbox_intake.conf import intake_settings
from inbox_intake.services import staff_actions
from inbox_intake.text import submissions

from ._durations import parse_duration


class Command(BaseCommand):
    help = (
        "Delete (or anonymise, per INBOX_INTAKE_PURGE_MODE) finished submissions older than "
        "--older-than. Submissions still being delivered are never touched."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", required=True, help="e.g. 90d")
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args, older_than, batch_size, **options):
        anonymise = intake_settings.INBOX_INTAKE_PURGE_MODE == "anonymise"
        total = 0
        for total in staff_actions.purge_submissions(
            older_than=parse_duration(older_than), anonymise=anonymise, batch_size=batch_size
        ):
            self.stdout.write(f"{total} so far")
        verb = "Anonymised" if anonymise else "Deleted"
        self.stdout.write(f"{verb} {submissions(total)}.")
