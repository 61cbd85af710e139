"""What one job costs PostgreSQL on the real path: transactions counted, not timed (issue 12, item 3).

The web's submit, the worker's claim, run and finish, and the download, in
autocommit as in production (each statement outside an atomic block is a
transaction of its own). The bench (bench/costs.py) counts the same thing on
the production-shaped stack from pg_stat_database.
"""

import select
import time
import traceback
from contextlib import contextmanager

import pytest
from django.db import close_old_connections, connection, connections

from conversions.models import Job, JobStatus
from tests.builders import image_bytes, upload
from tests.conftest import drain

PROJECT = ("/conversions/", "/filters/", "/accounts/", "/media/", "/convertall/")


def _where():
    for frame in reversed(traceback.extract_stack()[:-3]):
        if any(p in frame.filename for p in PROJECT) and "/.venv/" not in frame.filename:
            return f"{frame.filename.rsplit('/', 2)[-2]}/{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} {frame.name}"
    return "?"


class Transactions:
    """Every statement on the default connection, and the transactions they made."""

    def __init__(self):
        self.statements, self.count, self._open = [], 0, False

    def __call__(self, execute, sql, params, many, context):
        if connection.in_atomic_block:
            if not self._open:
                self._open, self.count = True, self.count + 1
        else:
            self.count += 1
        self.statements.append((self.count, "atomic" if connection.in_atomic_block else "autocommit", sql[:90], _where()))
        return execute(sql, params, many, context)

    def ended(self):
        self._open = False

    def report(self):
        return "\n".join(f"T{n} {mode:10} {sql:90} {where}" for n, mode, sql, where in self.statements)


@contextmanager
def counting(monkeypatch):
    """Statements through Django, and Django's health check (a `SELECT 1` of its own when it runs)."""
    tx = Transactions()
    is_usable = connection.is_usable

    def checked():
        tx.count += 1
        tx.statements.append((tx.count, "autocommit", "SELECT 1 (health check)", "django"))
        return is_usable()

    monkeypatch.setattr(connection, "is_usable", checked)
    for name in ("commit", "rollback"):
        original = getattr(connection, name)

        def ended(original=original):
            tx.ended()
            return original()

        monkeypatch.setattr(connection, name, ended)
    with connection.execute_wrapper(tx):
        yield tx


def boundary():
    """What a request's start (and django_dramatiq's per-message middleware) does; the test client skips it."""
    close_old_connections()


@pytest.mark.django_db(transaction=True)
def test_one_small_job_costs_few_transactions(api, settings, monkeypatch):
    assert connection.vendor == "postgresql", "counted on PostgreSQL, as in production"
    settings.QUOTAS = {**settings.QUOTAS, "anonymous": {**settings.QUOTAS["anonymous"], "jobs_per_day": 50,
                                                         "concurrent_jobs": 3}}  # fmt: skip
    data = image_bytes(size=(64, 48))
    connection.ensure_connection()
    with counting(monkeypatch) as tx:
        boundary()
        resp = api.post("/api/v1/convert", {"file": upload("p.png", data), "targetFormat": "webp"}, format="multipart")
        assert resp.status_code == 202, resp.content
        submitted = tx.count
        boundary()
        drain()
        ran = tx.count
        job_id = resp.json()["jobId"]
        boundary()
        assert api.get(f"/api/v1/status/{job_id}").json()["status"] == JobStatus.SUCCEEDED
        polled = tx.count
        boundary()
        assert api.get(f"/api/v1/download/{job_id}").status_code in (200, 302)
    print(tx.report())
    assert Job.objects.get(pk=job_id).status == JobStatus.SUCCEEDED
    # Submit: T1 the early checks read together (quota counts, result cache, queue depth), before the
    # upload is stored; T2 the admission (advisory lock, recount, insert, "created" event).
    assert submitted == 2, tx.report()
    # Worker: T3 the claim (conditional UPDATE, its row, "started" event); T4 the finish (conditional
    # UPDATE, "succeeded" event). enqueued_at rides on the claim; the status cache is written, not re-read.
    assert ran - submitted == 2, tx.report()
    # No health check `SELECT 1` at any boundary (convertall/db/postgresql polls the socket instead).
    # The status poll and the download answer from the status cache.
    assert tx.count - ran == 0, tx.report()


@pytest.mark.django_db(transaction=True)
def test_the_health_check_of_an_idle_connection_costs_no_query(monkeypatch):
    connection.ensure_connection()
    close_old_connections()  # a request starts: the connection is to be checked before its first query
    with counting(monkeypatch) as tx:
        Job.objects.count()
    assert tx.count == 1, tx.report()  # the count itself, no SELECT 1 before it


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_ended_is_replaced_before_the_first_query():
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not select.select([connection.connection.fileno()], [], [], 0.1)[0]:
        pass
    close_old_connections()
    assert Job.objects.count() >= 0  # no "terminating connection" error: a new connection answered
    assert connection.connection.info.backend_pid != pid


@pytest.mark.django_db(transaction=True)
def test_a_direct_uploads_job_costs_three_transactions(api, settings, monkeypatch, s3_storages):
    """The production path (the page sends the file to S3 itself): one commit in the web, two in the worker."""
    from tests.conversions.files.test_direct_uploads import uploaded

    assert connection.vendor == "postgresql", "counted on PostgreSQL, as in production"
    upload_id = uploaded(api, image_bytes(size=(64, 48)))
    connection.ensure_connection()
    with counting(monkeypatch) as tx:
        boundary()
        resp = api.post("/api/v1/convert", {"uploadId": upload_id, "targetFormat": "webp"}, format="json")
        assert resp.status_code == 202, resp.content
        submitted = tx.count
        boundary()
        drain()
        ran = tx.count
        boundary()
        assert api.get(f"/api/v1/status/{resp.json()['jobId']}").json()["status"] == JobStatus.SUCCEEDED
    print(tx.report())
    # Submit: T1 the quota counts, the upload's row, the queue depth, the admission, the insert, the
    # upload's hand-over and the "created" event, in one commit (nothing is stored in between).
    assert submitted == 1, tx.report()
    assert ran - submitted == 2, tx.report()  # the claim and the finish
    assert tx.count - ran == 0, tx.report()
