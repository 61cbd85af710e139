from django.apps import AppConfig


class MediaConfig(AppConfig):
    # No image library is loaded in web or worker processes: Pillow, pillow-heif
    # and libvips run only in the decoder child (conversions/decoders.py).
    name = "media"
    default_auto_field = "django.db.models.BigAutoField"
    # Registered with conversions' converter registry, which imports them at start-up (media uses conversions,
    # never the reverse).
    converter_modules = (
        "media.converters.images",
        "media.converters.images_more",
        "media.converters.av",
        "media.converters.av_more",
    )
