"""Intake: survey answers, import mappings and records, mailboxes, webhook sources,
complaint links (repeat / possibly related) and the near-duplicate index."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class SatisfactionSurvey(models.Model):
    """The customer's one answer about a resolved complaint (read by analytics by these names)."""

    complaint = models.OneToOneField("complaints.Complaint", on_delete=models.PROTECT, related_name="survey",
                                     verbose_name="投诉单")
    stars = models.PositiveSmallIntegerField("满意度（1–5 星）")
    reasons = models.JSONField("原因", default=list, blank=True)
    comment = models.TextField("意见", blank=True)
    created_at = models.DateTimeField("提交时间", default=timezone.now)

    class Meta:
        verbose_name = "满意度评价"
        verbose_name_plural = "满意度评价"
        constraints = [models.CheckConstraint(condition=models.Q(stars__gte=1, stars__lte=5), name="survey_stars_1_5")]

    @property
    def satisfied(self) -> bool:
        return self.stars >= 3


class ImportMapping(models.Model):
    """A saved, named column mapping for bulk import (presets ship as TOML in data/mappings)."""

    name = models.SlugField("名称", max_length=64, unique=True)
    title = models.CharField("说明", max_length=200, blank=True)
    source = models.SlugField("来源标识", max_length=64, help_text="与外部编号一起保证不重复导入")
    profile = models.CharField("行业配置", max_length=32, default="general")
    closed = models.BooleanField("作为已办结的历史投诉导入", default=True)
    columns = models.JSONField("列映射", default=dict, help_text='{"表头": "字段"}')
    values = models.JSONField("取值映射", default=dict, blank=True, help_text='{"category": {"发动机": "pq_engine"}}')
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    updated_at = models.DateTimeField("更新时间", default=timezone.now)

    class Meta:
        verbose_name = "导入映射"
        verbose_name_plural = "导入映射"

    def __str__(self):
        return self.name


class ImportJob(models.Model):
    """One run of an import (page progress, the row-level report, the outcome)."""

    class State(models.TextChoices):
        PENDING = "pending", "等待中"
        RUNNING = "running", "进行中"
        DONE = "done", "已完成"
        FAILED = "failed", "失败"

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    filename = models.CharField(max_length=255)
    stored_path = models.CharField(max_length=500, blank=True)
    mapping = models.JSONField(default=dict)
    dry_run = models.BooleanField(default=False)
    skip_invalid = models.BooleanField(default=False)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    progress = models.FloatField(default=0.0)
    rows_seen = models.PositiveIntegerField(default=0)
    rows_imported = models.PositiveIntegerField(default=0)
    rows_existing = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "导入任务"
        verbose_name_plural = "导入任务"


class ImportedRecord(models.Model):
    """(source, external id) → complaint: what makes a re-run import nothing twice."""

    source = models.CharField(max_length=64)
    external_id = models.CharField(max_length=128)
    complaint = models.OneToOneField("complaints.Complaint", on_delete=models.CASCADE, related_name="import_record")
    extra = models.JSONField("未映射的列", default=dict, blank=True)
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "导入记录"
        verbose_name_plural = "导入记录"
        constraints = [models.UniqueConstraint(fields=["source", "external_id"], name="imported_record_unique")]


class Mailbox(models.Model):
    """An IMAP mailbox polled for complaints (edited in the admin)."""

    name = models.CharField("名称", max_length=64, unique=True)
    host = models.CharField("IMAP 服务器", max_length=255)
    port = models.PositiveIntegerField("端口", default=993)
    use_ssl = models.BooleanField("SSL/TLS", default=True)
    starttls = models.BooleanField("STARTTLS", default=False)
    username = models.CharField("用户名", max_length=255)
    password = models.CharField("密码", max_length=255, help_text="保存在数据库中；请使用专用邮箱账号")
    folder = models.CharField("文件夹", max_length=255, default="INBOX")
    profile = models.CharField("行业配置", max_length=32, default="general")
    department = models.ForeignKey("accounts.Department", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name="默认部门")
    max_attachment_bytes = models.PositiveBigIntegerField("附件大小上限（字节）", default=10 * 1024 * 1024)
    active = models.BooleanField("启用", default=True)
    last_polled_at = models.DateTimeField("最近收取", null=True, blank=True)
    last_error = models.TextField("最近错误", blank=True)

    class Meta:
        verbose_name = "投诉邮箱"
        verbose_name_plural = "投诉邮箱"

    def __str__(self):
        return self.name


class ProcessedMail(models.Model):
    """A mail turned into a complaint or a message; written in the same transaction."""

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="processed")
    uidvalidity = models.BigIntegerField()
    uid = models.BigIntegerField()
    message_id = models.CharField(max_length=255, blank=True, db_index=True)
    complaint = models.ForeignKey("complaints.Complaint", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    outcome = models.CharField(max_length=16)  # created | appended | ignored
    note = models.CharField(max_length=255, blank=True)
    processed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "已处理邮件"
        verbose_name_plural = "已处理邮件"
        constraints = [models.UniqueConstraint(fields=["mailbox", "uidvalidity", "uid"], name="processed_mail_unique")]


class WebhookSource(models.Model):
    """Another system posting complaints to /api/v1/intake/webhooks/<code> (HMAC-signed)."""

    code = models.SlugField("编码", max_length=64, unique=True)
    name = models.CharField("名称", max_length=100)
    secret = models.CharField("共享密钥", max_length=200)
    channel = models.CharField("渠道", max_length=16, default="api")
    profile = models.CharField("行业配置", max_length=32, default="general")
    department = models.ForeignKey("accounts.Department", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name="默认部门")
    active = models.BooleanField("启用", default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "Webhook 来源"
        verbose_name_plural = "Webhook 来源"

    def __str__(self):
        return self.name


class WebhookDelivery(models.Model):
    """One accepted delivery; the signature is unique so a replayed request is refused."""

    source = models.ForeignKey(WebhookSource, on_delete=models.CASCADE, related_name="deliveries")
    signature = models.CharField(max_length=64)
    external_id = models.CharField(max_length=128, blank=True)
    complaint = models.ForeignKey("complaints.Complaint", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "signature"], name="webhook_delivery_unique")]


class ComplaintLink(models.Model):
    """A repeat (重复投诉: same customer, similar matter) or a possibly related complaint."""

    class Kind(models.TextChoices):
        REPEAT = "repeat", "重复投诉"
        RELATED = "related", "可能相关"

    complaint = models.ForeignKey("complaints.Complaint", on_delete=models.CASCADE, related_name="intake_links")
    other = models.ForeignKey("complaints.Complaint", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    similarity = models.FloatField(default=0.0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "投诉关联"
        verbose_name_plural = "投诉关联"
        constraints = [models.UniqueConstraint(fields=["complaint", "other", "kind"], name="complaint_link_unique")]
        indexes = [models.Index(fields=["kind", "created_at"], name="complaint_link_kind")]


class SimilarityBand(models.Model):
    """One LSH band of a complaint's MinHash signature: candidates share a band key.

    complaint_id is a plain column (no FK constraint) so the index can be filled in bulk. The
    primary key is (band_key, complaint_id), the one index look-ups need: twelve rows per
    complaint, so no surrogate id and its index to maintain.
    """

    pk = models.CompositePrimaryKey("band_key", "complaint_id")
    band_key = models.BigIntegerField()
    complaint_id = models.BigIntegerField()


class SimilaritySignature(models.Model):
    complaint_id = models.BigIntegerField(primary_key=True)
    customer_id = models.BigIntegerField(db_index=True)
    received_at = models.DateTimeField()
    signature = models.BinaryField()
