"""Analytics tables: one narrow fact row per complaint, daily rollups, volume figures, subscriptions.

`ComplaintFact`, `Rollup` and `Tally` are derived data: the complaint hooks keep them current
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
    # the complaint's SLA deadlines (qingting.sla) by kind group and state, and its survey stars (qingting.intake)
    sla_frt_met = models.SmallIntegerField(default=0)
    sla_frt_breached = models.SmallIntegerField(default=0)
    sla_frt_open = models.SmallIntegerField(default=0)
    sla_res_met = models.SmallIntegerField(default=0)
    sla_res_breached = models.SmallIntegerField(default=0)
    sla_res_open = models.SmallIntegerField(default=0)
    sla_oth_met = models.SmallIntegerField(default=0)
    sla_oth_breached = models.SmallIntegerField(default=0)
    sla_oth_open = models.SmallIntegerField(default=0)
    csat_stars = models.SmallIntegerField(default=0)  # 0 = no survey
    source_updated_at = models.DateTimeField(null=True, blank=True)  # Complaint.updated_at when computed

    class Meta:
        verbose_name = "投诉分析事实"
        verbose_name_plural = "投诉分析事实"
        indexes = [
            models.Index(fields=["department_id", "day"], name="fact_dept_day"),
            models.Index(fields=["category_id", "day"], name="fact_cat_day"),
            models.Index(fields=["series", "day"], name="fact_series_day"),
            models.Index(fields=["brand", "day"], name="fact_brand_day"),
            models.Index(fields=["product", "day"], name="fact_product_day"),
            # covering indexes: the fact-reading queries of a period become index-only scans on PostgreSQL
            models.Index(fields=["day", "department_id"], name="fact_day_cover",
                         include=["first_response_s", "resolution_s", "closed", "root_cause_key", "emotion",
                                  "persona", "channel", "priority", "category_id", "category1_id", "series",
                                  "brand", "product"]),
            models.Index(fields=["category1_id", "day"], name="fact_cat1_cover",
                         include=["department_id", "category_id", "channel", "priority", "closed",
                                  "root_cause_key", "emotion", "persona", "series", "brand", "product",
                                  "first_response_s", "resolution_s"]),
            models.Index(fields=["closed_day", "assignee_id"], name="fact_handled_cover",
                         condition=models.Q(closed=True),
                         include=["department_id", "resolution_s", "reopened", "csat_stars", "channel", "priority",
                                  "category_id", "category1_id"]),
            models.Index(fields=["assignee_id"], name="fact_open_load", condition=models.Q(closed=False),
                         include=["department_id", "channel", "priority", "category_id", "category1_id"]),
            models.Index(fields=["channel", "closed_day", "assignee_id"], name="fact_channel_handled",
                         condition=models.Q(closed=True),
                         include=["department_id", "resolution_s", "reopened", "csat_stars", "priority", "category_id",
                                  "category1_id"]),
            # a channel-filtered long period (the busiest filter) reads this index only
            models.Index(fields=["channel", "day"], name="fact_channel_cover",
                         include=["department_id", "category_id", "category1_id", "priority", "closed",
                                  "root_cause_key", "emotion", "persona", "series", "brand", "product",
                                  "first_response_s", "resolution_s"]),
        ]


GRAIN_DAY, GRAIN_MONTH = "d", "m"
ALL = ""  # the channel and priority of a "lite" rollup row, which sums every channel and priority
ROLLUP_KEYS = ("grain", "day", "department_id", "category_id", "channel", "priority")
SLA_GROUPS = ("frt", "res", "oth")  # first_response, resolution, every other deadline kind
SLA_STATES = ("met", "breached", "open")
SLA_FIELDS = tuple(f"sla_{g}_{s}" for g in SLA_GROUPS for s in SLA_STATES)
CSAT_FIELDS = tuple(f"csat_{i}" for i in range(1, 6))
ROLLUP_MEASURES = ("n", "closed", "reopened", "escalated", "malicious", "repeat",
                   "frt_n", "frt_sum", "res_n", "res_sum", *SLA_FIELDS, *CSAT_FIELDS)


class Rollup(models.Model):
    """Counts and duration sums in four grouping sets, so that a query reads as few rows as possible.

    Every fact adds to four rows: per day and per month (``day`` = the 1st), each once with its
    channel and priority ("full" rows, for channel/priority filters) and once with both ``ALL``
    ("lite" rows: day|month × department × category, for every other scope). A query picks
    month rows for the whole months of its period, day rows for the rest, and lite rows unless
    it filters on channel or priority.
    """

    grain = models.CharField(max_length=1, default=GRAIN_DAY)
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
    sla_frt_met = models.IntegerField(default=0)
    sla_frt_breached = models.IntegerField(default=0)
    sla_frt_open = models.IntegerField(default=0)
    sla_res_met = models.IntegerField(default=0)
    sla_res_breached = models.IntegerField(default=0)
    sla_res_open = models.IntegerField(default=0)
    sla_oth_met = models.IntegerField(default=0)
    sla_oth_breached = models.IntegerField(default=0)
    sla_oth_open = models.IntegerField(default=0)
    csat_1 = models.IntegerField(default=0)
    csat_2 = models.IntegerField(default=0)
    csat_3 = models.IntegerField(default=0)
    csat_4 = models.IntegerField(default=0)
    csat_5 = models.IntegerField(default=0)

    class Meta:
        verbose_name = "汇总"
        verbose_name_plural = "汇总"
        constraints = [models.UniqueConstraint(fields=["grain", "channel", "priority", "day", "department_id",
                                                       "category_id"], name="rollup_grain_key_unique")]
        # PostgreSQL only (include is ignored elsewhere): index-only scans for counts and paretos
        indexes = [models.Index(fields=["grain", "channel", "priority", "day", "department_id", "category_id"],
                                name="rollup_cover", include=["category1_id", "n", "closed"])]


TALLY_KINDS = ("series", "product", "brand", "emotion", "persona", "root", "frt", "res", "handled", "hreopen", "hres",
               "hstars")


class FactQueue(models.Model):
    """Complaints whose fact must be (re)computed: written by the complaint hooks and the import,
    drained in the background (`facts.drain_queue`). One row per complaint however often it
    changed before the drain ran."""

    complaint_id = models.BigIntegerField(primary_key=True)
    queued_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["queued_at"], name="fact_queue_order")]


class SyncMark(models.Model):
    """How far the periodic sync has read other apps' changes (SLA deadlines, surveys)."""

    name = models.CharField(max_length=32, primary_key=True)
    at = models.DateTimeField()


class Tally(models.Model):
    """Monthly counts per department of one attribute value (the long-period dashboard's source).

    kinds: ``series``/``product``/``brand``/``emotion``/``persona`` (key = the value), ``root``
    (closed complaints' root-cause key), ``frt``/``res`` (key = duration histogram bucket, see
    ``facts.duration_bucket``); and per agent (``assignee_id``) on the month the complaint was
    closed: ``handled``, ``hreopen`` (handled and reopened), ``hres`` (resolution-time bucket),
    ``hstars`` (survey stars of the handled complaints, key "1"…"5").
    """

    month = models.DateField()
    kind = models.CharField(max_length=8)
    department_id = models.IntegerField(default=0)
    assignee_id = models.IntegerField(default=0)
    key = models.CharField(max_length=100, blank=True)
    n = models.IntegerField(default=0)

    class Meta:
        verbose_name = "月度分项计数"
        verbose_name_plural = "月度分项计数"
        constraints = [models.UniqueConstraint(fields=["kind", "month", "department_id", "assignee_id", "key"],
                                               name="tally_key_unique")]
        indexes = [models.Index(fields=["kind", "month", "department_id", "assignee_id", "key"], name="tally_cover",
                                include=["n"])]


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
