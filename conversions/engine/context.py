"""What a converter sees of its job: paths, formats, options, progress."""

import logging
import time
from pathlib import Path

from django.conf import settings

from convertall.tracing import tool_span
from conversions.engine import runner
from conversions.jobs.budget import UNLIMITED
from conversions.errors import ConversionFailed

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 1.0


class ConversionContext:
    """One conversion's working state.

    Converters read `source_path` and write `output_path` (or set
    `output_path`/`output_format` to something else, e.g. a zip of pages).
    `run()` sends a tool through the sandboxed runner in the private work dir,
    with a tick that renews the job's lease, saves progress and stops the tool
    when the job is canceled or has used up its time or disk (`budget`).
    """

    def __init__(
        self, *, workdir, source_path, source_format, target_format, options=None, job_id=None, display_name="",
        budget=None,
    ):
        self.workdir = Path(workdir)
        self.source_path = Path(source_path)
        self.source_format = source_format
        self.target_format = target_format
        self.output_format = target_format
        self.output_path = self.workdir / f"output.{target_format}"
        self.options = options or {}
        self.job_id = job_id
        self.budget = budget or UNLIMITED
        # The user's file name without its extension: for titles, never for paths.
        self.display_name = display_name
        self.progress = 0
        # A step of a longer job (conversion, then filters) maps its own 0-100 into this share.
        self.progress_span = (0, 100)
        self._heartbeat = None
        # The claim has just renewed the lease: the first beat is due a second
        # from now, so a sub-second conversion costs no extra database write.
        self._last_beat = time.monotonic()

    @tool_span()
    def run(self, argv, **kwargs):
        """A tool through the runner, its timeout and file-size limit cut to the job's budget."""
        kwargs.setdefault("on_tick", self.tick)
        asked = kwargs.get("timeout") or settings.RUNNER_TIMEOUT_SECONDS
        timeout = self.budget.clamp_timeout(asked)
        if timeout < asked:
            kwargs["timeout"] = timeout
            if kwargs.get("cpu_seconds"):
                kwargs["cpu_seconds"] = max(1, int(kwargs["cpu_seconds"] * timeout / asked))
        disk_left = self.budget.disk_left()
        if disk_left is not None:
            self.budget.check_disk()
            asked_mb = kwargs.get("max_file_mb") or settings.RUNNER_MAX_OUTPUT_MB
            kwargs["max_file_mb"] = max(1, min(asked_mb, disk_left // (1024 * 1024)))
        try:
            result = runner.run(argv, cwd=self.workdir, **kwargs)
        except ConversionFailed as exc:
            self._explain_budget(exc)
            raise
        self.budget.check_disk()
        return result

    def _explain_budget(self, exc):
        """A tool stopped by a limit we cut to the job's budget: say it was the budget."""
        if exc.code == "timeout":
            self.budget.check_time()
        # The file-size limit was what was left of the disk budget: a tool stopped
        # by it (SIGXFSZ) left the job dir within a few bytes of the budget.
        self.budget.check_disk(slack=1024 * 1024)

    def remaining_seconds(self, default):
        """`default` seconds, or less when the job's time budget has less left."""
        return self.budget.clamp_timeout(default)

    def set_progress(self, percent):
        lo, hi = self.progress_span
        self.progress = max(self.progress, min(99, int(lo + (hi - lo) * percent / 100)))
        self.tick()

    def tick(self, force=False):
        """Renew the lease, save progress, notice cancellation (at most once a second; jobs/heartbeat.py).

        Raises JobTimeout when the job's time budget ran out, BudgetExceeded when
        its work dir grew past the disk budget (checked on the heartbeat).
        """
        self.budget.check_time()
        now = time.monotonic()
        if not force and now - self._last_beat < HEARTBEAT_SECONDS:
            return
        self._last_beat = now
        self.budget.check_disk()
        if self.job_id is None:
            return
        if self._heartbeat is None:
            from conversions.jobs.heartbeat import Heartbeat

            self._heartbeat = Heartbeat(self.job_id)
        self._heartbeat.beat(self.progress)
