"""What one job may spend: wall-clock time, disk under its work dir, decoded pixels.

Every job ends: the queue's time limit (QUEUE_TIME_LIMITS, also Dramatiq's
backstop) is the job's time budget, and each tool's own timeout is clamped
to what is left of it, so no tool allowance (media `duration*4+60`, pdf2docx
`pages*10`, a 20-step filter chain) can outlive the job. The budget ends a
few seconds before Dramatiq's limit so that our own clean `timeout` failure,
not the asynchronous Interrupt, is what normally stops a long job.

Disk (JOB_MAX_DISK_MB: every byte under the job's work dir, pages and zips
included) and pixels (JOB_MAX_PIXELS: the sum over every image, page and
frame the job decodes or draws) fail the job clearly when exceeded.
"""

import os
import time

from django.conf import settings

from conversions.errors import ConversionFailed

# Our budget ends this share of the limit (at most GRACE_SECONDS) before Dramatiq's.
GRACE_SECONDS = 5.0
GRACE_SHARE = 0.1


class BudgetExceeded(ConversionFailed):
    """The job used up one of its budgets: a clear failure, never retried."""


class JobTimeout(BudgetExceeded):
    code = "timeout"


def time_limit_seconds(family):
    """The queue's time limit for one job of `family` (DOCUMENTS_TIME_LIMIT_SECONDS...)."""
    return float(settings.QUEUE_TIME_LIMITS.get(family, settings.RUNNER_TIMEOUT_SECONDS))


class JobBudget:
    """One attempt's allowances. `None` limits mean unlimited (a converter run outside a job)."""

    def __init__(self, *, seconds=None, disk_bytes=None, pixels=None, workdir=None):
        self.started = time.monotonic()
        self.seconds = seconds
        self.deadline = None if seconds is None else self.started + max(seconds - self._grace(seconds), 1.0)
        self.disk_bytes = disk_bytes
        self.pixels = pixels
        self.pixels_used = 0
        self.workdir = workdir

    @staticmethod
    def _grace(seconds):
        return min(GRACE_SECONDS, seconds * GRACE_SHARE)

    @classmethod
    def for_job(cls, family, workdir):
        return cls(
            seconds=time_limit_seconds(family),
            disk_bytes=settings.JOB_MAX_DISK_MB * 1024 * 1024 if settings.JOB_MAX_DISK_MB else None,
            pixels=settings.JOB_MAX_PIXELS or None,
            workdir=workdir,
        )

    # --- time -------------------------------------------------------------

    def remaining(self):
        """Seconds left, or None when unlimited."""
        if self.deadline is None:
            return None
        return self.deadline - time.monotonic()

    def check_time(self):
        left = self.remaining()
        if left is not None and left <= 0:
            raise JobTimeout(
                f"The job did not finish within its {self.seconds:g}-second time limit and was stopped; "
                "try a smaller or shorter file.",
            )

    def clamp_timeout(self, timeout):
        """A tool's own timeout, cut to what is left of the job's time (at least one second)."""
        self.check_time()
        left = self.remaining()
        if left is None:
            return timeout
        cut = max(1, int(left) + 1)  # never raises what the tool asked for
        return min(timeout, cut) if timeout else cut

    # --- disk -------------------------------------------------------------

    def disk_used(self):
        return _tree_bytes(self.workdir) if self.workdir is not None else 0

    def disk_left(self):
        """Bytes the job may still write, or None when unlimited."""
        if self.disk_bytes is None or self.workdir is None:
            return None
        return self.disk_bytes - self.disk_used()

    def check_disk(self, slack=0):
        left = self.disk_left()
        if left is not None and left < slack:
            raise BudgetExceeded(
                f"The job wrote more than its {_mb(self.disk_bytes)} MB disk allowance (pages, images and archives "
                "included) and was stopped; try a smaller file or fewer pages.",
                code="disk_budget",
            )

    # --- pixels -----------------------------------------------------------

    def spend_pixels(self, count, what="images"):
        """Count pixels about to be decoded or drawn; fail before they are when over the budget."""
        if self.pixels is None:
            return
        self.pixels_used += int(count)
        if self.pixels_used > self.pixels:
            raise BudgetExceeded(
                f"The {what} of this job add up to {self.pixels_used / 1e6:,.0f} megapixels, more than the "
                f"{self.pixels / 1e6:,.0f}-megapixel allowance per job; use fewer pages, a lower dpi or smaller images.",
                code="pixel_budget",
            )


UNLIMITED = JobBudget()


def _mb(n):
    return f"{n / (1024 * 1024):,.0f}"


def _tree_bytes(root):
    """Bytes under `root`, each file once however many hard links it has."""
    total = 0
    seen = set()
    stack = [str(root)]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        elif entry.is_file(follow_symlinks=False):
                            st = entry.stat(follow_symlinks=False)
                            if (st.st_dev, st.st_ino) not in seen:
                                seen.add((st.st_dev, st.st_ino))
                                total += max(st.st_size, st.st_blocks * 512)
                    except FileNotFoundError:
                        continue
        except FileNotFoundError:
            continue
    return total
