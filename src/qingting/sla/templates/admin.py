"""Admin pages for calendars and policies. Calendar dates are edited as text (one date or
range per line: `2027-02-06` or `2027-02-06..2027-02-12`), validated by the pure core, so an
impossible configuration is refused with its message on the form."""
from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin

from .calendar import CalendarConfigError
from .models import (BusinessCalendar, Deadline, DeadlineExtension, DeadlinePause, SlaExtensionRule, SlaPolicy,
                     SlaTarget)


def _parse_dates(text: str, field: str) -> list[str]:
    out = []
    for n, line in enumerate((text or "").replace("，", ",").replace(",", "\n").splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            if ".." in line:
                a, b = (dt.date.fromisoformat(x.strip()) for x in line.split("..", 1))
                if b < a or (b - a).days > 366:
                    raise ValueError
                out += [(a + dt.timedelta(days=i)).isoformat() for i in range((b - a).days + 1)]
            else:
                out.append(dt.date.fromisoformat(line).isoformat())
        except ValueError:
            raise forms.ValidationError(f"第 {n} 行无法识别：“{line}”（应为 YYYY-MM-DD 或 YYYY-MM-DD..YYYY-MM-DD）") from None
    return sorted(set(out))


class CalendarForm(forms.ModelForm):
    holidays_text = forms.CharField(label="放假日期", required=False, widget=forms.Textarea(attrs={"rows": 6}),
                                    help_text="每行一个日期或区间，如 2027-02-06..2027-02-12（春节）")
    workdays_text = forms.CharField(label="调休上班日期", required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                    help_text="周末补班的日期，每行一个")
    declared_text = forms.CharField(label="已录入全年安排的年份", required=False,
                                    help_text="例如 2027：表示该年节假日与调休已全部录入，其余日期按周一至周五")

    class Meta:
        model = BusinessCalendar
        fields = ["code", "name", "timezone", "mode", "hours", "makeup_hours", "special_hours", "use_package"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        inst = self.instance
        self.fields["holidays_text"].initial = "\n".join(inst.holidays or [])
        self.fields["workdays_text"].initial = "\n".join(inst.workdays or [])
        self.fields["declared_text"].initial = ",".join(str(y) for y in inst.declared_years or [])

    def clean(self):
        data = super().clean()
        inst = self.instance
        try:
            inst.holidays = _parse_dates(data.get("holidays_text", ""), "holidays")
            inst.workdays = _parse_dates(data.get("workdays_text", ""), "workdays")
            inst.declared_years = sorted({int(y) for y in (data.get("declared_text") or "").replace("，", ",").split(",")
                                          if y.strip()})
        except ValueError:
            raise forms.ValidationError("年份应为逗号分隔的数字，如 2027") from None
        for key in ("code", "name", "timezone", "mode", "hours", "makeup_hours", "special_hours", "use_package"):
            if key in data:
                setattr(inst, key, data[key] if data[key] is not None else getattr(inst, key))
        try:
            inst.build()
        except (CalendarConfigError, TypeError, ValueError) as exc:
            raise forms.ValidationError(str(exc)) from None
        return data


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    form = CalendarForm
    list_display = ("code", "name", "mode", "timezone", "declared_years", "updated_at")
    fieldsets = ((None, {"fields": ("code", "name", "timezone", "mode", "hours", "makeup_hours", "use_package")}),
                 ("节假日与调休（管理员录入，优先于 chinesecalendar）",
                  {"fields": ("holidays_text", "workdays_text", "declared_text", "special_hours")}))


class ExtensionRuleInline(admin.TabularInline):
    model = SlaExtensionRule
    extra = 0


@admin.register(SlaTarget)
class SlaTargetAdmin(admin.ModelAdmin):
    list_display = ("policy", "position", "kind", "label", "amount", "unit", "starts_on", "match")
    list_filter = ("policy", "kind", "unit")
    inlines = [ExtensionRuleInline]


class TargetInline(admin.TabularInline):
    model = SlaTarget
    extra = 0
    fields = ("position", "kind", "name", "label", "amount", "unit", "day_end", "roll_to_working_day", "at_risk",
              "starts_on", "pause_reasons", "match")
    show_change_link = True


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "order", "enabled", "calendar", "match", "escalate_on_breach",
                    "escalate_again_after_minutes")
    list_editable = ("order", "enabled")
    inlines = [TargetInline]


class PauseInline(admin.TabularInline):
    model = DeadlinePause
    extra = 0
    readonly_fields = ("reason", "note", "started_at", "ended_at", "started_by", "ended_by")
    can_delete = False


class ExtensionInline(admin.TabularInline):
    model = DeadlineExtension
    extra = 0
    readonly_fields = ("step", "amount", "reason", "status", "needs_approval", "requested_by", "approver", "decided_at")
    can_delete = False


@admin.register(Deadline)
class DeadlineAdmin(admin.ModelAdmin):
    list_display = ("complaint", "kind", "label", "policy_code", "state", "due_at", "warned_at", "breached_at",
                    "met_at")
    list_filter = ("state", "kind", "policy_code")
    search_fields = ("complaint__number",)
    readonly_fields = [f.name for f in Deadline._meta.fields]
    inlines = [PauseInline, ExtensionInline]

    def has_add_permission(self, request):
        return False
