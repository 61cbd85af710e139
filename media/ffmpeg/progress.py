"""ffmpeg's `-progress` file turned into the job's progress percentage.

ffmpeg appends `key=value` blocks to the file about twice a second. The
runner calls `tick()` every quarter second while ffmpeg runs; each call reads
only what was appended since the last one, so a long job costs a few bytes a
tick. `out_time_us` against the probed duration gives the percentage.
"""

import logging

from django.conf import settings

from conversions.errors import ConversionFailed

logger = logging.getLogger(__name__)

PROGRESS_FILE = "ffmpeg-progress.txt"


class ProgressWatcher:
    def __init__(self, ctx, duration, *, start=0.0, span=100.0):
        """`start`/`span`: this step's share of the job's 0-100 (for multi-step jobs)."""
        self.ctx = ctx
        self.duration = max(duration, 0.001)
        self.start = start
        self.span = span
        self.path = ctx.workdir / PROGRESS_FILE
        self.out_seconds = 0.0
        self._offset = 0
        self._partial = b""
        self.path.unlink(missing_ok=True)

    def args(self):
        """The ffmpeg arguments that make it write the file (relative: ffmpeg runs in the work dir)."""
        return ["-progress", f"file:{PROGRESS_FILE}", "-stats_period", "0.5"]

    def tick(self):
        self._read()
        # A header may understate the length; the caps still hold while it runs.
        if self.out_seconds > settings.MEDIA_MAX_DURATION_SECONDS:
            raise ConversionFailed(
                "The media runs longer than its header says and past the length limit; trim it first.",
                code="media_too_long",
            )
        fraction = min(self.out_seconds / self.duration, 1.0)
        self.ctx.set_progress(self.start + self.span * fraction)

    def _read(self):
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read()
        except FileNotFoundError:
            return
        self._offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            key, _, value = line.partition(b"=")
            # out_time_ms is microseconds too (an old ffmpeg naming slip); prefer out_time_us.
            if key == b"out_time_us":
                self._update(value)

    def _update(self, value):
        try:
            micros = int(value)
        except ValueError:  # "N/A" before the first frame
            return
        if micros > 0:
            self.out_seconds = micros / 1_000_000
