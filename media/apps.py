from django.apps import AppConfig


class MediaConfig(AppConfig):
    # No image library is loaded in web or worker processes: Pillow, pillow-heif
    # and libvips run only in the decoder child (conversions/decoders.py).
    name = "media"
    default_auto_field = "django.db.models.BigAutoField"
