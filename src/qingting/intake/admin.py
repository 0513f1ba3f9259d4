from django.contrib import admin

from .models import ImportJob, ImportMapping, Mailbox, ProcessedMail, SatisfactionSurvey, WebhookSource


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):
    list_display = ("name", "host", "port", "username", "folder", "active", "last_polled_at", "last_error")
    readonly_fields = ("last_polled_at", "last_error")


@admin.register(WebhookSource)
class WebhookSourceAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "channel", "department", "active")


@admin.register(ImportMapping)
class ImportMappingAdmin(admin.ModelAdmin):
    list_display = ("name", "source", "profile", "closed", "updated_at")


@admin.register(SatisfactionSurvey)
class SatisfactionSurveyAdmin(admin.ModelAdmin):
    list_display = ("complaint", "stars", "created_at")

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ("id", "filename", "state", "dry_run", "rows_imported", "rows_rejected", "created_at")

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ProcessedMail)
class ProcessedMailAdmin(admin.ModelAdmin):
    list_display = ("mailbox", "uid", "message_id", "outcome", "complaint", "processed_at")

    def has_change_permission(self, request, obj=None):
        return False
