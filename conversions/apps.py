from django.apps import AppConfig


class ConversionsConfig(AppConfig):
    name = "conversions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from conversions import checks  # noqa: F401  (registers the system checks)
