"""Quotas per kind of user (anonymous, signed-in, staff), from settings.QUOTAS.

One service, called from the convert and filter paths and the upload
middleware, so the API and the pages enforce the same limits. Jobs per day
count from 00:00 UTC; anonymous callers are counted by client IP.

Admission is atomic: `admitted(job)` is the transaction that inserts a job
row, and it counts the caller's jobs and inserts the new one while no other
admission of the same caller can run (see `_serialize`). Twenty uploads at
once against a limit of three admit exactly three. `enforce()` is the same
check without the lock, made early so that most refusals cost no sniffing
and no storage; it is not what keeps the limit.
"""

import hashlib
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone as dt_timezone

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from conversions.errors import ConvertAllError
from conversions.models import ACTIVE_STATUSES, Job

logger = logging.getLogger(__name__)

TIER_NAMES = {"anonymous": "anonymous users", "user": "signed-in users", "staff": "staff"}


class QuotaExceeded(ConvertAllError):
    status, code = 429, "quota_exceeded"


@dataclass(frozen=True)
class Limits:
    tier: str
    max_upload_bytes: int
    jobs_per_day: int  # 0: no limit
    concurrent_jobs: int  # 0: no limit
    retention_hours: int

    @property
    def max_upload_mb(self):
        return self.max_upload_bytes / (1024 * 1024)


def tier_of(user):
    if user is None or not user.is_authenticated:
        return "anonymous"
    return "staff" if user.is_staff else "user"


def limits_for(user):
    tier = tier_of(user)
    raw = settings.QUOTAS[tier]
    ceiling = settings.MAX_UPLOAD_BYTES
    own = raw.get("max_upload_mb", 0) * 1024 * 1024
    return Limits(
        tier=tier,
        max_upload_bytes=min(own, ceiling) if own else ceiling,
        jobs_per_day=raw.get("jobs_per_day", 0),
        concurrent_jobs=raw.get("concurrent_jobs", 0),
        retention_hours=raw.get("retention_hours", 0) or settings.OUTPUT_RETENTION_HOURS,
    )


def max_upload_bytes(user):
    return limits_for(user).max_upload_bytes


def upload_limit_whose(user):
    """Words naming whose size limit it is, for the 413 message (the upload handler appends them)."""
    limits = limits_for(user)
    if limits.tier != "anonymous":
        return f" for {TIER_NAMES[limits.tier]}"
    signed_in = limits_for(_SignedIn()).max_upload_bytes
    more = f" (sign in to upload up to {signed_in / (1024 * 1024):g} MB)" if signed_in > limits.max_upload_bytes else ""
    return f" for anonymous users{more}"


class _SignedIn:
    """Stands for any signed-in, non-staff user when only the tier matters."""

    is_authenticated = True
    is_staff = False


def retention_hours(owner_id):
    """Output retention for a job's owner (None: anonymous)."""
    user = get_user_model().objects.filter(pk=owner_id).first() if owner_id else None
    return limits_for(user).retention_hours


def day_start(now=None):
    now = now or timezone.now()
    return datetime.combine(now.astimezone(dt_timezone.utc).date(), time.min, tzinfo=dt_timezone.utc)


def _caller(user, client_ip, session_key):
    """Who is counted: a user, else the client IP, else the browser session; None: nobody to count."""
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    if client_ip:
        return f"ip:{client_ip}"
    if session_key:
        return f"session:{session_key}"
    return None


def _jobs_of(user, client_ip, session_key):
    if user is not None and user.is_authenticated:
        return Job.objects.filter(owner=user)
    if client_ip:
        return Job.objects.filter(owner__isnull=True, client_ip=client_ip)
    if session_key:
        return Job.objects.filter(owner__isnull=True, session_key=session_key)
    return Job.objects.none()


def usage(user, client_ip=None, session_key=""):
    """What this caller used: jobs today, jobs running now, and when the day resets."""
    jobs = _jobs_of(user, client_ip, session_key)
    start = day_start()
    return {
        "jobs_today": jobs.filter(created_at__gte=start).count(),
        "active_jobs": jobs.filter(status__in=ACTIVE_STATUSES).count(),
        "resets_at": start + timedelta(days=1),
    }


def _until(moment):
    seconds = max(int((moment - timezone.now()).total_seconds()) + 1, 1)
    hours, rest = divmod(seconds, 3600)
    text = f"{hours} h {rest // 60} min" if hours else f"{max(rest // 60, 1)} min"
    return seconds, text


