"""SLA tables: business calendars, policies with their targets and extension rules (seeded
from presets.toml by migration 0002_seed_presets), and the deadlines of each complaint
with their pauses and extensions.

The arithmetic lives in the pure cores (calendar.py, clock.py); these rows are its
configuration and its precomputed, indexed results (`due_at`, `at_risk_at`) that the
sweep compares with the clock.
"""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .calendar import BusinessCalendar as CoreCalendar
from .calendar import CalendarConfigError
from .clock import KINDS, UNITS, ClockError, Target
from .presets import PAUSE_REASONS, STARTS_ON

KIND_CHOICES = [(k, v[0]) for k, v in KINDS.items()]
UNIT_CHOICES = [(k, f"{u.zh} ({k})") for k, u in UNITS.items()]
PAUSE_CHOICES = [(k, v[0]) for k, v in PAUSE_REASONS.items()]
STARTS_CHOICES = [("received", "收到投诉"), ("accepted", "受理后"), ("resolved", "办结后"), ("promised", "作出承诺时")]
assert {c for c, _ in STARTS_CHOICES} == set(STARTS_ON)


def default_hours():
    return "09:00-18:00"


class BusinessCalendar(models.Model):
    """A working-day calendar (maps 1:1 onto `calendar.BusinessCalendar.from_config`)."""

    class Mode(models.TextChoices):
        STATUTORY = "statutory", "法定工作日（节假日与调休）"
        WEEKLY = "weekly", "每周固定营业"

    code = models.SlugField("编码", max_length=64, unique=True)
    name = models.CharField("名称", max_length=100)
    timezone = models.CharField("时区", max_length=64, default="Asia/Shanghai")
    mode = models.CharField("模式", max_length=16, choices=Mode.choices, default=Mode.STATUTORY)
    hours = models.JSONField("营业时间", default=default_hours,
                             help_text='"09:00-12:00,13:30-18:00" 或 {"mon": "09:00-18:00", …, "sat": ""}')
    makeup_hours = models.CharField("调休日营业时间", max_length=100, blank=True)
    holidays = models.JSONField("放假日期", default=list, blank=True)
    workdays = models.JSONField("调休上班日期", default=list, blank=True)
    special_hours = models.JSONField("特殊营业时间", default=dict, blank=True)
    declared_years = models.JSONField("已录入全年安排的年份", default=list, blank=True)
    use_package = models.BooleanField("使用 chinesecalendar 数据", default=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "工作日历"
        verbose_name_plural = "工作日历"
        ordering = ["code"]

    def __str__(self):
        return self.name

    def to_config(self) -> dict:
        cfg = {"code": self.code, "name": self.name, "timezone": self.timezone, "mode": self.mode,
               "hours": self.hours, "holidays": list(self.holidays or []), "workdays": list(self.workdays or []),
               "special_hours": dict(self.special_hours or {}), "declared_years": list(self.declared_years or []),
               "use_package": self.use_package}
        if self.makeup_hours:
            cfg["makeup_hours"] = self.makeup_hours
        return cfg

    def build(self) -> CoreCalendar:
        return CoreCalendar.from_config(self.to_config())

    def clean(self):
        try:
            self.build()
        except (CalendarConfigError, TypeError, ValueError) as exc:
            raise ValidationError(str(exc)) from None


class SlaPolicy(models.Model):
    """时限规则: chosen by its match rule (first by `order`); its targets set the deadlines."""

    code = models.SlugField("编码", max_length=64, unique=True)
    name = models.CharField("名称", max_length=100)
    name_en = models.CharField("英文名称", max_length=200, blank=True)
    basis = models.CharField("依据", max_length=300, blank=True)
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.PROTECT, related_name="policies",
                                 verbose_name="工作日历")
    order = models.IntegerField("顺序", default=100)
    enabled = models.BooleanField("启用", default=True)
    match = models.JSONField("适用条件", default=dict, blank=True,
                             help_text='{"priority": ["P1"], "category": [...], "channel": [...], "profile": [...], '
                                       '"customer_tags": [...], "tags": [...]}，空表示全部')
    escalate_on_breach = models.BooleanField("超时升级到直属主管", default=True)
    escalate_again_after_minutes = models.PositiveIntegerField(
        "超时后仍未处理再升级（分钟）", default=240, help_text="0 表示不再向上升级")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "时限规则"
        verbose_name_plural = "时限规则"
        ordering = ["order", "id"]

    def __str__(self):
        return self.name

    def clean(self):
        from .presets import PresetError, _Ctx, _match

        try:
            _match(_Ctx("admin"), self.match or {}, "match")
        except PresetError as exc:
            raise ValidationError({"match": str(exc)}) from None


