import time

from django.core.management.base import BaseCommand

from inbox_intake import services
from inbox_intake.text import submissions


class Command(BaseCommand):
    help = (
        "Enqueue every submission that is due (the same relay beat runs). For cron-only "
        "deployments: run it every minute, or with --loop as a long-running process."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="keep relaying until stopped")
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between runs")

    def handle(self, *args, loop, interval, **options):
        while True:
            total = 0
            while enqueued := services.relay_due_submissions():
                total += enqueued
            # A loop left running says something only when it did something.
            if total or not loop:
                self.stdout.write(f"Enqueued {submissions(total)} that were due.")
            if not loop:
                return
            time.sleep(interval)
