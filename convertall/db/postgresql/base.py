"""Django's PostgreSQL backend with a health check that costs no transaction.

Django's CONN_HEALTH_CHECKS runs `SELECT 1` before the first query of every
request and every worker message on a reused connection: one PostgreSQL
transaction each (a commit counted like any other, issue 12). A connection
that the server closed (restart, failover, pg_terminate_backend, an idle
timeout) has something to read on an otherwise idle socket: the server's
last error message, or the end of the stream. So the socket is polled
without waiting first, and only a connection with something to read (or no
socket) pays Django's `SELECT 1` and is closed when that fails. A healthy
idle connection has nothing to read: libpq consumes every result of the
previous query, and this project does not LISTEN.
"""

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self):
        if self.connection is None or not self.health_check_enabled or self.health_check_done or self.pool:
            return super().close_if_health_check_failed()
        if not _has_news(self.connection):
            self.health_check_done = True
            return None
        return super().close_if_health_check_failed()


def _has_news(conn):
    """True when the idle connection's socket is readable (or gone): the server spoke or hung up."""
    try:
        readable, _, errored = select.select([conn.fileno()], [], [conn.fileno()], 0)
    except Exception:  # closed or broken: let Django's check decide
        return True
    return bool(readable or errored)
