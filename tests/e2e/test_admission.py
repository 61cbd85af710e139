"""Admission under a burst, against real servers started here (issue 14, items 2, 3 and 8).

- A freshly started embedded default (`make run`'s gunicorn: one process,
  eight threads, SQLite) takes 20 simultaneous MP4 uploads, all of them: the
  registry is whole before the first request, and the embedded default has
  no quotas or rate limit.
- Twenty submissions at once against limits of three admit exactly three,
  for the concurrent-jobs quota, the per-account jobs-a-day quota and the
  rate limit; on SQLite (two web processes sharing one database file) and on
  PostgreSQL + Redis with DJANGO_ENV=production, whose default anonymous
  limit of three jobs at once is the one tested.

Anonymous callers are told apart by X-Forwarded-For (TRUSTED_PROXIES is the
loopback), so each burst is a caller of its own. Each test prints what it saw.
"""

import json
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import requests

from scripts.stack import GUNICORN, Embedded, Stack
from tests import services
from tests.builders import image_bytes
from tests.media.media_builders import make_video

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.timeout(400)]

BURST = 20
LIMIT = 3
SLOW = {"EXTRA_CONVERTER_MODULES": "tests.e2e.slow_converter", "TRUSTED_PROXIES": "127.0.0.1/32"}
PNG = image_bytes("PNG", size=(32, 24))


