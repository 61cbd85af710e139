from django.urls import path

from conversions.web import job_views
from conversions.web import views

urlpatterns = [
    path("", views.home, name="home"),
    path("converters/", views.converter_list, name="converter-list"),
    path("converters/<slug:slug>", views.converter_detail, name="converter"),
    path("filters/<slug:slug>", views.filter_detail, name="filter-page"),
    path("sitemap.xml", views.sitemap, name="sitemap"),
    path("robots.txt", views.robots, name="robots"),
    path("convert", job_views.convert_submit, name="convert-submit"),
    path("filter", job_views.filter_submit, name="filter-submit"),
    path("uploads", job_views.upload_submit, name="upload-submit"),
    path("jobs/<str:job_id>", job_views.job_page, name="job"),
    path("jobs/<str:job_id>/delete", job_views.job_delete_page, name="job-delete"),
    path("history", job_views.history, name="history"),
]
