from django.contrib import admin, messages

from . import services
from .models import Delivery, DeliveryLog, Endpoint, Preference


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = ("name", "channel", "department", "owner", "active", "timeout")
    list_filter = ("channel", "active")
    actions = ["send_test"]

    @admin.action(description="发送测试通知")
    def send_test(self, request, queryset):
        for ep in queryset:
            d = services.send_test(ep)
            level = messages.SUCCESS if d.status == Delivery.Status.SENT else messages.WARNING
            self.message_user(request, f"{ep}: {d.get_status_display()} {d.last_error}", level)


@admin.register(Preference)
class PreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "event", "channel", "enabled")
    list_filter = ("event", "channel", "enabled")


class LogInline(admin.TabularInline):
    model = DeliveryLog
    extra = 0
    can_delete = False
    readonly_fields = ("attempt", "ok", "status_code", "error", "duration_ms", "at")


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "event", "channel", "complaint_number", "status", "attempts", "created_at", "sent_at")
    list_filter = ("status", "channel", "event")
    search_fields = ("complaint_number", "address")
    readonly_fields = [f.name for f in Delivery._meta.fields]
    inlines = [LogInline]
