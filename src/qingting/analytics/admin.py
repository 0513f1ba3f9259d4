from django.contrib import admin

from .models import ReportDelivery, ReportSubscription, VolumeFigure


@admin.register(VolumeFigure)
class VolumeFigureAdmin(admin.ModelAdmin):
    list_display = ("month", "department", "units", "unit_label")
    list_filter = ("department",)


class DeliveryInline(admin.TabularInline):
    model = ReportDelivery
    extra = 0
    readonly_fields = ("period", "sent_at", "ok", "error")
    can_delete = False


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "format", "department", "active", "last_period", "last_sent_at")
    inlines = [DeliveryInline]