class SlaTarget(models.Model):
    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="targets", verbose_name="时限规则")
    position = models.PositiveSmallIntegerField("顺序", default=0)
    kind = models.CharField("时限类型", max_length=16, choices=KIND_CHOICES)
    name = models.SlugField("承诺代码", max_length=64, blank=True, help_text="仅承诺事项：如 refund_48h")
    label = models.CharField("名称", max_length=100, blank=True)
    amount = models.FloatField("时长")
    unit = models.CharField("单位", max_length=20, choices=UNIT_CHOICES)
    day_end = models.CharField("当日截止", max_length=10, choices=[("close", "下班时"), ("midnight", "24 时")],
                               default="close")
    roll_to_working_day = models.BooleanField("最后一日遇节假日顺延", default=False)
    at_risk = models.FloatField("预警比例", default=0.75)
    starts_on = models.CharField("起算", max_length=10, choices=STARTS_CHOICES, default="received")
    pause_reasons = models.JSONField("允许的暂停原因", default=list, blank=True)
    match = models.JSONField("适用条件", default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "时限目标"
        verbose_name_plural = "时限目标"
        ordering = ["policy", "position", "id"]

    def __str__(self):
        return f"{self.policy.code}: {self.label or self.get_kind_display()}"

    def clean(self):
        try:
            Target(kind=self.kind, amount=self.amount, unit=self.unit, day_end=self.day_end,
                   roll_to_working_day=self.roll_to_working_day, at_risk=self.at_risk, name=self.name)
        except (ClockError, TypeError) as exc:
            raise ValidationError(str(exc)) from None
        if self.kind == "promise" and not self.name:
            raise ValidationError({"name": "承诺事项需要代码 / a promise needs a code"})
        bad = [r for r in (self.pause_reasons or []) if r not in PAUSE_REASONS]
        if bad:
            raise ValidationError({"pause_reasons": f"未知的暂停原因：{', '.join(bad)}"})


class SlaExtensionRule(models.Model):
    target = models.ForeignKey(SlaTarget, on_delete=models.CASCADE, related_name="extension_rules")
    step = models.PositiveSmallIntegerField("第几次延期")
    label = models.CharField("说明", max_length=200)
    amount = models.FloatField("最多延长（目标单位）")
    approval = models.BooleanField("需要审批", default=False)
    notice = models.BooleanField("需告知客户", default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "延期规则"
        verbose_name_plural = "延期规则"
        ordering = ["target", "step"]
        constraints = [models.UniqueConstraint(fields=["target", "step"], name="sla_extension_step_unique")]

    def clean(self):
        if self.amount is None or self.amount <= 0:
            raise ValidationError({"amount": "延期时长必须大于 0 / an extension must be positive"})


class Deadline(models.Model):
    """One deadline of one complaint. `target` is a snapshot of the policy's target when
    the deadline was set (policies may change later without moving running clocks)."""

    class State(models.TextChoices):
        RUNNING = "running", "计时中"
        PAUSED = "paused", "已暂停"
        MET = "met", "已达成"
        BREACHED = "breached", "已超时"
        CANCELLED = "cancelled", "已取消"

    complaint = models.ForeignKey("complaints.Complaint", on_delete=models.CASCADE, related_name="deadlines")
    kind = models.CharField("时限类型", max_length=16, choices=KIND_CHOICES)
    name = models.CharField("承诺代码", max_length=64, blank=True)
    label = models.CharField("名称", max_length=100, blank=True)
    policy = models.ForeignKey(SlaPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    policy_code = models.CharField(max_length=64)
    calendar_code = models.CharField(max_length=64)
    target = models.JSONField("目标快照", default=dict)
    starts_at = models.DateTimeField("起算时间")
    due_at = models.DateTimeField("到期时间")
    at_risk_at = models.DateTimeField("预警时间")
    state = models.CharField("状态", max_length=10, choices=State.choices, default=State.RUNNING)
    met_at = models.DateTimeField("完成时间", null=True, blank=True)
    breached_at = models.DateTimeField("超时时间", null=True, blank=True)
    warned_at = models.DateTimeField("预警发出", null=True, blank=True)
    escalated_at = models.DateTimeField("超时升级", null=True, blank=True)
    escalated_again_at = models.DateTimeField("再次升级", null=True, blank=True)
    paused_since = models.DateTimeField("暂停开始", null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "办理时限"
        verbose_name_plural = "办理时限"
        indexes = [
            models.Index(fields=["state", "due_at"], name="deadline_state_due"),
            models.Index(fields=["at_risk_at"], name="deadline_risk_pending",
                         condition=Q(state="running", warned_at__isnull=True)),
            models.Index(fields=["due_at"], name="deadline_due_running", condition=Q(state="running")),
            models.Index(fields=["escalated_at"], name="deadline_escalate_again",
                         condition=Q(state="breached", escalated_again_at__isnull=True, met_at__isnull=True)),
            models.Index(fields=["complaint", "kind"], name="deadline_complaint_kind"),
        ]

    def __str__(self):
        return f"{self.complaint_id}:{self.kind}{':' + self.name if self.name else ''}"

    @property
    def is_open(self) -> bool:
        return self.state in (self.State.RUNNING, self.State.PAUSED) or (
            self.state == self.State.BREACHED and self.met_at is None)


class DeadlinePause(models.Model):
    deadline = models.ForeignKey(Deadline, on_delete=models.CASCADE, related_name="pauses")
    reason = models.CharField("原因", max_length=16, choices=PAUSE_CHOICES)
    note = models.TextField("说明", blank=True)
    started_at = models.DateTimeField("开始")
    ended_at = models.DateTimeField("结束", null=True, blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    ended_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")

    class Meta:
        verbose_name = "时限暂停"
        verbose_name_plural = "时限暂停"
        ordering = ["deadline", "started_at", "id"]
        constraints = [models.UniqueConstraint(fields=["deadline"], condition=Q(ended_at__isnull=True),
                                               name="one_open_pause_per_deadline")]


class DeadlineExtension(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "待审批"
        APPROVED = "approved", "已批准"
        REJECTED = "rejected", "已驳回"

    deadline = models.ForeignKey(Deadline, on_delete=models.CASCADE, related_name="extensions")
    step = models.PositiveSmallIntegerField("第几次延期")
    amount = models.FloatField("延长（目标单位）")
    reason = models.TextField("原因")
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.PENDING)
    needs_approval = models.BooleanField("需要审批", default=False)
    notice = models.BooleanField("需告知客户", default=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    class Meta:
        verbose_name = "时限延期"
        verbose_name_plural = "时限延期"
        ordering = ["deadline", "step", "id"]
