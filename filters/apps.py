from django.apps import AppConfig


class FiltersConfig(AppConfig):
    name = "filters"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # filters/ depends on the job lifecycle, never the reverse: it registers how operations run.
        from conversions.jobs import operations
        from filters.services import FilterOperations

        operations.register(FilterOperations())
