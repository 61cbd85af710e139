"""Worker heartbeats in Redis, and the job context of a worker's logs.

`WorkerObservability` is a Dramatiq middleware (settings.DRAMATIQ_BROKER):

- when a worker boots, a daemon thread stamps ``<host>:<pid>`` with the time
  in one sorted set per queue it consumes, ``convertall:workers:<queue>``,
  every WORKER_HEARTBEAT_SECONDS. A worker that dies (kill -9, lost machine)
  stops stamping; `live_workers()` counts the members stamped within three
  intervals (and drops older ones) for `/api/v1/health` and `/metrics`. One
  small set per queue: no SCAN over a keyspace full of cached job statuses.
- while a message is processed, the job id and family are bound to the
  thread's log context (`conversions.ops.logcontext`).

Dramatiq's own ``dramatiq:__heartbeats__`` set says a consumer is alive but
not which queue it serves, which is what health needs to know.
"""

import logging
import os
import socket
import threading
import time

from django.conf import settings
from dramatiq.middleware import Middleware

from conversions.engine.registry import FAMILIES
from conversions.ops import logcontext

logger = logging.getLogger(__name__)

KEY_PREFIX = "convertall:workers"
QUEUES = FAMILIES  # one queue per converter family


def _client():
    from conversions.ops.metrics import store

    s = store()
    return getattr(s, "client", None)


def _queues_of(worker):
    queues = worker.consumer_whitelist or set(worker.broker.get_declared_queues())
    return sorted(q for q in queues if not q.endswith((".DQ", ".XQ")))


class _Beat(threading.Thread):
    def __init__(self, worker):
        super().__init__(name="convertall-heartbeat", daemon=True)
        self.queues = _queues_of(worker)
        self.threads = worker.worker_threads
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self.member = f"{self.worker_id}/{self.threads}"  # the thread count rides along
        self.stopping = threading.Event()

    def keys(self):
        return [f"{KEY_PREFIX}:{q}" for q in self.queues]

    def beat(self, client):
        now = time.time()
        pipe = client.pipeline(transaction=False)
        for key in self.keys():
            pipe.zadd(key, {self.member: now})
        pipe.execute()

    def run(self):
        client = _client()
        if client is None:
            return
        while not self.stopping.is_set():
            try:
                self.beat(client)
            except Exception as exc:  # Redis down: keep trying, the broker will complain louder
                logger.warning("worker heartbeat failed: %s", exc)
            self.stopping.wait(settings.WORKER_HEARTBEAT_SECONDS)
        try:
            for key in self.keys():
                client.zrem(key, self.member)
        except Exception:
            pass


def _remove_orphan_workdirs():
    from conversions.jobs.reconcile import remove_orphan_workdirs

    try:
        remove_orphan_workdirs()
    except Exception:  # a database hiccup at start must not stop the worker
        logger.exception("could not look for the work dirs of dead workers")


class WorkerObservability(Middleware):
    def __init__(self):
        self._beat = None
        # Not message.options: Retries re-encodes those, and tokens are not JSON.
        self._local = threading.local()

    def after_worker_boot(self, broker, worker):
        self._beat = _Beat(worker)
        self._beat.start()
        logger.info("worker up queues=%s threads=%s", ",".join(self._beat.queues), self._beat.threads)
        _remove_orphan_workdirs()

    def before_worker_shutdown(self, broker, worker):
        if self._beat is not None:
            self._beat.stopping.set()

    def before_process_message(self, broker, message):
        job = message.args[0] if message.args else ""
        self._local.tokens = logcontext.bind_job(job, message.queue_name)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        tokens = getattr(self._local, "tokens", None)
        self._local.tokens = None
        if tokens is not None:
            logcontext.unbind_job(tokens)

    after_skip_message = after_process_message


def live_workers(queues=QUEUES):
    """{queue: [{"worker": host:pid, "age": seconds since its last beat, "threads": n}]}."""
    client = _client()
    out = {}
    if client is None:
        return out
    now = time.time()
    oldest = now - 3 * settings.WORKER_HEARTBEAT_SECONDS
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        key = f"{KEY_PREFIX}:{queue}"
        pipe.zremrangebyscore(key, "-inf", f"({oldest}")  # dead workers' stamps
        pipe.zrange(key, 0, -1, withscores=True)
    replies = pipe.execute()
    for n, queue in enumerate(queues):
        members = replies[2 * n + 1]
        if members:
            out[queue] = [_describe(m.decode(), now - at) for m, at in members]
    return out


def _describe(member, age):
    worker, _, threads = member.rpartition("/")
    return {"worker": worker, "age": round(age, 1), "threads": int(threads) if threads.isdigit() else None}


def scheduler_running():
    """Whether a scheduler holds dramatiq-crontab's lock (None without Redis)."""
    client = _client()
    if client is None:
        return None
    return bool(client.exists("dramatiq-scheduler"))
