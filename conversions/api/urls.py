from django.urls import path

from conversions.api import views

urlpatterns = [
    path("convert", views.ConvertView.as_view(), name="api-convert"),
    path("uploads", views.UploadsView.as_view(), name="api-uploads"),
    path("status/<str:job_id>", views.StatusView.as_view(), name="api-status"),
    path("download/<str:job_id>", views.DownloadView.as_view(), name="api-download"),
    path("jobs", views.JobsListView.as_view(), name="api-jobs"),
    path("jobs/<str:job_id>", views.JobView.as_view(), name="api-job"),
    path("formats", views.FormatsView.as_view(), name="api-formats"),
]

# The seed's unversioned paths, kept for scripts that use them.
legacy_urlpatterns = [
    path("convert", views.ConvertView.as_view(), name="api-convert-legacy"),
    path("status/<str:job_id>", views.StatusView.as_view(), name="api-status-legacy"),
    path("download/<str:job_id>", views.DownloadView.as_view(), name="api-download-legacy"),
]
