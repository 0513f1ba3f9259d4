from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import ApiToken, Department, User


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "kind", "parent", "region")
    search_fields = ("name", "code")
    list_filter = ("kind",)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "display_name", "role", "department", "is_active")
    list_filter = ("role", "is_active", "department")
    fieldsets = BaseUserAdmin.fieldsets + (("倾听", {"fields": ("display_name", "role", "department", "mobile")}),)
    add_fieldsets = BaseUserAdmin.add_fieldsets + (("倾听", {"fields": ("display_name", "role", "department")}),)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are listed and revoked here; they are created through the API or `qingting token`."""

    list_display = ("prefix", "user", "name", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    readonly_fields = ("user", "name", "prefix", "created_at", "last_used_at")
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="吊销所选令牌 Revoke selected tokens")
    def revoke(self, request, queryset):
        from django.utils import timezone
        queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
