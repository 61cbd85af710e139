"""filters/' API routes, mounted under /api/v1/ by the project (convertall/urls.py)."""

from django.urls import path

from filters.api import FilterView, OperationsView

urlpatterns = [
    path("filter", FilterView.as_view(), name="api-filter"),
    path("operations", OperationsView.as_view(), name="api-operations"),
]
