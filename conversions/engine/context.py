"""What a converter sees of its job: paths, formats, options, progress."""

import logging
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from conversions.engine import runner
from conversions.errors import Canceled

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 1.0


class ConversionContext:
    """One conversion's working state.

    Converters read `source_path` and write `output_path` (or set
    `output_path`/`output_format` to something else, e.g. a zip of pages).
    `run()` sends a tool through the sandboxed runner in the private work dir,
    with a tick that renews the job's lease, saves progress and stops the tool
    when the job is canceled.
    """

    def __init__(
        self, *, workdir, source_path, source_format, target_format, options=None, job_id=None, display_name=""
    ):
        self.workdir = Path(workdir)
        self.source_path = Path(source_path)
        self.source_format = source_format
        self.target_format = target_format
        self.output_format = target_format
        self.output_path = self.workdir / f"output.{target_format}"
        self.options = options or {}
        self.job_id = job_id
        # The user's file name without its extension: for titles, never for paths.
        self.display_name = display_name
        self.progress = 0
        # A step of a longer job (conversion, then filters) maps its own 0-100 into this share.
        self.progress_span = (0, 100)
        self._saved_progress = -1
        # The claim has just renewed the lease: the first beat is due a second
        # from now, so a sub-second conversion costs no extra database write.
        self._last_beat = time.monotonic()

    def run(self, argv, **kwargs):
        kwargs.setdefault("on_tick", self.tick)
        return runner.run(argv, cwd=self.workdir, **kwargs)

    def set_progress(self, percent):
        lo, hi = self.progress_span
        self.progress = max(self.progress, min(99, int(lo + (hi - lo) * percent / 100)))
        self.tick()

    def tick(self, force=False):
        """Renew the lease, save progress, notice cancellation (at most once a second)."""
        if self.job_id is None:
            return
        now = time.monotonic()
        if not force and now - self._last_beat < HEARTBEAT_SECONDS:
            return
        self._last_beat = now
        from conversions.models import Job, JobStatus

        updated = Job.objects.filter(pk=self.job_id, status=JobStatus.RUNNING).update(
            progress=self.progress,
            lease_until=timezone.now() + timedelta(seconds=settings.JOB_LEASE_SECONDS),
        )
        if not updated:
            raise Canceled(str(self.job_id))
        if self.progress != self._saved_progress:
            self._saved_progress = self.progress
            from conversions.jobs.status_cache import job_changed

            job_changed(self.job_id)
