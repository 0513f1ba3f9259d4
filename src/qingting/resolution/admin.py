from django.contrib import admin

from .models import (ApprovalLimit, ApprovalRequest, Case, CorrectiveAction, FollowUp, ImplementationTask,
                     NegotiationRound, ResolutionPlan, RootCause)


@admin.register(ApprovalLimit)
class ApprovalLimitAdmin(admin.ModelAdmin):
    list_display = ("role", "max_amount")


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ("title", "source", "profile", "category", "satisfaction", "featured", "vector_model")
    list_filter = ("source", "profile", "featured")
    search_fields = ("title", "problem", "lessons")
    exclude = ("vector",)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the services (with their timeline events) are read-only here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


for model in (ResolutionPlan, ApprovalRequest, ImplementationTask, NegotiationRound, FollowUp, RootCause,
              CorrectiveAction):
    admin.site.register(model, ReadOnlyAdmin)
