"""Admin for the workflow, profiles and taxonomy (data an administrator changes), and a
read-only view of complaints and the timeline. Nothing here edits or deletes an Event."""
from django.contrib import admin

from .models import (Attachment, Category, Complaint, Customer, Event, IndustryProfile, Message, Note, Step,
                     Transition, TriageLexicon, WorkflowVariant)


class StepInline(admin.TabularInline):
    model = Step
    extra = 0
    fields = ("position", "code", "name", "name_en", "customer_text", "is_final")


class TransitionInline(admin.TabularInline):
    model = Transition
    extra = 0
    fields = ("from_step", "to_step", "kind", "guards", "roles", "override_roles", "counts_as_refusal")


@admin.register(WorkflowVariant)
class WorkflowVariantAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "is_default")
    inlines = [StepInline, TransitionInline]


@admin.register(IndustryProfile)
class IndustryProfileAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "position")


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "parent", "profile", "active", "position")
    list_filter = ("active", "profile", "parent")
    search_fields = ("code", "name")


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "mobile", "email", "created_at")
    search_fields = ("mobile", "email")
    show_full_result_count = False


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Complaint)
class ComplaintAdmin(ReadOnlyAdmin):
    list_display = ("number", "subject", "channel", "priority", "step", "department", "received_at")
    list_select_related = ("step", "department")
    search_fields = ("=number", "=tracking_code")
    show_full_result_count = False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("complaint", "at", "kind", "actor")
    list_select_related = ("complaint", "actor")
    search_fields = ("=complaint__number",)
    show_full_result_count = False


for model in (Note, Message, Attachment):
    admin.site.register(model, ReadOnlyAdmin)


@admin.register(TriageLexicon)
class TriageLexiconAdmin(admin.ModelAdmin):
    """Administrators extend the triage lexicons here; a file that does not validate is refused
    with the line and key named. Re-run triage on a complaint to see the effect."""

    list_display = ("name", "description", "active", "updated_at")
    list_filter = ("active",)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        from .triage_link import write_lexicons

        write_lexicons()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        from .triage_link import write_lexicons

        write_lexicons()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        from .triage_link import write_lexicons

        write_lexicons()
