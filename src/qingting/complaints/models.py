"""Complaints, customers, the timeline, and the workflow stored as data.

State changes happen only in `services.py`. The timeline (`Event`) is append-only: the
model, its queryset and (on PostgreSQL) a database trigger refuse updates and deletes.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from qingting.core.db import in_texts
from qingting.core.fields import JSONTextField, SearchKeysField


class Channel(models.TextChoices):
    PHONE = "phone", "热线电话"
    IN_PERSON = "in_person", "面对面"
    LETTER = "letter", "书面信函"
    WEB = "web", "在线表单"
    EMAIL = "email", "电子邮件"
    CHAT = "chat", "在线客服"
    SOCIAL = "social", "社交媒体"
    REGULATOR = "regulator", "监管转办"
    API = "api", "API"
    IMPORT = "import", "批量导入"


class Priority(models.TextChoices):
    P1 = "P1", "P1 紧急"
    P2 = "P2", "P2 高"
    P3 = "P3", "P3 中"
    P4 = "P4", "P4 低"


class ResolutionType(models.TextChoices):
    REFUND = "refund", "退款"
    EXCHANGE = "exchange", "换货"
    REPAIR = "repair", "维修"
    APOLOGY = "apology", "道歉说明"
    COMPENSATION = "compensation", "补偿"
    EXPLANATION = "explanation", "解释说明"
    OTHER = "other", "其他"


class CustomerAnswer(models.TextChoices):
    ACCEPT = "accept", "接受"
    PARTIAL = "partial", "部分接受"
    REJECT = "reject", "拒绝"


class IndustryProfile(models.Model):
    """An industry's own fields for 'what the complaint is about' (VIN, order number …).

    `fields` is a list of {"key", "label", "type": str|int|decimal|date|choice,
    "required", "max_length", "pattern", "choices"}; `profiles.validate_about` checks it.
    """

    code = models.SlugField("编码", max_length=32, unique=True)
    name = models.CharField("名称", max_length=64)
    fields = models.JSONField("字段定义", default=list)
    position = models.PositiveSmallIntegerField("排序", default=0)

    class Meta:
        verbose_name = "行业配置"
        verbose_name_plural = "行业配置"
        ordering = ["position", "code"]

    def __str__(self):
        return self.name


class Category(models.Model):
    """Two-level complaint taxonomy (投诉类别); level-2 entries may belong to one profile."""

    code = models.SlugField("编码", max_length=64, unique=True)
    name = models.CharField("名称", max_length=64)
    parent = models.ForeignKey("self", verbose_name="上级类别", null=True, blank=True,
                               on_delete=models.PROTECT, related_name="children")
    profile = models.ForeignKey(IndustryProfile, verbose_name="适用行业", null=True, blank=True,
                                on_delete=models.PROTECT, related_name="categories")
    position = models.PositiveSmallIntegerField("排序", default=0)
    active = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = "投诉类别"
        verbose_name_plural = "投诉类别"
        ordering = ["position", "code"]

    def __str__(self):
        return f"{self.parent.name} / {self.name}" if self.parent_id else self.name

    @property
    def level(self) -> int:
        return 2 if self.parent_id else 1


class WorkflowVariant(models.Model):
    code = models.SlugField("编码", max_length=32, unique=True)
    name = models.CharField("名称", max_length=64)
    is_default = models.BooleanField("默认", default=False)
    description = models.TextField("说明", blank=True)

    class Meta:
        verbose_name = "处理流程"
        verbose_name_plural = "处理流程"

    def __str__(self):
        return self.name


class Step(models.Model):
    """One handling step (处理环节) of a workflow variant; its name is renamable."""

    variant = models.ForeignKey(WorkflowVariant, on_delete=models.CASCADE, related_name="steps", verbose_name="流程")
    code = models.SlugField("编码", max_length=32)
    name = models.CharField("名称", max_length=32)
    name_en = models.CharField("英文名称", max_length=64, blank=True)
    position = models.PositiveSmallIntegerField("顺序")
    description = models.TextField("要点", blank=True)
    customer_text = models.CharField("客户可见说明", max_length=200, blank=True)
    is_final = models.BooleanField("结束环节", default=False)

    class Meta:
        verbose_name = "处理环节"
        verbose_name_plural = "处理环节"
        ordering = ["variant", "position"]
        constraints = [models.UniqueConstraint(fields=["variant", "code"], name="step_code_unique_per_variant")]

    def __str__(self):
        return self.name


class Transition(models.Model):
    """An allowed move between steps with its guards (codes from `workflow.GUARDS`)."""

    class Kind(models.TextChoices):
        FORWARD = "forward", "前进"
        SKIP = "skip", "合并/跳过"
        BACK = "back", "退回"
        REOPEN = "reopen", "重新打开"

    variant = models.ForeignKey(WorkflowVariant, on_delete=models.CASCADE, related_name="transitions")
    from_step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="outgoing", verbose_name="从")
    to_step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="incoming", verbose_name="到")
    kind = models.CharField("类型", max_length=16, choices=Kind.choices, default=Kind.FORWARD)
    guards = models.JSONField("条件", default=list, blank=True)
    roles = models.JSONField("允许角色", default=list, blank=True, help_text="为空表示所有可处理该投诉的人")
    override_roles = models.JSONField("可越过条件的角色", default=list, blank=True)
    counts_as_refusal = models.BooleanField("计为客户拒绝", default=False)

    class Meta:
        verbose_name = "环节流转"
        verbose_name_plural = "环节流转"
        constraints = [models.UniqueConstraint(fields=["from_step", "to_step"], name="transition_unique")]

    def __str__(self):
        return f"{self.from_step} → {self.to_step}"


class CustomerQuerySet(models.QuerySet):
    def with_mobile(self, mobile: str):
        """Customers with this (normalised, non-empty) mobile. The stated `mobile <> ''` lets
        PostgreSQL use the partial index however the value is sent (a bound parameter too)."""
        return self.filter(mobile=mobile).exclude(mobile="")

    def with_email(self, email: str):
        return self.filter(email=email).exclude(email="")

    def with_mobile_in(self, mobiles):
        """`with_mobile` for many (a batch of imported rows): one array parameter on PostgreSQL."""
        return self.filter(mobile__in=in_texts(mobiles)).exclude(mobile="")

    def with_email_in(self, emails):
        return self.filter(email__in=in_texts(emails)).exclude(email="")


class Customer(models.Model):
    name = models.CharField("姓名", max_length=100)
    mobile = models.CharField("手机", max_length=32, blank=True)
    email = models.CharField("邮箱", max_length=254, blank=True)
    other_contacts = models.JSONField("其他联系方式", default=list, blank=True)
    tags = models.JSONField("标签", default=list, blank=True)
    notes = models.TextField("备注", blank=True)
    created_at = models.DateTimeField("创建时间", default=timezone.now)

    objects = CustomerQuerySet.as_manager()

    class Meta:
        verbose_name = "客户"
        verbose_name_plural = "客户"
        # Contacts are only looked up exactly and never empty (`with_mobile`, `with_email`): a
        # customer without one (e.g. an imported complaint with no contact) adds no index entry,
        # and there is no LIKE-pattern twin (Django's default for an indexed CharField).
        indexes = [
            models.Index(fields=["mobile"], name="customer_mobile", condition=~models.Q(mobile="")),
            models.Index(fields=["email"], name="customer_email", condition=~models.Q(email="")),
        ]

    def __str__(self):
        return self.name


class Complaint(models.Model):
    # unique by the constraints below: `unique=True` would add a second, LIKE-pattern index on
    # PostgreSQL that no query uses (numbers and tracking codes are only looked up exactly).
    number = models.CharField("投诉编号", max_length=32)
    tracking_code = models.CharField("查询码", max_length=32)
    channel = models.CharField("渠道", max_length=16, choices=Channel.choices)
    received_at = models.DateTimeField("受理时间")
    created_at = models.DateTimeField("登记时间", default=timezone.now)
    updated_at = models.DateTimeField("更新时间", default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name="登记人")

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="complaints", verbose_name="客户",
                                 db_index=False)  # complaint_customer_recent leads with it
    subject = models.CharField("投诉简述", max_length=200)
    description = models.TextField("投诉内容")
    profile = models.ForeignKey(IndustryProfile, on_delete=models.PROTECT, related_name="+", verbose_name="行业",
                                db_index=False)  # a handful of profiles: never a selective filter
    about = models.JSONField("投诉对象", default=dict, blank=True)

    department = models.ForeignKey("accounts.Department", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="complaints", verbose_name="部门", db_index=False)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="complaints", verbose_name="投诉类别", db_index=False)
    category_confirmed = models.BooleanField("类别已确认", default=False)
    priority = models.CharField("优先级", max_length=2, choices=Priority.choices, default=Priority.P3)

    variant = models.ForeignKey(WorkflowVariant, on_delete=models.PROTECT, related_name="+", verbose_name="流程",
                                db_index=False)
    step = models.ForeignKey(Step, on_delete=models.PROTECT, related_name="complaints", verbose_name="当前环节",
                             db_index=False)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="assigned_complaints", verbose_name="负责人", db_index=False)

    facts = models.TextField("核实情况", blank=True)
    action_plan = models.TextField("处理方案", blank=True)
    resolution_type = models.CharField("解决方式", max_length=16, choices=ResolutionType.choices, blank=True)
    resolution_amount = models.DecimalField("金额", max_digits=12, decimal_places=2, null=True, blank=True)
    customer_answer = models.CharField("客户意见", max_length=16, choices=CustomerAnswer.choices, blank=True)
    refusal_count = models.PositiveSmallIntegerField("客户拒绝次数", default=0)
    root_cause = models.TextField("根本原因", blank=True)
    lessons_learned = models.TextField("经验教训", blank=True)
    closed_at = models.DateTimeField("结案时间", null=True, blank=True)
    reopen_count = models.PositiveSmallIntegerField("重开次数", default=0)
    escalation_level = models.PositiveSmallIntegerField("升级层级", default=0)
    escalated_to = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="escalated_complaints", verbose_name="升级至",
                                     db_index=False)

    # JSON kept as text: never queried inside, and PostgreSQL parses every jsonb value written.
    triage = JSONTextField("智能分析", default=dict, blank=True)
    # Denormalised from the triage snapshot so queues can filter and sort on them with indexes.
    emotion = models.CharField("情绪", max_length=24, blank=True)
    emotion_intensity = models.FloatField("情绪强度", default=0.0)
    persona = models.CharField("主要客户类型", max_length=24, blank=True)
    suspected_malicious = models.BooleanField("疑似恶意", default=False)
    # The search index's keys (CJK bigrams and words of number, subject, description, customer name).
    search_keys = SearchKeysField()
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        verbose_name = "投诉单"
        verbose_name_plural = "投诉单"
        # Every foreign key that a queue filters on leads one of these (field, -received_at) indexes, so
        # the keys carry no index of their own: each index costs every insert (bulk import) and update.
        indexes = [
            models.Index(fields=["-received_at", "-id"], name="complaint_recent"),
            models.Index(fields=["step", "-received_at"], name="complaint_step_recent"),
            models.Index(fields=["department", "-received_at"], name="complaint_dept_recent"),
            models.Index(fields=["assignee", "-received_at"], name="complaint_assignee_recent"),
            models.Index(fields=["category", "-received_at"], name="complaint_category_recent"),
            models.Index(fields=["channel", "-received_at"], name="complaint_channel_recent"),
            models.Index(fields=["customer", "-received_at"], name="complaint_customer_recent"),
            # only escalated complaints have an entry (most never are; an import's never)
            models.Index(fields=["escalated_to", "-received_at"], name="complaint_escalated_recent",
                         condition=models.Q(escalated_to__isnull=False)),
            models.Index(fields=["emotion", "-received_at"], name="complaint_emotion_recent"),
            models.Index(fields=["persona", "-received_at"], name="complaint_persona_recent"),
            models.Index(fields=["priority", "-received_at", "-id"], name="complaint_priority_first"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["number"], name="complaint_number_unique"),
            models.UniqueConstraint(fields=["tracking_code"], name="complaint_tracking_code_unique"),
        ]

    def __str__(self):
        return self.number

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


class StepOwner(models.Model):
    """The one person responsible for a step of a complaint (责任到人)."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="step_owners")
    step = models.ForeignKey(Step, on_delete=models.PROTECT, related_name="+")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="owned_steps")
    started_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "环节负责人"
        verbose_name_plural = "环节负责人"
        constraints = [models.UniqueConstraint(fields=["complaint", "step"], name="one_owner_per_step")]


class EventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("the timeline is append-only")

    def delete(self):
        raise PermissionError("the timeline is append-only")


class Event(models.Model):
    """One line of the append-only timeline and audit trail.

    `kind` is a stable dotted code (`step.advanced`); `before`/`after` hold stable codes
    and values, translated only when shown.
    """

    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="events",
                                  db_index=False)  # event_timeline leads with it
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    kind = models.CharField(max_length=48)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)
    customer_visible = models.BooleanField(default=False)

    objects = EventQuerySet.as_manager()

    class Meta:
        verbose_name = "处理记录"
        verbose_name_plural = "处理记录"
        indexes = [models.Index(fields=["complaint", "at", "id"], name="event_timeline"),
                   models.Index(fields=["kind", "at"], name="event_kind_at")]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("the timeline is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("the timeline is append-only")


class Note(models.Model):
    """An internal note (never shown to the customer)."""

    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "内部备注"
        verbose_name_plural = "内部备注"
        indexes = [models.Index(fields=["complaint", "created_at"], name="note_complaint")]


class Message(models.Model):
    """A message to or from the customer (customer-visible by nature)."""

    class Direction(models.TextChoices):
        INBOUND = "in", "客户来信"
        OUTBOUND = "out", "回复客户"

    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="messages")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "客户沟通"
        verbose_name_plural = "客户沟通"
        indexes = [models.Index(fields=["complaint", "created_at"], name="message_complaint")]


