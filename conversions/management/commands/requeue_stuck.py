"""`manage.py requeue_stuck`: what the scheduler does every RECONCILE_INTERVAL_SECONDS, by hand."""

from django.core.management.base import BaseCommand

from conversions.jobs import reconcile


class Command(BaseCommand):
    help = "Re-enqueue queued jobs nobody picked up and reclaim running jobs whose lease ran out."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than", type=int, default=None, help="seconds a queued job must have waited (REQUEUE_AFTER_SECONDS)"
        )
        parser.add_argument("--queued-only", action="store_true", help="leave running jobs alone")

    def handle(self, *args, **options):
        sent = reconcile.requeue_stuck(older_than_seconds=options["older_than"], include_running=not options["queued_only"])
        self.stdout.write(f"requeued {sent} job(s)")
