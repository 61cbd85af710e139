"""Account services that write."""

from conversions.jobs.services import jobs_claim_for_user


def claim_browser_jobs(user, session_key):
    """This browser's anonymous jobs join the account it signs in to.

    Called with the session key from before log-in: Django rotates the key on
    log-in, after which the anonymous history could no longer be found. The
    job rows change through the job lifecycle, which keeps their cached status.
    """
    return jobs_claim_for_user(user=user, session_key=session_key)
