import time

from django.core.management.base import BaseCommand
from django.utils.translation import ngettext

from inbox_intake import alerts, health
from inbox_intake.services.relay import relay_due_submissions
from inbox_intake.text import submissions


class Command(BaseCommand):
    help = (
        "Enqueue every submission that is due (the same relay beat runs), then mail staff any "
        "alert that is due. For cron-only deployments: run it every minute, or with --loop as a "
        "long-running process."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="keep relaying until stopped")
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between runs")

    def handle(self, *args, loop, interval, **options):
        while True:
            total = 0
            while enqueued := relay_due_submissions():
                total += enqueued
            health.note_relay_run()
            mailed = alerts.send_alerts()
            # A loop left running says something only when it did something.
            if total or not loop:
                self.stdout.write(f"Enqueued {submissions(total)} that were due.")
            if mailed:
                self.stdout.write(
                    ngettext(
                        "Mailed %(count)d alert to the site's admins.",
                        "Mailed %(count)d alerts to the site's admins.",
                        mailed,
                    )
                    % {"count": mailed}
                )
            if not loop:
                return
            time.sleep(interval)