class Attachment(models.Model):
    """A file kept under DATA_DIR/attachments (outside the web root), served after an access check."""

    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="attachments")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    storage_name = models.CharField(max_length=255, unique=True)
    customer_visible = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "附件"
        verbose_name_plural = "附件"


class NumberSequence(models.Model):
    """Per-day counter for complaint numbers; incremented under a row lock."""

    day = models.DateField(primary_key=True)
    last = models.PositiveIntegerField(default=0)


class IdempotencyRecord(models.Model):
    """Remembers which complaint a client's Idempotency-Key created, with the request's hash."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_unique")]


class TrainingLabel(models.Model):
    """A category an agent confirmed or corrected: a label for retraining the triage model."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="training_labels")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    suggested = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "分类训练标签"
        verbose_name_plural = "分类训练标签"


class ComplaintFlag(models.Model):
    """One triage label of a complaint that queues filter on: a crisis signal or a difficult-customer
    type (not "ordinary", which the complaint's persona column says: triage_link.triage_flags)."""

    class Kind(models.TextChoices):
        SIGNAL = "signal", "危机信号"
        PERSONA = "persona", "客户类型"

    # complaint_flag_unique (complaint, kind, code) serves look-ups by complaint: no index of its own
    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="flags", db_index=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    code = models.CharField(max_length=24)
    score = models.FloatField(default=0.0)

    class Meta:
        verbose_name = "分析标记"
        verbose_name_plural = "分析标记"
        constraints = [models.UniqueConstraint(fields=["complaint", "kind", "code"], name="complaint_flag_unique")]
        indexes = [models.Index(fields=["kind", "code", "complaint"], name="complaint_flag_lookup")]


class TriageLexicon(models.Model):
    """An administrator's addition to the triage lexicons (TOML, same format as the shipped
    files: `[[rule]]` entries or `[[profile.<code>]]` entries). Validated on save; active ones
    are written to DATA_DIR/triage/lexicons/ and every process reloads them within a minute."""

    name = models.SlugField("名称", max_length=64, unique=True)
    description = models.CharField("说明", max_length=200, blank=True)
    content = models.TextField("内容 (TOML)", help_text='以 [meta] lang = "zh"（或 "en"）开头，再写 [[rule]] 条目，格式同内置词库')
    active = models.BooleanField("启用", default=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "分析词库"
        verbose_name_plural = "分析词库"

    def __str__(self):
        return self.name

    def clean(self):
        from django.core.exceptions import ValidationError

        from .triage_link import validate_lexicon

        errors = validate_lexicon(self.name or "lexicon", self.content or "")
        if errors:
            raise ValidationError({"content": errors})
