"""System checks: settings that would be wrong in production, caught by `manage.py check`."""

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

# Backends that never deliver a message: a password reset sent through them is lost.
UNDELIVERED_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
}


@checks.register(checks.Tags.security, deploy=True)
def check_email_backend(app_configs, **kwargs):
    if settings.EMAIL_BACKEND in UNDELIVERED_EMAIL_BACKENDS:
        return [
            checks.Error(
                f"EMAIL_BACKEND is {settings.EMAIL_BACKEND}: e-mail (password resets) would never reach anyone.",
                hint="Set EMAIL_BACKEND to an SMTP or provider backend (e.g. django.core.mail.backends.smtp."
                "EmailBackend with EMAIL_HOST...) in production.",
                id="convertall.E001",
            )
        ]
    return []


@checks.register(checks.Tags.security)
def check_proxy_networks(app_configs, **kwargs):
    """The Cloudflare list and TRUSTED_PROXIES parse: a typo must not make the web tier trust anyone."""
    from conversions.web.clientip import cloudflare_networks, parse_networks

    errors = []
    try:
        cloudflare_networks()
    except (ImproperlyConfigured, OSError) as exc:
        errors.append(checks.Error(f"convertall/cloudflare_ips.txt: {exc}", id="convertall.E002"))
    try:
        parse_networks(settings.TRUSTED_PROXIES, "TRUSTED_PROXIES", strict=False)
    except ImproperlyConfigured as exc:
        errors.append(checks.Error(str(exc), hint="Give networks such as 10.0.0.0/16.", id="convertall.E003"))
    return errors
