import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convertall.settings")

application = get_wsgi_application()

# Polls of an anonymous job's cached status are answered in front of Django, with Django's bytes.
from conversions.api.status_fast import StatusFastPath  # noqa: E402

application = StatusFastPath(application)

# Embedded default: the three queues are served by threads in this process.
from convertall.broker import start_embedded_workers  # noqa: E402

start_embedded_workers()
