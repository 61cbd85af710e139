"""Admin: users with their usage and API keys; API keys on their own."""

from datetime import timedelta

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.db.models import Count, OuterRef, Subquery, Sum
from django.utils import timezone

from accounts.models import ApiKey
from conversions.jobs.quotas import tier_of


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    can_delete = False
    fields = ("name", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("name", "prefix", "created_at", "last_used_at")

    def has_add_permission(self, request, obj=None):
        return False  # a key's secret is shown once, to its owner, on the account page


admin.site.unregister(User)


@admin.register(User)
class UserWithUsageAdmin(UserAdmin):
    list_display = ("username", "email", "is_staff", "tier", "jobs_total", "jobs_24h", "bytes_in", "keys", "last_login")
    inlines = [ApiKeyInline]

    def get_queryset(self, request):
        from conversions.models import Job

        day_ago = timezone.now() - timedelta(days=1)
        # Subqueries, not joins: joining jobs and keys at once would multiply the sums.
        jobs = Job.objects.filter(owner=OuterRef("pk")).order_by().values("owner")
        keys = ApiKey.objects.active().filter(user=OuterRef("pk")).order_by().values("user")
        return (
            super()
            .get_queryset(request)
            .annotate(
                _jobs=Subquery(jobs.annotate(n=Count("pk")).values("n")),
                _jobs_24h=Subquery(jobs.filter(created_at__gte=day_ago).annotate(n=Count("pk")).values("n")),
                _bytes=Subquery(jobs.annotate(n=Sum("source_size")).values("n")),
                _keys=Subquery(keys.annotate(n=Count("pk")).values("n")),
            )
        )

    @admin.display(description="jobs", ordering="_jobs")
    def jobs_total(self, obj):
        return obj._jobs or 0

    @admin.display(description="jobs 24 h", ordering="_jobs_24h")
    def jobs_24h(self, obj):
        return obj._jobs_24h or 0

    @admin.display(description="uploaded")
    def bytes_in(self, obj):
        from django.template.defaultfilters import filesizeformat

        return filesizeformat(obj._bytes or 0)

    @admin.display(description="active keys", ordering="_keys")
    def keys(self, obj):
        return obj._keys or 0

    @admin.display(description="tier")
    def tier(self, obj):
        return tier_of(obj)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "prefix", "user__username", "user__email")
    readonly_fields = ("user", "prefix", "key_hash", "created_at", "last_used_at")
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"{count} key(s) revoked.")
