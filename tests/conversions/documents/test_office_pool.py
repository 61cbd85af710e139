"""A pool of warm LibreOffice instances: two documents convert at once on a pool of 2.

Real bridges and real soffices; what is observed is only when each call to a
bridge starts and ends (a wrapper around BridgeProcess.call, the boundary).
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conversions.documents import office_bridge as ob
from conversions.documents.office import OfficeJob
from tests.documents_fixtures import WORDS, pdf_text
from tests.services import require


@pytest.fixture
def pool(settings):
    require(Path("/usr/bin/python3").exists(), "Debian's python3 (for python3-uno) is missing")
    managers = []

    def make(size):
        settings.OFFICE_POOL_SIZE = size
        managers.append(ob.OfficeManager())
        return managers[-1]

    yield make
    for manager in managers:
        manager.shutdown()


@pytest.fixture
def calls(monkeypatch):
    """(bridge pid, started, finished) of every call a bridge answered."""
    seen, lock = [], threading.Lock()
    real = ob.BridgeProcess.call

    def timed(self, request, timeout, on_tick=None):
        started = time.monotonic()
        reply = real(self, request, timeout, on_tick)
        with lock:
            seen.append((self.proc.pid, started, time.monotonic()))
        return reply

    monkeypatch.setattr(ob.BridgeProcess, "call", timed)
    return seen


@pytest.fixture
def threads():
    """Long-lived threads, as a worker's are: a sandboxed bridge dies with the thread that started it."""
    with ThreadPoolExecutor(max_workers=2) as executor:
        yield executor


def convert_all(threads, manager, jobs):
    """Each job on its own thread, released together; the replies in order."""
    barrier = threading.Barrier(len(jobs))

    def one(job):
        barrier.wait(60)
        return manager.convert(job.request())

    return list(threads.map(one, jobs, timeout=300))


def docx_jobs(documents, tmp_path, tag, count=2):
    return [
        OfficeJob.plan(documents["long_docx"], "docx", tmp_path / f"{tag}-{i}.pdf", "pdf") for i in range(count)
    ]


def overlapped(a, b):
    return max(a[1], b[1]) < min(a[2], b[2])


def test_two_conversions_run_at_once_on_a_pool_of_two(pool, calls, threads, documents, tmp_path):
    manager = pool(2)
    convert_all(threads, manager, docx_jobs(documents, tmp_path, "warm-up"))  # both soffices started
    assert manager.starts == 2 and len(manager.bridge_pids) == 2
    calls.clear()

    jobs = docx_jobs(documents, tmp_path, "pair")
    replies = convert_all(threads, manager, jobs)

    assert all(reply and reply.get("ok") for reply in replies)
    for job in jobs:
        assert WORDS.lower() in pdf_text(job.dst).lower()
    assert {pid for pid, *_ in calls} == set(manager.bridge_pids)
    assert overlapped(*calls), f"the two calls did not overlap: {calls}"
    assert manager.starts == 2 and manager.calls == 4


def test_a_pool_of_one_converts_one_at_a_time(pool, calls, threads, documents, tmp_path):
    manager = pool(1)
    replies = convert_all(threads, manager, docx_jobs(documents, tmp_path, "one"))

    assert all(reply and reply.get("ok") for reply in replies)
    assert manager.starts == 1 and len({pid for pid, *_ in calls}) == 1
    assert not overlapped(*calls)


def test_a_quiet_pool_keeps_one_instance(pool, calls, documents, tmp_path):
    manager = pool(2)
    for job in docx_jobs(documents, tmp_path, "quiet", count=3):
        assert manager.convert(job.request())["ok"]
    assert manager.starts == 1 and len(manager.bridge_pids) == 1
