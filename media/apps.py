from django.apps import AppConfig


class MediaConfig(AppConfig):
    name = "media"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # pillow-heif bundles its own libheif; libvips (pyvips, loaded with the
        # filters URLs) links the system one. Whichever loads first wins the
        # shared symbols, and if it is libvips, the first HEIC that Pillow
        # decodes segfaults the process. Loading pillow-heif here, during
        # django.setup(), comes before any URLconf or filter import; both
        # libraries work in that order.
        import pillow_heif  # noqa: F401
