from django.contrib import admin

from .models import (
    CorrectiveAction,
    Crisis,
    CrisisEvent,
    CrisisProposal,
    CrisisType,
    DetectorProfile,
    EscalationRule,
    Hotspot,
    PlaybookItem,
    Review,
    Severity,
    Statement,
    StatementPolicy,
)


@admin.register(CrisisType)
class CrisisTypeAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "position", "active")
    list_editable = ("position", "active")


@admin.register(Severity)
class SeverityAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "holding_hours", "update_hours", "position")
    list_editable = ("holding_hours", "update_hours")


@admin.register(PlaybookItem)
class PlaybookItemAdmin(admin.ModelAdmin):
    list_display = ("title", "crisis_type", "step", "owner_role", "department", "due_hours", "due_from_severity",
                    "position")
    list_filter = ("crisis_type", "step", "owner_role")
    search_fields = ("title", "guidance")


@admin.register(EscalationRule)
class EscalationRuleAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "min_count", "within_hours", "min_score", "active")
    list_editable = ("min_count", "within_hours", "min_score", "active")


@admin.register(StatementPolicy)
class StatementPolicyAdmin(admin.ModelAdmin):
    list_display = ("kind", "draft_role", "review_role", "approve_role")


@admin.register(DetectorProfile)
class DetectorProfileAdmin(admin.ModelAdmin):
    list_display = ("code", "updated_at")


@admin.register(Hotspot)
class HotspotAdmin(admin.ModelAdmin):
    list_display = ("label", "profile", "status", "score", "count", "last_fired_at")
    list_filter = ("status", "profile")
    readonly_fields = [f.name for f in Hotspot._meta.fields]


@admin.register(CrisisProposal)
class CrisisProposalAdmin(admin.ModelAdmin):
    list_display = ("title", "rule", "status", "created_at", "decided_by")
    readonly_fields = [f.name for f in CrisisProposal._meta.fields]


@admin.register(Crisis)
class CrisisAdmin(admin.ModelAdmin):
    """Read-only here: crisis changes go through the crisis pages (services write the timeline)."""

    list_display = ("number", "title", "crisis_type", "severity", "status", "opened_at", "closed_at")
    list_filter = ("status", "crisis_type", "severity")
    search_fields = ("number", "title")
    readonly_fields = [f.name for f in Crisis._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(CrisisEvent)
class CrisisEventAdmin(admin.ModelAdmin):
    list_display = ("crisis", "at", "kind", "actor")
    readonly_fields = [f.name for f in CrisisEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.register([Statement, Review, CorrectiveAction])
