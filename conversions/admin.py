from django.contrib import admin, messages
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from conversions.jobs import services
from conversions.files import storage
from conversions.models import Job, JobEvent, JobStatus


class JobEventInline(admin.TabularInline):
    model = JobEvent
    extra = 0
    can_delete = False
    readonly_fields = ("at", "kind", "message", "data")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "status", "family", "source_format", "target_format", "original_filename", "owner",
                    "progress", "attempts", "created_at", "converter_seconds")
    list_filter = ("status", "family", "source_format", "target_format", "kind", ("created_at", admin.DateFieldListFilter),
                   ("owner", admin.RelatedOnlyFieldListFilter))
    search_fields = ("id", "original_filename", "owner__username", "owner__email")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Job._meta.fields] + ["files"]
    inlines = [JobEventInline]
    actions = ["retry_jobs", "cancel_jobs", "purge_files"]
    list_select_related = ("owner",)

    def has_add_permission(self, request):
        return False

    @admin.display(description="files")
    def files(self, obj):
        # Keys are server-made; the user's file name is escaped by format_html.
        links = []
        for which, key in (("source", obj.source_key), ("output", obj.output_key)):
            if key and not obj.files_purged_at:
                url = reverse("admin:conversions_job_file", args=[obj.pk, which])
                links.append(format_html('<a href="{}">{}</a> ({})', url, which, key))
            else:
                links.append(format_html("{}: {}", which, key or "-"))
        return format_html("{}<br>{}<br>output name: {}", links[0], links[1], obj.output_filename or "-")

    def get_urls(self):
        view = self.admin_site.admin_view(self.file_view)
        return [path("<uuid:job_id>/file/<str:which>/", view, name="conversions_job_file"), *super().get_urls()]

    def file_view(self, request, job_id, which):
        """Staff download of a job's stored source or output (any owner's)."""
        job = Job.objects.filter(pk=job_id).first()
        if job is None or which not in ("source", "output") or not self.has_view_permission(request, job):
            raise Http404
        store, key = (storage.uploads(), job.source_key) if which == "source" else (storage.outputs(), job.output_key)
        name = job.original_filename if which == "source" else job.output_filename
        content_type = job.detected_type if which == "source" else job.output_content_type
        if not key:
            raise Http404
        if not storage.is_local(store):
            return HttpResponseRedirect(storage.download_url(store, key, name, content_type or "application/octet-stream"))
        try:
            return FileResponse(store.open(key, "rb"), as_attachment=True, filename=name, content_type=content_type)
        except FileNotFoundError:
            raise Http404("The file is no longer stored.") from None

    @admin.action(description="Retry selected failed or stuck jobs")
    def retry_jobs(self, request, queryset):
        count = 0
        for job in queryset.filter(status__in=[JobStatus.FAILED, JobStatus.QUEUED]).exclude(source_key=""):
            count += services.job_retry(job, by=request.user)
        self.message_user(request, f"{count} job(s) re-enqueued.", messages.SUCCESS)

    @admin.action(description="Cancel selected jobs")
    def cancel_jobs(self, request, queryset):
        for job in queryset:
            services.job_delete(job)
        self.message_user(request, "Canceled; files deleted.", messages.SUCCESS)

    @admin.action(description="Purge files of selected jobs")
    def purge_files(self, request, queryset):
        for job in queryset:
            services.job_purge_files(job)
        self.message_user(request, "Files purged.", messages.SUCCESS)
