"""`manage.py purge_expired`: what the scheduler does every PURGE_INTERVAL_SECONDS, by hand."""

from django.core.management.base import BaseCommand

from conversions.jobs import reconcile


class Command(BaseCommand):
    help = "Delete uploads after UPLOAD_RETENTION_HOURS and outputs after OUTPUT_RETENTION_HOURS (jobs become expired)."

    def handle(self, *args, **options):
        expired = reconcile.purge_expired()
        uploads = reconcile.purge_old_uploads()
        self.stdout.write(f"expired {expired} job(s); deleted {uploads} old upload(s)")
