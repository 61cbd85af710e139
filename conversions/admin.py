from django.contrib import admin, messages
from django.utils.html import format_html

from . import services
from .models import Job, JobEvent, JobStatus


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
    list_filter = ("status", "family", "source_format", "target_format", "kind", ("created_at", admin.DateFieldListFilter))
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
        return format_html("source: {}<br>output: {} ({})", obj.source_key or "-", obj.output_key or "-",
                           obj.output_filename or "-")

    @admin.action(description="Retry selected failed or stuck jobs")
    def retry_jobs(self, request, queryset):
        count = 0
        for job in queryset.filter(status__in=[JobStatus.FAILED, JobStatus.QUEUED]).exclude(source_key=""):
            if Job.objects.filter(pk=job.pk, status=job.status).update(
                status=JobStatus.QUEUED, error_code="", error_message="", attempts=0, finished_at=None
            ):
                services.event(job.pk, "retry", f"retried by {request.user}")
                services.job_enqueue(job)
                count += 1
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