def burst(n, send):
    """Run `send(i)` n times at once (a barrier releases every thread together); the responses."""
    gate = threading.Barrier(n)
    answers = [None] * n

    def one(i):
        gate.wait()
        try:
            answers[i] = send(i)
        except requests.RequestException as exc:
            answers[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return answers


def outcome(resp):
    if isinstance(resp, Exception):
        return repr(resp)
    if resp.status_code == 202:
        return 202
    try:
        return resp.status_code, resp.json()["error"]["code"]
    except ValueError:
        return resp.status_code, resp.text[:200]


def convert(url, *, seconds=0.0, ip=None, token=None):
    headers = {"X-Forwarded-For": ip} if ip else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.post(
        url + "/api/v1/convert",
        files={"file": ("a.png", PNG, "image/png")},
        data={"targetFormat": "bmp", "options": json.dumps({"seconds": seconds}), "cache": "false"},
        headers=headers,
        timeout=60,
    )


def make_api_key(server, username):
    script = (
        "from django.contrib.auth.models import User; from accounts.keys import key_create; "
        f"u = User.objects.create_user({username!r}); print(key_create(user=u, name='burst')[1])"
    )
    done = server.manage("shell", "-c", script)
    return done.stdout.strip().splitlines()[-1]


class Jobs:
    """Counts job rows straight from the server's database."""

    def __init__(self, server):
        self.server = server

    def count(self, where, *params):
        query = f"SELECT count(*) FROM jobs WHERE {where}"
        if isinstance(self.server, Stack):
            with psycopg.connect(self.server.database_url, connect_timeout=3) as conn:
                return conn.execute(query.replace("?", "%s"), params).fetchone()[0]
        with sqlite3.connect(Path(self.server.var_dir) / "convertall.sqlite3", timeout=20) as conn:
            return conn.execute(query, params).fetchone()[0]


@dataclass
class Rated:
    url: str
    jobs: Jobs


def check_limits(server, rated, label):
    """The three bursts against limits of three; print and assert exactly three admitted each time.

    `rated` is a web server with RATE_LIMIT=3/min: `server` itself with another URL (PostgreSQL),
    or a server of its own (SQLite); its `url` and `jobs` are used.
    """
    jobs = Jobs(server)
    # Concurrent jobs (anonymous): slow jobs stay queued or running through the burst.
    answers = burst(BURST, lambda i: convert(server.url, seconds=8, ip="203.0.113.1"))
    seen = Counter(outcome(r) for r in answers)
    print(f"\n{label} concurrent_jobs={LIMIT}: {dict(seen)}")
    assert seen == {202: LIMIT, (429, "concurrent_limit"): BURST - LIMIT}, seen
    assert jobs.count("client_ip = ?", "203.0.113.1") == LIMIT

    # Jobs a day (per account, an API key's user): quick jobs, so only the day's count refuses.
    token = make_api_key(server, f"burst-{label}")
    answers = burst(BURST, lambda i: convert(server.url, token=token))
    seen = Counter(outcome(r) for r in answers)
    print(f"{label} user jobs_per_day={LIMIT}: {dict(seen)}")
    assert seen == {202: LIMIT, (429, "daily_limit"): BURST - LIMIT}, seen
    assert jobs.count("owner_id = (SELECT id FROM auth_user WHERE username = ?)", f"burst-{label}") == LIMIT

    # The rate limit, on a web server with RATE_LIMIT=3/min (several processes where the counter is in Redis).
    answers = burst(BURST, lambda i: convert(rated.url, ip="203.0.113.3"))
    seen = Counter(outcome(r) for r in answers)
    print(f"{label} RATE_LIMIT={LIMIT}/min: {dict(seen)}")
    assert seen == {202: LIMIT, (429, "rate_limited"): BURST - LIMIT}, seen
    assert rated.jobs.count("client_ip = ?", "203.0.113.3") == LIMIT


def test_a_fresh_embedded_server_accepts_twenty_mp4_uploads_at_once(tmp_path):
    mp4 = tmp_path / "clip.mp4"
    make_video(mp4, seconds=1)
    data = mp4.read_bytes()
    # Nothing set: the embedded default as `make run` starts it (no quotas, no rate limit).
    with Embedded(log_dir=tmp_path) as server:
        started = time.monotonic()

        def send(i):
            if i < BURST:
                files, fields, path = {"file": ("clip.mp4", data, "video/mp4")}, {"targetFormat": "mp3"}, "convert"
            else:  # a few filter jobs in the same burst: the operation registry is whole too
                files, fields = {"file": ("a.png", PNG, "image/png")}, {"operations": '[{"op": "grayscale"}]'}
                path = "filter"
            return requests.post(f"{server.url}/api/v1/{path}", files=files, data=fields, timeout=60)

        answers = burst(BURST + 5, send)
        seen = Counter(outcome(r) for r in answers)
        print(f"\nfresh embedded server, {BURST} mp4 + 5 png filter uploads at once, "
              f"answered {time.monotonic() - started:.1f}s after /health first did: {dict(seen)}")
        assert seen == {202: BURST + 5}, [r.text for r in answers if getattr(r, "status_code", 0) != 202]
        statuses = Counter()
        deadline = time.monotonic() + 120
        pending = [r.json()["statusUrl"] for r in answers]
        while pending and time.monotonic() < deadline:
            body = requests.get(pending[0], timeout=10).json()
            if body["status"] in ("succeeded", "failed"):
                statuses[body["status"]] += 1
                pending.pop(0)
            else:
                time.sleep(0.2)
        print(f"then: {dict(statuses)}")
        assert statuses == {"succeeded": BURST + 5}


def test_limits_of_three_admit_three_on_sqlite(tmp_path):
    (tmp_path / "quotas").mkdir()
    (tmp_path / "rate").mkdir()
    env = {**SLOW, "QUOTA_ANONYMOUS_CONCURRENT_JOBS": str(LIMIT), "QUOTA_USER_JOBS_PER_DAY": str(LIMIT)}
    # Two web processes on one SQLite file: the admission lock must hold across processes.
    with Embedded(log_dir=tmp_path / "quotas", web_workers=2, extra_env=env) as server:
        # The local-memory cache counts per process, so the rate limit is tested as
        # `make run` serves: one process. Its database is its own, its limit 3/min.
        rate_env = {**SLOW, "RATE_LIMIT": f"{LIMIT}/min"}
        with Embedded(log_dir=tmp_path / "rate", web_workers=1, extra_env=rate_env) as rated:
            check_limits(server, Rated(rated.url, Jobs(rated)), "sqlite")


def test_limits_of_three_admit_three_on_postgres_and_redis_in_production(tmp_path):
    services.require(services.postgres_url(), "PostgreSQL is not running and could not be started")
    services.require(services.redis_url(), "Redis is not running and redis-server is not installed")
    services.require(services.s3_endpoint(), "moto_server could not be started")
    production = {
        **SLOW,
        "DJANGO_ENV": "production",  # its default: anonymous callers run three jobs at once
        "SECRET_KEY": "burst-test-" + "k" * 50,
        "SECURE_SSL_REDIRECT": "0",
        "QUOTA_USER_JOBS_PER_DAY": str(LIMIT),
    }
    with Stack(log_dir=tmp_path, web_workers=2, extra_env=production) as stack:
        # A second web server on the same database and Redis, with RATE_LIMIT=3/min.
        port = services.free_port()
        argv = [GUNICORN, "convertall.wsgi", "-c", "convertall/gunicorn.conf.py", "-b", f"127.0.0.1:{port}",
                "--workers", "2", "--threads", "4"]
        web = stack.spawn("web-rate-limited", argv, env={**stack.env, "RATE_LIMIT": f"{LIMIT}/min"})
        assert services.wait_port("127.0.0.1", port, 60, web.proc), web.tail()
        check_limits(stack, Rated(f"http://127.0.0.1:{port}", Jobs(stack)), "postgres+redis")
