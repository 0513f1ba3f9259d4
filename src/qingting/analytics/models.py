"""Analytics tables: one narrow fact row per complaint, daily rollups, volume figures, subscriptions.

`ComplaintFact` and `DailyRollup` are derived data: the complaint hooks keep them current
inside the complaint's own transaction (see `facts.py`), `qingting analytics-rebuild`
recomputes them from the complaints, and a test proves both agree with a fresh count.
Dimension columns are plain integers (0 = none) so that a rollup key is never NULL and
an upsert (`ON CONFLICT`) always finds its row.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ComplaintFact(models.Model):
    """The analytics projection of one complaint (what the dashboard reads instead of the wide row)."""

    complaint = models.OneToOneField("complaints.Complaint", primary_key=True, on_delete=models.CASCADE,
                                     related_name="analytics_fact", db_constraint=False)
    day = models.DateField("受理日期")  # local (Asia/Shanghai) date of received_at
    department_id = models.IntegerField(default=0)
    category_id = models.IntegerField(default=0)
    category1_id = models.IntegerField(default=0)  # level-1 parent (or the category itself when level 1)
    channel = models.CharField(max_length=16)
    priority = models.CharField(max_length=2)
    profile_id = models.IntegerField(default=0)
    assignee_id = models.IntegerField(default=0)
    brand = models.CharField(max_length=50, blank=True)   # about.brand / about.shop
    series = models.CharField(max_length=50, blank=True)  # about.series
    product = models.CharField(max_length=100, blank=True)  # about.vehicle_model / product / product_name
    business_category = models.CharField(max_length=32, blank=True)  # about.business_category (finance)
    closed = models.BooleanField(default=False)
    closed_day = models.DateField(null=True, blank=True)
    first_response_s = models.IntegerField(null=True, blank=True)
    resolution_s = models.IntegerField(null=True, blank=True)
    reopened = models.BooleanField(default=False)
    escalated = models.BooleanField(default=False)
    malicious = models.BooleanField(default=False)
    repeat = models.BooleanField(default=False)
    emotion = models.CharField(max_length=24, blank=True)
    persona = models.CharField(max_length=24, blank=True)
    root_cause_key = models.CharField(max_length=60, blank=True)
    source_updated_at = models.DateTimeField(null=True, blank=True)  # Complaint.updated_at when computed

    class Meta:
        verbose_name = "投诉分析事实"
        verbose_name_plural = "投诉分析事实"
        indexes = [
            models.Index(fields=["day"], name="fact_day"),
            models.Index(fields=["department_id", "day"], name="fact_dept_day"),
            models.Index(fields=["category_id", "day"], name="fact_cat_day"),
            models.Index(fields=["assignee_id", "closed"], name="fact_assignee"),
            models.Index(fields=["closed_day"], name="fact_closed_day"),
        ]


ROLLUP_KEYS = ("day", "department_id", "category_id", "channel", "priority")
ROLLUP_MEASURES = ("n", "closed", "reopened", "escalated", "malicious", "repeat",
                   "frt_n", "frt_sum", "res_n", "res_sum")


class DailyRollup(models.Model):
    """Counts and duration sums per day × department × category × channel × priority."""

    day = models.DateField()
    department_id = models.IntegerField(default=0)
    category_id = models.IntegerField(default=0)
    category1_id = models.IntegerField(default=0)
    channel = models.CharField(max_length=16)
    priority = models.CharField(max_length=2)
    n = models.IntegerField(default=0)
    closed = models.IntegerField(default=0)
    reopened = models.IntegerField(default=0)
    escalated = models.IntegerField(default=0)
    malicious = models.IntegerField(default=0)
    repeat = models.IntegerField(default=0)
    frt_n = models.IntegerField(default=0)
    frt_sum = models.BigIntegerField(default=0)
    res_n = models.IntegerField(default=0)
    res_sum = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "每日汇总"
        verbose_name_plural = "每日汇总"
        constraints = [models.UniqueConstraint(fields=list(ROLLUP_KEYS), name="rollup_key_unique")]
        indexes = [models.Index(fields=["department_id", "day"], name="rollup_dept_day")]


class VolumeFigure(models.Model):
    """Orders / vehicles sold in a month, for the complaint rate per 10,000 (万单/万台投诉率)."""

    month = models.DateField("月份", help_text="该月 1 日")
    department = models.ForeignKey("accounts.Department", null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="+", verbose_name="部门（空为全公司）")
    units = models.PositiveIntegerField("销量/订单量")
    unit_label = models.CharField("单位", max_length=16, default="单")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "月度销量"
        verbose_name_plural = "月度销量"
        constraints = [
            models.UniqueConstraint(fields=["month", "department"], name="volume_unique_month_dept"),
            models.UniqueConstraint(fields=["month"], condition=models.Q(department__isnull=True),
                                    name="volume_unique_month_org"),
        ]

    def save(self, *args, **kwargs):
        self.month = self.month.replace(day=1)
        super().save(*args, **kwargs)

    def __str__(self):
        return f"{self.month:%Y-%m} {self.department or '全公司'} {self.units}"


class ReportSubscription(models.Model):
    """A report e-mailed every month to chosen recipients."""

    class Format(models.TextChoices):
        PDF = "pdf", "PDF"
        XLSX = "xlsx", "Excel"

    class Kind(models.TextChoices):
        MONTHLY = "monthly", "月度分析报告"
        REGULATORY = "regulatory", "监管统计报表"

    name = models.CharField("名称", max_length=100)
    recipients = models.TextField("收件人", help_text="每行一个邮箱")
    format = models.CharField("格式", max_length=8, choices=Format.choices, default=Format.PDF)
    kind = models.CharField("报告类型", max_length=16, choices=Kind.choices, default=Kind.MONTHLY)
    department = models.ForeignKey("accounts.Department", null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="+", verbose_name="范围（空为全公司）")
    active = models.BooleanField("启用", default=True)
    last_period = models.CharField("最近发送月份", max_length=7, blank=True, editable=False)
    last_sent_at = models.DateTimeField("最近发送时间", null=True, blank=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        verbose_name = "报告订阅"
        verbose_name_plural = "报告订阅"

    def __str__(self):
        return self.name

    def recipient_list(self) -> list[str]:
        return [r.strip() for r in self.recipients.replace(",", "\n").splitlines() if r.strip()]


class ReportDelivery(models.Model):
    """One delivery attempt of a subscription (what was sent, when, and whether it worked)."""

    subscription = models.ForeignKey(ReportSubscription, on_delete=models.CASCADE, related_name="deliveries")
    period = models.CharField(max_length=7)
    sent_at = models.DateTimeField(default=timezone.now)
    ok = models.BooleanField(default=False)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = "报告发送记录"
        verbose_name_plural = "报告发送记录"
