"""Account services that write."""

import logging

from conversions.models import Job

logger = logging.getLogger(__name__)


def claim_browser_jobs(user, session_key):
    """This browser's anonymous jobs join the account it signs in to.

    Called with the session key from before log-in: Django rotates the key on
    log-in, after which the anonymous history could no longer be found.
    """
    if not session_key:
        return 0
    moved = Job.objects.filter(owner__isnull=True, session_key=session_key).update(owner=user, session_key="")
    if moved:
        logger.info("anonymous jobs claimed user=%s jobs=%s", user.pk, moved)
    return moved
