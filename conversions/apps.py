from django.apps import AppConfig


class ConversionsConfig(AppConfig):
    name = "conversions"
    default_auto_field = "django.db.models.BigAutoField"
    # Modules that register converters; conversions.engine.registry imports every app's at start-up.
    converter_modules = (
        "conversions.documents.office",
        "conversions.documents.pandoc",
        "conversions.documents.pdf",
        "conversions.documents.ebooks",
        "conversions.documents.fonts",
        "conversions.documents.subtitles",
        "conversions.documents.data",
        "conversions.documents.archive_formats",
    )

    def ready(self):
        from conversions.ops import checks  # noqa: F401  (registers the system checks)

        # Layer d of the sandbox: before any secret is used, so no same-uid tool can read
        # this process's /proc/<pid>/environ or memory (web, workers, scheduler alike).
        from conversions.engine.sandbox import make_nondumpable

        make_nondumpable()

        # Before the web handler loads its middleware, before a worker's first query.
        from convertall import tracing

        tracing.setup()
