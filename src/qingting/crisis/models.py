"""Hotspots (persisted early-warning alerts), escalation rules and proposals, crisis cases.

State changes happen only in `services.py`. Sets an operator tunes are tables (crisis types,
severities, playbook items, escalation rules, statement approval roles, detector
thresholds per industry profile); sets the code branches on are enums (crisis steps,
statuses, team roles). The crisis timeline (`CrisisEvent`) is append-only.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

USER = settings.AUTH_USER_MODEL


# ------------------------------------------------------------------ enums (code branches on them)

class CrisisStep(models.TextChoices):
    """The six steps of crisis handling, then 总结复盘 and closed."""

    ASSESS = "assess", "评估危机"
    STRATEGY = "strategy", "制定应对策略"
    GATHER = "gather", "全面搜集信息"
    RESPOND = "respond", "快速回应"
    COMMUNICATE = "communicate", "持续沟通"
    COORDINATE = "coordinate", "整体协调"
    REVIEW = "review", "总结复盘"
    CLOSED = "closed", "已结束"


STEP_ORDER = [s.value for s in CrisisStep]


class TeamRole(models.TextChoices):
    COMMANDER = "commander", "总指挥"
    SPOKESPERSON = "spokesperson", "发言人"
    LIAISON = "liaison", "联络人"
    SCRIBE = "scribe", "记录员"
    LEGAL = "legal", "法务"
    MEMBER = "member", "成员"


class HotspotStatus(models.TextChoices):
    OPEN = "open", "待处理"
    ACKNOWLEDGED = "acknowledged", "已确认关注"
    DISMISSED = "dismissed", "已忽略"
    CRISIS = "crisis", "已关联危机"


class ProposalStatus(models.TextChoices):
    PROPOSED = "proposed", "待决定"
    CONFIRMED = "confirmed", "已确认"
    DECLINED = "declined", "已否决"


class StatementKind(models.TextChoices):
    HOLDING = "holding", "初步声明"
    FULL = "full", "完整声明"
    QA = "qa", "客服问答口径"


class StatementStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    IN_REVIEW = "in_review", "待审批"
    REVIEWED = "reviewed", "已审核"
    APPROVED = "approved", "已批准"
    SUPERSEDED = "superseded", "已被新版本取代"


class PublicationChannel(models.TextChoices):
    PRESS = "press", "新闻发布会"
    WEIBO = "weibo", "微博"
    WECHAT = "wechat", "微信公众号"
    WEBSITE = "website", "官方网站"
    REGULATOR = "regulator", "监管机构"
    STAFF = "staff", "内部员工"
    CUSTOMERS = "customers", "受影响客户"


class Stakeholder(models.TextChoices):
    CUSTOMERS = "customers", "受影响客户"
    MEDIA = "media", "媒体"
    PUBLIC = "public", "公众"
    REGULATORS = "regulators", "监管机构"
    STAFF = "staff", "员工"
    PARTNERS = "partners", "合作伙伴"


class RuleKind(models.TextChoices):
    SAFETY_CUSTOMERS = "safety_customers", "安全信号：T 小时内 ≥ N 位不同客户"
    INFLUENCER_P1 = "influencer_p1", "媒体/有影响力客户 + P1"
    REGULATOR_COUNT = "regulator_count", "监管介入：≥ N 件投诉"
    GROUP_SIZE = "group_size", "群体投诉：≥ N 人"
    HOTSPOT_SCORE = "hotspot_score", "热点得分超过阈值"


class MassActionKind(models.TextChoices):
    MESSAGE = "message", "群发消息"
    STEP = "step", "移至环节"
    ASSIGN = "assign", "分派"
    TAG = "tag", "加标签"
    OFFER = "offer", "统一补救措施"


# ------------------------------------------------------------------ tables the operator tunes

class CrisisType(models.Model):
    code = models.SlugField("编码", max_length=32, unique=True)
    name = models.CharField("名称", max_length=64)
    description = models.TextField("说明", blank=True)
    position = models.PositiveSmallIntegerField("排序", default=0)
    active = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = "危机类型"
        verbose_name_plural = "危机类型"
        ordering = ["position", "code"]

    def __str__(self):
        return self.name


class Severity(models.Model):
    """Severity levels I–IV; the first holding statement is due within `holding_hours` of confirmation."""

    code = models.CharField("编码", max_length=8, unique=True)
    name = models.CharField("名称", max_length=32)
    description = models.TextField("判定标准", blank=True)
    holding_hours = models.PositiveSmallIntegerField("初步声明时限(小时)", default=24)
    update_hours = models.PositiveSmallIntegerField("进展通报间隔(小时)", default=24)
    position = models.PositiveSmallIntegerField("排序", default=0)

    class Meta:
        verbose_name = "危机级别"
        verbose_name_plural = "危机级别"
        ordering = ["position", "code"]

    def __str__(self):
        return f"{self.code} {self.name}"


class PlaybookItem(models.Model):
    """One checklist item of a crisis type's playbook (应对预案), for one step.

    `crisis_type` empty: the item applies to every type. Due: `due_hours` after the crisis is
    confirmed, or — when `due_from_severity` — the severity's `holding_hours`.
    """

    crisis_type = models.ForeignKey(CrisisType, null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="playbook", verbose_name="危机类型")
    step = models.CharField("环节", max_length=16, choices=CrisisStep.choices)
    title = models.CharField("事项", max_length=200)
    guidance = models.TextField("要点", blank=True)
    owner_role = models.CharField("负责角色", max_length=16, choices=TeamRole.choices, default=TeamRole.COMMANDER)
    department = models.CharField("负责部门", max_length=64, blank=True, help_text="如 公关、法务、质量、售后、门店")
    due_hours = models.PositiveIntegerField("确认后几小时内完成", null=True, blank=True)
    due_from_severity = models.BooleanField("时限取危机级别的初步声明时限", default=False)
    position = models.PositiveSmallIntegerField("排序", default=0)

    class Meta:
        verbose_name = "应对预案事项"
        verbose_name_plural = "应对预案事项"
        ordering = ["crisis_type", "position", "id"]

    def __str__(self):
        return self.title


class EscalationRule(models.Model):
    """A rule that proposes a crisis (a manager confirms or declines)."""

    code = models.SlugField("编码", max_length=48, unique=True)
    name = models.CharField("名称", max_length=100)
    kind = models.CharField("类型", max_length=24, choices=RuleKind.choices)
    min_count = models.PositiveIntegerField("数量下限 N", default=3)
    within_hours = models.PositiveIntegerField("时间窗 T(小时)", default=24)
    min_score = models.FloatField("得分下限", default=8.0)
    crisis_type = models.ForeignKey(CrisisType, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name="建议危机类型")
    severity = models.ForeignKey(Severity, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                 verbose_name="建议级别")
    active = models.BooleanField("启用", default=True)
    position = models.PositiveSmallIntegerField("排序", default=0)

    class Meta:
        verbose_name = "危机升级规则"
        verbose_name_plural = "危机升级规则"
        ordering = ["position", "code"]

    def __str__(self):
        return self.name


class StatementPolicy(models.Model):
    """Which team role drafts, reviews and approves each kind of statement (configurable)."""

    kind = models.CharField("声明类型", max_length=16, choices=StatementKind.choices, unique=True)
    draft_role = models.CharField("起草", max_length=16, choices=TeamRole.choices, default=TeamRole.SPOKESPERSON)
    review_role = models.CharField("审核", max_length=16, choices=TeamRole.choices, default=TeamRole.LEGAL)
    approve_role = models.CharField("批准", max_length=16, choices=TeamRole.choices, default=TeamRole.COMMANDER)

    class Meta:
        verbose_name = "声明审批角色"
        verbose_name_plural = "声明审批角色"

    def __str__(self):
        return self.get_kind_display()


class DetectorProfile(models.Model):
    """Early-warning thresholds of one industry profile: keys of `thresholds.toml` overriding its values."""

    code = models.SlugField("行业编码", max_length=32, unique=True)
    values = models.JSONField("阈值", default=dict, blank=True)
    updated_at = models.DateTimeField("更新时间", default=timezone.now)

    class Meta:
        verbose_name = "预警阈值"
        verbose_name_plural = "预警阈值"

    def __str__(self):
        return self.code


class DetectorState(models.Model):
    """The detector of one industry profile (see `feed.py`): every complaint up to
    `last_complaint_id` has been fed; `state` is a snapshot (`Detector.to_state`, plus the
    complaint id it was taken at) written by the periodic sweep at `snapshot_at`."""

    profile = models.SlugField(max_length=32, unique=True)
    state = models.JSONField(default=dict, blank=True)
    last_complaint_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)
    snapshot_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "预警状态"
        verbose_name_plural = "预警状态"


class ComplaintTerms(models.Model):
    """The topic terms of a complaint's text (`textsig.raw_terms`, space-separated), stored when
    the detector is first fed the complaint and kept for `feed.CATCH_UP_DAYS`: rebuilding the
    detector then reads them instead of segmenting 30 days of texts again."""

    complaint = models.OneToOneField("complaints.Complaint", primary_key=True, on_delete=models.CASCADE,
                                     related_name="crisis_terms")
    received_at = models.DateTimeField(db_index=True)
    terms = models.TextField(blank=True)

    class Meta:
        verbose_name = "投诉文本词项"
        verbose_name_plural = "投诉文本词项"


# ------------------------------------------------------------------ hotspots

class Hotspot(models.Model):
    key = models.CharField("分组键", max_length=255, db_index=True)
    profile = models.SlugField("行业", max_length=32, default="")
    label = models.CharField("热点", max_length=255)
    group = models.JSONField("分组", default=dict)
    group_kind = models.CharField("分组类型", max_length=16, default="hierarchy")
    status = models.CharField("状态", max_length=16, choices=HotspotStatus.choices, default=HotspotStatus.OPEN,
                              db_index=True)
    score = models.FloatField("得分", default=0.0)
    count = models.PositiveIntegerField("窗口内投诉数", default=0)
    baseline = models.FloatField("预期数", default=0.0)
    signals = models.JSONField("危机信号", default=list, blank=True)
    keywords = models.JSONField("关键词", default=list, blank=True)
    sample_texts = models.JSONField("代表性内容", default=list, blank=True)
    series = models.JSONField("增长曲线", default=list, blank=True, help_text="[[ISO 时间, 次数], …]")
    fire_count = models.PositiveIntegerField("触发次数", default=1)
    first_fired_at = models.DateTimeField("首次预警", default=timezone.now)
    last_fired_at = models.DateTimeField("最近预警", default=timezone.now, db_index=True)
    status_reason = models.TextField("原因", blank=True)
    status_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status_at = models.DateTimeField(null=True, blank=True)
    crisis = models.ForeignKey("Crisis", null=True, blank=True, on_delete=models.SET_NULL, related_name="hotspots")

    class Meta:
        verbose_name = "热点"
        verbose_name_plural = "热点"
        ordering = ["-last_fired_at"]

    def __str__(self):
        return self.label


class HotspotMember(models.Model):
    hotspot = models.ForeignKey(Hotspot, on_delete=models.CASCADE, related_name="members")
    complaint = models.ForeignKey("complaints.Complaint", on_delete=models.CASCADE, related_name="hotspot_links")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hotspot", "complaint"], name="hotspot_member_unique")]


class CrisisProposal(models.Model):
    rule = models.ForeignKey(EscalationRule, null=True, on_delete=models.SET_NULL, related_name="proposals",
                             verbose_name="规则")
    dedupe_key = models.CharField(max_length=255, unique=True)
    title = models.CharField("标题", max_length=200)
    reason = models.TextField("触发原因")
    evidence = models.JSONField("依据", default=dict, blank=True)
    complaint_ids = models.JSONField("相关投诉", default=list, blank=True)
    hotspot = models.ForeignKey(Hotspot, null=True, blank=True, on_delete=models.SET_NULL, related_name="proposals")
    status = models.CharField("状态", max_length=16, choices=ProposalStatus.choices, default=ProposalStatus.PROPOSED,
                              db_index=True)
    created_at = models.DateTimeField("提出时间", default=timezone.now)
    decided_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.TextField("否决原因", blank=True)
    crisis = models.ForeignKey("Crisis", null=True, blank=True, on_delete=models.SET_NULL, related_name="proposals")

    class Meta:
        verbose_name = "危机提议"
        verbose_name_plural = "危机提议"
        ordering = ["-created_at"]


# ------------------------------------------------------------------ crisis cases

class Crisis(models.Model):
    number = models.CharField("危机编号", max_length=32, unique=True)
    title = models.CharField("标题", max_length=200)
    crisis_type = models.ForeignKey(CrisisType, on_delete=models.PROTECT, related_name="crises", verbose_name="类型")
    severity = models.ForeignKey(Severity, on_delete=models.PROTECT, related_name="crises", verbose_name="级别")
    summary = models.TextField("概况", blank=True)
    scope = models.JSONField("影响范围", default=dict, blank=True, help_text='{"products": [], "stores": [], "regions": []}')
    match = models.JSONField("关联条件", default=dict, blank=True,
                             help_text='新投诉自动关联的条件：{"about": {"brand": …}, "problem": "类别编码", "keywords": […]}')
    line_to_take = models.TextField("统一口径", blank=True)
    status = models.CharField("环节", max_length=16, choices=CrisisStep.choices, default=CrisisStep.ASSESS,
                              db_index=True)
    opened_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField("开启时间", default=timezone.now)
    confirmed_at = models.DateTimeField("确认时间", default=timezone.now)
    closed_at = models.DateTimeField("结束时间", null=True, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        verbose_name = "危机事件"
        verbose_name_plural = "危机事件"
        ordering = ["-opened_at"]

    def __str__(self):
        return f"{self.number} {self.title}"

    @property
    def is_closed(self) -> bool:
        return self.status == CrisisStep.CLOSED


class CrisisNumber(models.Model):
    day = models.DateField(primary_key=True)
    last = models.PositiveIntegerField(default=0)


class TeamMember(models.Model):
    crisis = models.ForeignKey(Crisis, on_delete=models.CASCADE, related_name="team")
    user = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="crisis_roles")
    role = models.CharField("角色", max_length=16, choices=TeamRole.choices)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "应急小组成员"
        verbose_name_plural = "应急小组成员"
        constraints = [models.UniqueConstraint(fields=["crisis", "user", "role"], name="crisis_team_unique")]


class ChecklistItem(models.Model):
    crisis = models.ForeignKey(Crisis, on_delete=models.CASCADE, related_name="checklist")
    step = models.CharField("环节", max_length=16, choices=CrisisStep.choices)
    title = models.CharField("事项", max_length=200)
    guidance = models.TextField("要点", blank=True)
    owner_role = models.CharField("负责角色", max_length=16, choices=TeamRole.choices, blank=True)
    owner = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    department = models.CharField("负责部门", max_length=64, blank=True)
    due_at = models.DateTimeField("截止", null=True, blank=True)
    done_at = models.DateTimeField("完成时间", null=True, blank=True)
    done_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.TextField("说明", blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = "检查清单"
        verbose_name_plural = "检查清单"
        ordering = ["crisis", "position", "id"]


class CrisisTask(models.Model):
    crisis = models.ForeignKey(Crisis, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField("任务", max_length=200)
    department = models.ForeignKey("accounts.Department", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name="负责部门")
    owner = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    due_at = models.DateTimeField("截止", null=True, blank=True)
    done_at = models.DateTimeField("完成时间", null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "部门任务"
        verbose_name_plural = "部门任务"
        ordering = ["crisis", "id"]


class Decision(models.Model):
    crisis = models.ForeignKey(Crisis, on_delete=models.CASCADE, related_name="decisions")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    decision = models.TextField("决定")
    rationale = models.TextField("理由", blank=True)

    class Meta:
        verbose_name = "决策记录"
        verbose_name_plural = "决策记录"
        ordering = ["crisis", "at", "id"]


class CrisisEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("the crisis timeline is append-only")

    def delete(self):
        raise PermissionError("the crisis timeline is append-only")


class CrisisEvent(models.Model):
    """Append-only crisis timeline; `kind` a stable dotted code (`crisis.opened`)."""

    crisis = models.ForeignKey(Crisis, on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=48)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)

    objects = CrisisEventQuerySet.as_manager()

    class Meta:
        verbose_name = "危机处理记录"
        verbose_name_plural = "危机处理记录"
        indexes = [models.Index(fields=["crisis", "at", "id"], name="crisis_event_timeline")]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("the crisis timeline is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("the crisis timeline is append-only")


class CrisisLink(models.Model):
    """A complaint affected by the crisis. Unlinking keeps the row (with `unlinked_at`)."""

    class Source(models.TextChoices):
        HOTSPOT = "hotspot", "来自热点"
        SEARCH = "search", "检索"
        RULE = "rule", "规则"
        AUTO = "auto", "新投诉自动关联"
        MANUAL = "manual", "手工"

    crisis = models.ForeignKey(Crisis, on_delete=models.CASCADE, related_name="links")
    complaint = models.ForeignKey("complaints.Complaint", on_delete=models.CASCADE, related_name="crisis_links")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANUAL)
    linked_at = models.DateTimeField(default=timezone.now)
    linked_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    unlinked_at = models.DateTimeField(null=True, blank=True)
    tags = models.JSONField(default=list, blank=True)
    offer = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = "受影响投诉"
        verbose_name_plural = "受影响投诉"
        constraints = [models.UniqueConstraint(fields=["crisis", "complaint"], name="crisis_link_unique")]
        indexes = [models.Index(fields=["complaint", "unlinked_at"], name="crisis_link_complaint")]


class MassAction(models.Model):
    crisis = models.ForeignKey(Crisis, on_delete=models.CASCADE, related_name="mass_actions")
    kind = models.CharField(max_length=16, choices=MassActionKind.choices)
    params = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    total = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failures = models.JSONField(default=list, blank=True, help_text='[{"number", "code", "reason"}]')

    class Meta:
        verbose_name = "批量操作"
        verbose_name_plural = "批量操作"
        ordering = ["-created_at"]


class Statement(models.Model):
    """One version of a statement; a new version supersedes the previous one of the same kind."""

    crisis = models.ForeignKey(Crisis, on_delete=models.CASCADE, related_name="statements")
    kind = models.CharField("类型", max_length=16, choices=StatementKind.choices)
    version = models.PositiveSmallIntegerField("版本", default=1)
    title = models.CharField("标题", max_length=200)
    body = models.TextField("正文")
    status = models.CharField("状态", max_length=16, choices=StatementStatus.choices, default=StatementStatus.DRAFT)
    check_result = models.JSONField("检查结果", default=dict, blank=True)
    drafted_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    drafted_at = models.DateTimeField(default=timezone.now)
    reviewed_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "声明"
        verbose_name_plural = "声明"
        ordering = ["crisis", "kind", "-version"]
        constraints = [models.UniqueConstraint(fields=["crisis", "kind", "version"], name="statement_version_unique")]


class Publication(models.Model):
    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="publications")
    channel = models.CharField("渠道", max_length=16, choices=PublicationChannel.choices)
    published_at = models.DateTimeField("发布时间", default=timezone.now)
    actor = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    note = models.CharField("链接/说明", max_length=500, blank=True)

    class Meta:
        verbose_name = "发布记录"
        verbose_name_plural = "发布记录"
        ordering = ["published_at", "id"]


class Communication(models.Model):
    crisis = models.ForeignKey(Crisis, on_delete=models.CASCADE, related_name="communications")
    stakeholder = models.CharField("对象", max_length=16, choices=Stakeholder.choices)
    direction = models.CharField("方向", max_length=3, choices=[("out", "发出"), ("in", "收到")], default="out")
    channel = models.CharField("方式", max_length=64, blank=True)
    summary = models.TextField("内容摘要")
    at = models.DateTimeField("时间", default=timezone.now)
    actor = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = "沟通记录"
        verbose_name_plural = "沟通记录"
        ordering = ["crisis", "-at", "-id"]


class Enquiry(models.Model):
    crisis = models.ForeignKey(Crisis, on_delete=models.CASCADE, related_name="enquiries")
    stakeholder = models.CharField("对象", max_length=16, choices=Stakeholder.choices, default=Stakeholder.MEDIA)
    from_name = models.CharField("来自", max_length=100)
    organisation = models.CharField("单位", max_length=100, blank=True)
    question = models.TextField("问题")
    received_at = models.DateTimeField("收到时间", default=timezone.now)
    answer = models.TextField("答复", blank=True)
    answered_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "外部问询"
        verbose_name_plural = "外部问询"
        ordering = ["crisis", "-received_at"]


class Review(models.Model):
    """总结复盘: required to close a crisis."""

    crisis = models.OneToOneField(Crisis, on_delete=models.CASCADE, related_name="review")
    what_worked = models.TextField("做得好的", blank=True)
    what_did_not = models.TextField("需要改进的", blank=True)
    lessons = models.TextField("经验教训", blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = "总结复盘"
        verbose_name_plural = "总结复盘"


class CorrectiveAction(models.Model):
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="actions")
    title = models.CharField("整改措施", max_length=200)
    owner = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", verbose_name="负责人")
    due_date = models.DateField("完成期限")
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "整改措施"
        verbose_name_plural = "整改措施"
        ordering = ["review", "due_date", "id"]
