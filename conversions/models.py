import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    EXPIRED = "expired"


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)


class JobQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Jobs a caller may read: anonymous jobs by id, owned jobs by their owner only."""
        if user is not None and user.is_authenticated:
            return self.filter(Q(owner=user) | Q(owner__isnull=True))
        return self.filter(owner__isnull=True)

    def claimable(self, now=None):
        """Queued jobs, and running jobs whose worker's lease ran out."""
        now = now or timezone.now()
        return self.filter(Q(status=JobStatus.QUEUED) | Q(status=JobStatus.RUNNING, lease_until__lt=now))

    def stale_queued(self, older_than):
        """Queued jobs untouched for longer than `older_than`: their message may be lost."""
        return self.filter(status=JobStatus.QUEUED, updated_at__lt=timezone.now() - older_than)

    def lease_expired(self):
        """Running jobs whose worker stopped renewing its lease (it died)."""
        return self.filter(status=JobStatus.RUNNING, lease_until__lt=timezone.now())


class Job(models.Model):
    class Kind(models.TextChoices):
        CONVERT = "convert"
        FILTER = "filter"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CONVERT)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True)
    family = models.CharField(max_length=16, db_index=True)
    converter = models.CharField(max_length=64, blank=True)
    source_format = models.CharField(max_length=16, db_index=True)
    target_format = models.CharField(max_length=16, db_index=True)
    options = models.JSONField(default=dict, blank=True)
    operations = models.JSONField(default=list, blank=True)
    # Every upload of a multi-file job (merge), in order; source_key is the first.
    source_keys = models.JSONField(default=list, blank=True)
    # Result cache: hash of input bytes + target + options + operations; `cached` when reused.
    cache_key = models.CharField(max_length=64, blank=True, db_index=True)
    cached = models.BooleanField(default=False)

    original_filename = models.CharField(max_length=255, help_text="Display text only; never a storage key.")
    source_key = models.CharField(max_length=255, blank=True)
    source_size = models.BigIntegerField(default=0)
    source_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    detected_type = models.CharField(max_length=128, blank=True)

    output_key = models.CharField(max_length=255, blank=True)
    output_filename = models.CharField(max_length=255, blank=True)
    output_size = models.BigIntegerField(null=True, blank=True)
    output_content_type = models.CharField(max_length=128, blank=True)

    progress = models.PositiveSmallIntegerField(default=0)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    session_key = models.CharField(max_length=64, blank=True, db_index=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    converter_seconds = models.FloatField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    files_purged_at = models.DateTimeField(null=True, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        db_table = "jobs"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"]), models.Index(fields=["status", "updated_at"])]

    def __str__(self):
        return f"{self.id} {self.source_format}->{self.target_format} {self.status}"

    @property
    def is_finished(self):
        return self.status not in ACTIVE_STATUSES

    @property
    def end_to_end_seconds(self):
        if self.finished_at and self.created_at:
            return (self.finished_at - self.created_at).total_seconds()
        return None


class JobEvent(models.Model):
    """One step in a job's history (the seed's `conversions` table)."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=32)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "conversions"
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.at:%H:%M:%S} {self.kind}"


class Upload(models.Model):
    """A file a client sends straight to the uploads bucket (POST /api/v1/uploads), used by one job at most."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    key = models.CharField(max_length=255)
    filename = models.CharField(max_length=255, help_text="Display text; its extension is the claimed format.")
    max_bytes = models.BigIntegerField()
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    session_key = models.CharField(max_length=64, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    expires_at = models.DateTimeField(help_text="When the presigned POST stops working.")
    job = models.OneToOneField(Job, null=True, blank=True, on_delete=models.CASCADE, related_name="direct_upload")

    class Meta:
        db_table = "uploads"

    def __str__(self):
        return f"{self.id} {self.filename}"
