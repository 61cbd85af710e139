import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

KEY_PREFIX = "ca_"


def hash_key(raw):
    """Keys are long random tokens, so one SHA-256 is enough (no slow KDF needed)."""
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiKeyQuerySet(models.QuerySet):
    def active(self):
        """Keys that still authenticate (not revoked)."""
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """An API key: the raw token is shown once; only its hash is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="The first characters, to recognise a key in a list.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self):
        return self.revoked_at is None

    @classmethod
    def generate(cls, *, user, name):
        """A new key; returns (row, raw_token). The raw token is never stored."""
        raw = KEY_PREFIX + secrets.token_urlsafe(32)
        key = cls.objects.create(user=user, name=name, prefix=raw[:10], key_hash=hash_key(raw))
        return key, raw
