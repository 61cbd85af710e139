"""API key services: create, revoke, and find the user behind a bearer token."""

import logging
from datetime import timedelta

from django.utils import timezone

from accounts.models import ApiKey, hash_key

logger = logging.getLogger(__name__)

# last_used_at is written at most this often per key: not one UPDATE per request.
TOUCH_EVERY = timedelta(seconds=60)


def bearer_token(request):
    """The token of an `Authorization: Bearer ...` header, or None."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def key_for_token(token):
    """The active key for a raw token, or None. Cached on nothing: the hash is indexed."""
    if not token:
        return None
    return ApiKey.objects.active().select_related("user").filter(key_hash=hash_key(token)).first()


def key_touch(key):
    now = timezone.now()
    # Conditional: concurrent requests with one key write once a minute, not each time.
    ApiKey.objects.filter(pk=key.pk).exclude(last_used_at__gt=now - TOUCH_EVERY).update(last_used_at=now)


def key_create(*, user, name):
    name = (name or "").strip()[:100] or "API key"
    key, raw = ApiKey.generate(user=user, name=name)
    logger.info("api key created user=%s key=%s", user.pk, key.prefix)
    return key, raw


def key_revoke(*, user, key_id):
    """Revoke one of this user's keys; False when it is not theirs or already revoked."""
    done = ApiKey.objects.filter(pk=key_id, user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if done:
        logger.info("api key revoked user=%s key_id=%s", user.pk, key_id)
    return bool(done)
