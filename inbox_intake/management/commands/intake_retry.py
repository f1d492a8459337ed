from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from inbox_intake.models import Submission
from inbox_intake.services import staff_actions
from inbox_intake.text import submissions

from ._durations import parse_duration

BATCH_SIZE = 1000


class Command(BaseCommand):
    help = "Queue failed (or retrying) submissions for delivery again, like the admin's Retry."

    def add_arguments(self, parser):
        parser.add_argument(
            "--status",
            choices=["failed", "retrying"],
            action="append",
            help="which submissions (repeatable; default: failed, or any with --reference)",
        )
        parser.add_argument("--since", help="only those received within this long, e.g. 7d")
        parser.add_argument("--reference", action="append", help="only this reference (repeatable)")
        parser.add_argument("--dry-run", action="store_true", help="say what would be retried")

    def handle(self, *args, status, since, reference, dry_run, **options):
        selection = Submission.objects.all()
        # Named submissions are taken whatever their state, so the report says why one was not
        # retried (already sent, discarded…) instead of leaving it out without a word.
        if status or not reference:
            selection = selection.filter(status__in=status or ["failed"])
        if since:
            selection = selection.filter(created_at__gte=timezone.now() - parse_duration(since))
        if reference:
            try:
                selection = selection.filter(reference__in=reference)
            except ValidationError as error:
                raise CommandError(f"Not a valid reference: {error.messages[0]}") from error
        if dry_run:
            retryable = selection.retryable().count()
            self.stdout.write(f"Would retry {submissions(retryable)}.")
            return
        ids = list(selection.order_by("pk").values_list("pk", flat=True))
        # Batches keep each UPDATE short on a big backlog, and let the progress bar move.
        total = staff_actions.BulkResult()
        for start in range(0, len(ids), BATCH_SIZE):
            result = staff_actions.retry_submissions(
                Submission.objects.filter(pk__in=ids[start : start + BATCH_SIZE])
            )
            total.done += result.done
            total.skipped.update(result.skipped)
            self._progress(min(start + BATCH_SIZE, len(ids)), len(ids))
        self.stdout.write(total.describe("queued for delivery"))

    def _progress(self, current: int, total: int) -> None:
        """A bar redrawn in place on a terminal; plain lines in a log or a pipe."""
        if self.stdout.isatty():
            filled = 30 * current // total
            bar = "#" * filled + "-" * (30 - filled)
            end = "\n" if current == total else ""
            self.stdout.write(f"\r[{bar}] {current}/{total}", ending=end)
            self.stdout.flush()
        else:
            self.stdout.write(f"{current}/{total} processed")
