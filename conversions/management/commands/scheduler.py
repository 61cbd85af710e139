"""`manage.py scheduler`: the one periodic runner (requeue lost jobs, purge old files).

Built on dramatiq-crontab's pieces: its APScheduler scheduler class and its
Redis lock (key ``dramatiq-scheduler``, TTL DRAMATIQ_CRONTAB["LOCK_TIMEOUT"],
extended every LOCK_REFRESH_INTERVAL seconds), so only one scheduler runs at a
time however many are started. Differences from its own `crontab` command:

- The tasks run here, in the scheduler's threads, not as messages for a
  worker: the reconciler exists for when the broker lost messages or a worker
  died, so it must not depend on either.
- A second instance waits as a hot standby instead of exiting, and a leader
  that loses the lock (Redis restarted empty and the key is gone) goes back to
  waiting for it instead of exiting: after a Redis restart one scheduler
  carries on within LOCK_TIMEOUT seconds.
"""

import logging
import signal
import threading

from apscheduler.triggers.interval import IntervalTrigger
from django.core.management.base import BaseCommand
from dramatiq_crontab import LazyBlockingScheduler, conf, utils
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from conversions.jobs import maintenance

logger = logging.getLogger("conversions.scheduler")


class _Stop(BaseException):
    """Raised by the signal handler; a BaseException so that no `except Exception`
    on the way (APScheduler's, Redis's, a task's) can swallow the stop."""


class Command(BaseCommand):
    help = "Run the periodic maintenance tasks (one instance at a time, through a Redis lock)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run every task once now and exit (no lock)")

    def handle(self, *args, **options):
        if options["once"]:
            for name, fn, _ in maintenance.tasks():
                maintenance.run_task(name, fn)
            return
        self._stopping = threading.Event()
        self._standby = False  # log the wait once, not every LOCK_BLOCKING_TIMEOUT seconds
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        try:
            while not self._stopping.is_set():
                self._lead_when_possible()
        except _Stop:
            pass
        logger.info("scheduler stopped")

    def _on_signal(self, signum, frame):
        self._stopping.set()
        raise _Stop()

    def _lead_when_possible(self):
        lock = utils.lock
        try:
            # blocking_timeout bounds each wait so that a signal is seen promptly.
            if not lock.acquire(blocking_timeout=conf.get_settings().LOCK_BLOCKING_TIMEOUT):
                if not self._standby:
                    logger.info("another scheduler holds the lock; waiting as standby")
                self._standby = True
                return
        except (RedisConnectionError, RedisTimeoutError) as exc:
            logger.warning("Redis unavailable for the scheduler lock: %s; retrying", exc)
            self._stopping.wait(2)
            return
        self._standby = False
        logger.info("scheduler lock acquired; running %s", ", ".join(n for n, _, _ in maintenance.tasks()))
        try:
            self._run(lock)
        finally:
            try:
                lock.release()
            except (utils.LockError, RedisConnectionError, RedisTimeoutError):
                pass  # the lock is gone already (expired, or Redis restarted)

    def _run(self, lock):
        scheduler = LazyBlockingScheduler()
        for name, fn, seconds in maintenance.tasks():
            # First run at once: a restarted scheduler catches up immediately.
            scheduler.add_job(
                maintenance.run_task,
                IntervalTrigger(seconds=seconds),
                args=(name, fn),
                name=name,
                next_run_time=_now(),
                max_instances=1,
                coalesce=True,
            )
        scheduler.add_job(
            _keep_lock,
            IntervalTrigger(seconds=conf.get_settings().LOCK_REFRESH_INTERVAL),
            args=(lock, scheduler),
            name="scheduler-lock",
        )
        try:
            scheduler.start()  # blocks until _keep_lock shuts it down, or a signal
        except _Stop:
            scheduler.shutdown(wait=False)
            raise
        logger.warning("scheduler lost its lock; waiting to re-acquire it")


def _keep_lock(lock, scheduler):
    try:
        lock.extend(conf.get_settings().LOCK_TIMEOUT, replace_ttl=True)
    except utils.LockError:
        scheduler.shutdown(wait=False)
    except (RedisConnectionError, RedisTimeoutError) as exc:
        # Keep running through a short outage; when Redis is back the extend
        # tells whether the lock survived it.
        logger.warning("could not extend the scheduler lock: %s", exc)


def _now():
    from django.utils import timezone

    return timezone.now()
