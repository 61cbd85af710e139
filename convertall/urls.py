from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from conversions.ops import health
from conversions.ops.metrics_view import metrics_view
from conversions.api.urls import legacy_urlpatterns

urlpatterns = [
    path("health", health.liveness, name="health"),
    path("api/health", health.liveness, name="api-health-live"),
    path("api/v1/health", health.readiness, name="api-health"),
    path("metrics", metrics_view, name="metrics"),
    path("api/v1/schema", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script under the CSP.
    path("api/docs", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("conversions.api.urls")),
    path("api/v1/", include("filters.urls")),
    path("api/", include(legacy_urlpatterns)),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("", include("conversions.urls")),
]

if settings.BENCH_VIEWS:
    from convertall.bench_views import urlpatterns as bench_urlpatterns

    urlpatterns = bench_urlpatterns + urlpatterns

handler404 = "conversions.web.views.not_found"
handler500 = "conversions.web.views.server_error"
