"""Name the infrastructure failures a worker meets, in words a user can act on.

A full temporary disk or an unreachable S3 is worth another attempt (another
worker, a moment later), but if every attempt fails the job's error should
say what happened rather than "server error".
"""

import errno

from conversions.errors import TransientError

_DISK_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


def _chain(exc):
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


def explain(exc):
    """A TransientError with a clear code and message for a known cause, else `exc`."""
    for cause in _chain(exc):
        if isinstance(cause, OSError) and cause.errno in _DISK_ERRNOS:
            return TransientError(
                "The server ran out of temporary disk space while converting this file; "
                "try again later or with a smaller file.",
                code="disk_full",
            )
        if _storage_unreachable(cause):
            return TransientError(
                "The file storage could not be reached while the job ran; try again in a few minutes.",
                code="storage_unavailable",
            )
    return exc


def _storage_unreachable(exc):
    try:
        from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
    except ImportError:
        return False
    return isinstance(exc, (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError))