def enforce(*, user, client_ip=None, session_key=""):
    """Raise QuotaExceeded (429 + Retry-After) when this caller may not start another job.

    The early check, before the upload is sniffed and stored; `admitted()`
    repeats it atomically when the job row is inserted.
    """
    limits = limits_for(user)
    if limits.jobs_per_day or limits.concurrent_jobs:
        _check(limits, user, client_ip, session_key)
    return limits


@contextmanager
def admitted(job):
    """The transaction that inserts the new `job`; entered only if its caller may start it.

    Inside it the caller's admissions are serialized, the caller's jobs are
    counted and (in the `with` body) the row is inserted, all before the
    commit releases the next admission of that caller, which then counts
    this job too. Raises QuotaExceeded before the body runs.
    """
    user, client_ip, session_key = job.owner, job.client_ip, job.session_key
    limits = limits_for(user)
    with transaction.atomic():
        caller = _caller(user, client_ip, session_key)
        if caller is not None and (limits.jobs_per_day or limits.concurrent_jobs):
            _serialize(caller)
            _check(limits, user, client_ip, session_key)
        yield


# Names this lock space among PostgreSQL advisory locks (two-key form: class, caller hash).
ADVISORY_LOCK_CLASS = 7411


def _serialize(caller):
    """Hold, until this transaction ends, a lock that every admission of `caller` takes.

    PostgreSQL: a transaction-level advisory lock on a hash of the caller.
    Chosen over a row lock (select_for_update on a per-caller counter row)
    because it needs no table: no row to create first (itself a race), none
    to purge, and commit, rollback or a dropped connection releases it. Two
    callers sharing a hash only wait for each other. Counting after it, under
    READ COMMITTED, sees every job a previous holder committed.

    SQLite: the settings open every transaction with BEGIN IMMEDIATE, which
    takes the database's one write lock at BEGIN, so no other thread or
    process can insert a job between this count and this insert. That also
    serializes other writers for those few milliseconds, which SQLite does
    anyway at commit.
    """
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("quotas: admission must run inside transaction.atomic()")
    if connection.vendor == "postgresql":
        digest = int.from_bytes(hashlib.blake2b(caller.encode(), digest_size=4).digest(), "big", signed=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [ADVISORY_LOCK_CLASS, digest])
    elif connection.vendor == "sqlite":
        if connection.settings_dict.get("OPTIONS", {}).get("transaction_mode") != "IMMEDIATE":
            raise ImproperlyConfigured("SQLite needs OPTIONS transaction_mode IMMEDIATE for atomic quotas")
    else:
        raise ImproperlyConfigured(f"quotas: no atomic admission on {connection.vendor}")


def _check(limits, user, client_ip, session_key):
    used = usage(user, client_ip, session_key)
    who = TIER_NAMES[limits.tier]
    if limits.jobs_per_day and used["jobs_today"] >= limits.jobs_per_day:
        more = _sign_in_lifts(limits, "jobs_per_day")
        seconds, text = _until(used["resets_at"])
        logger.info("quota hit tier=%s limit=jobs_per_day ip=%s user=%s", limits.tier, client_ip, getattr(user, "pk", None))
        raise QuotaExceeded(
            f"Daily limit reached: {limits.jobs_per_day} conversions a day for {who}. "
            f"It resets at 00:00 UTC, in {text}.{more}",
            code="daily_limit",
            headers={"Retry-After": str(seconds)},
        )
    if limits.concurrent_jobs and used["active_jobs"] >= limits.concurrent_jobs:
        more = _sign_in_lifts(limits, "concurrent_jobs")
        logger.info("quota hit tier=%s limit=concurrent_jobs ip=%s user=%s", limits.tier, client_ip, getattr(user, "pk", None))
        raise QuotaExceeded(
            f"Too many conversions at once: {who} may run {limits.concurrent_jobs} at a time. "
            f"Try again when one of them finishes (a few seconds).{more}",
            code="concurrent_limit",
            headers={"Retry-After": "5"},
        )


def _sign_in_lifts(limits, name):
    """The hint for an anonymous caller, only where signing in gives more of `name` (0: no limit)."""
    if limits.tier != "anonymous":
        return ""
    signed_in = getattr(limits_for(_SignedIn()), name)
    return " Sign in for higher limits." if not signed_in or signed_in > getattr(limits, name) else ""
