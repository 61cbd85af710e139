"""Start-up: build every process's shared state before it answers anything."""

from django.apps import AppConfig


class ConvertAllConfig(AppConfig):
    """Listed last in INSTALLED_APPS, so its ready() runs after every other app's.

    The converter registry, the filter operations and the libmagic handle are
    built whole here, in django.setup(), which gunicorn workers, Dramatiq
    workers (django_dramatiq) and manage.py commands all run before their
    first request or message. Last, so every app has declared its converter
    modules (media/apps.py) before the registry is built. (No image library
    loads here: libvips and pillow-heif run in the decoder child, in the
    order media/vips.py sets.)
    """

    name = "convertall"
    label = "convertall"

    def ready(self):
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured

        from conversions.engine import sniff
        from conversions.api.throttles import parse_rate
        from conversions.engine.registry import registry
        from filters.vocabulary import operations

        try:
            parse_rate(settings.RATE_LIMIT)  # a typo fails the start, not every upload
        except ValueError as exc:
            raise ImproperlyConfigured(str(exc)) from None
        registry.load()
        operations.load()
        sniff.detector()
