"""Resolution plans, approvals, implementation tasks, negotiation, follow-up visits, the closed
loop (root cause, corrective/preventive actions) and the case library.

State changes happen only in `services.py`; each writes an event on the complaint's timeline.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Option(models.TextChoices):
    REFUND = "refund", "退款"
    EXCHANGE = "exchange", "换货"
    REPAIR = "repair", "维修"
    APOLOGY = "apology", "道歉说明"
    COMPENSATION = "compensation", "补偿"
    EXPLANATION = "explanation", "解释说明"
    TEMPORARY = "temporary", "临时解决方案"


class CompensationKind(models.TextChoices):
    CASH = "cash", "现金"
    VOUCHER = "voucher", "代金券"
    FREE_SERVICE = "free_service", "免费服务"


class ApprovalLimit(models.Model):
    """The largest amount a role may offer without approval (blank = no limit)."""

    role = models.CharField("角色", max_length=16, unique=True)
    max_amount = models.DecimalField("审批上限（元）", max_digits=12, decimal_places=2, null=True, blank=True,
                                     help_text="留空表示不设上限")

    class Meta:
        verbose_name = "审批权限"
        verbose_name_plural = "审批权限"
        ordering = ["max_amount"]

    def __str__(self):
        return f"{self.role}: {self.max_amount if self.max_amount is not None else '不限'}"


class ResolutionPlan(models.Model):
    class State(models.TextChoices):
        PENDING_APPROVAL = "pending_approval", "待审批"
        APPROVED = "approved", "可提供"
        REJECTED = "rejected", "审批未通过"
        ACCEPTED = "accepted", "客户接受"
        PARTIAL = "partial", "客户部分接受"
        REFUSED = "refused", "客户拒绝"
        COUNTERED = "countered", "客户还价"
        WITHDRAWN = "withdrawn", "已撤回"

    complaint = models.ForeignKey("complaints.Complaint", on_delete=models.PROTECT, related_name="resolution_plans")
    option = models.CharField("解决方式", max_length=16, choices=Option.choices)
    compensation_kind = models.CharField("补偿形式", max_length=16, choices=CompensationKind.choices, blank=True)
    amount = models.DecimalField("金额（元）", max_digits=12, decimal_places=2, null=True, blank=True)
    scope_items = models.JSONField("服务项目", default=list, blank=True)
    description = models.TextField("方案说明")
    promise = models.CharField("对客户的承诺", max_length=200, blank=True)
    promise_hours = models.PositiveIntegerField("承诺时限（小时）", null=True, blank=True)
    promise_code = models.CharField("时限规则中的承诺代码", max_length=64, blank=True,
                                    help_text="例如 refund_48h：客户接受后按时限规则跟踪")
    promise_due_at = models.DateTimeField("承诺到期", null=True, blank=True)
    promise_deadline_id = models.BigIntegerField("办理时限编号", null=True, blank=True)
    state = models.CharField("状态", max_length=20, choices=State.choices)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "解决方案"
        verbose_name_plural = "解决方案"
        indexes = [models.Index(fields=["complaint", "created_at"], name="plan_complaint")]

    def __str__(self):
        return f"{self.get_option_display()} {self.amount or ''}"


class ApprovalRequest(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "待审批"
        APPROVED = "approved", "已批准"
        REJECTED = "rejected", "已驳回"

    plan = models.OneToOneField(ResolutionPlan, on_delete=models.PROTECT, related_name="approval")
    complaint = models.ForeignKey("complaints.Complaint", on_delete=models.PROTECT, related_name="approval_requests")
    amount = models.DecimalField("金额（元）", max_digits=12, decimal_places=2)
    required_role = models.CharField("需审批角色", max_length=16)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    reason = models.TextField("申请理由", blank=True)
    state = models.CharField("状态", max_length=10, choices=State.choices, default=State.PENDING, db_index=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField("审批意见", blank=True)

    class Meta:
        verbose_name = "审批申请"
        verbose_name_plural = "审批申请"


class ImplementationTask(models.Model):
    plan = models.ForeignKey(ResolutionPlan, on_delete=models.PROTECT, related_name="tasks")
    complaint = models.ForeignKey("complaints.Complaint", on_delete=models.PROTECT, related_name="resolution_tasks")
    title = models.CharField("任务", max_length=200)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="resolution_tasks")
    due_at = models.DateTimeField("完成时限")
    done_at = models.DateTimeField("完成时间", null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "落实任务"
        verbose_name_plural = "落实任务"
        indexes = [models.Index(fields=["owner", "done_at", "due_at"], name="task_owner_due")]


class NegotiationRound(models.Model):
    class Answer(models.TextChoices):
        ACCEPT = "accept", "接受"
        PARTIAL = "partial", "部分接受"
        REJECT = "reject", "拒绝"
        COUNTER = "counter", "还价"

    plan = models.ForeignKey(ResolutionPlan, on_delete=models.PROTECT, related_name="rounds")
    complaint = models.ForeignKey("complaints.Complaint", on_delete=models.PROTECT, related_name="negotiation_rounds")
    offer = models.TextField("提出的方案")
    answer = models.CharField("客户意见", max_length=10, choices=Answer.choices)
    reason = models.TextField("原因/客户诉求", blank=True)
    counter_amount = models.DecimalField("客户要求金额", max_digits=12, decimal_places=2, null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "协商记录"
        verbose_name_plural = "协商记录"


class FollowUp(models.Model):
    class State(models.TextChoices):
        SCHEDULED = "scheduled", "待回访"
        DONE = "done", "已回访"
        CANCELLED = "cancelled", "已取消"

    class Outcome(models.TextChoices):
        NOT_REACHED = "not_reached", "未联系上"
        SATISFIED = "satisfied", "满意"
        NOT_SATISFIED = "not_satisfied", "不满意"

    complaint = models.ForeignKey("complaints.Complaint", on_delete=models.PROTECT, related_name="followups")
    assigned_to = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="followups")
    attempt = models.PositiveSmallIntegerField("第几次", default=1)
    due_at = models.DateTimeField("回访时限", db_index=True)
    state = models.CharField("状态", max_length=10, choices=State.choices, default=State.SCHEDULED)
    outcome = models.CharField("结果", max_length=16, choices=Outcome.choices, blank=True)
    notes = models.TextField("回访记录", blank=True)
    flagged_to = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name="已提交主管")
    survey_sent_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    done_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "回访"
        verbose_name_plural = "回访"
        indexes = [models.Index(fields=["assigned_to", "state", "due_at"], name="followup_due")]


class RootCause(models.Model):
    complaint = models.OneToOneField("complaints.Complaint", on_delete=models.PROTECT, related_name="root_cause_record")
    cause = models.CharField("根本原因分类", max_length=32)
    touchpoint = models.CharField("接触点", max_length=32, blank=True)
    detail = models.TextField("原因说明")
    lessons = models.TextField("经验教训", blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "根本原因"
        verbose_name_plural = "根本原因"


class CorrectiveAction(models.Model):
    class Kind(models.TextChoices):
        CORRECTIVE = "corrective", "纠正措施"
        PREVENTIVE = "preventive", "预防措施"

    complaint = models.ForeignKey("complaints.Complaint", on_delete=models.PROTECT, related_name="corrective_actions")
    kind = models.CharField("类型", max_length=12, choices=Kind.choices)
    description = models.TextField("措施")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="corrective_actions")
    due_at = models.DateTimeField("完成时限")
    done_at = models.DateTimeField("完成时间", null=True, blank=True)
    effective = models.BooleanField("是否有效", null=True, blank=True)
    check_note = models.TextField("效果验证", blank=True)
    checked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    checked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "整改措施"
        verbose_name_plural = "整改措施"


class Case(models.Model):
    """A case of the library: a starter case, a curated one, or a closed complaint (masked)."""

    class Source(models.TextChoices):
        STARTER = "starter", "起步案例"
        CURATED = "curated", "精选案例"
        COMPLAINT = "complaint", "已办结投诉"

    code = models.CharField("编码", max_length=64, unique=True)
    source = models.CharField("来源", max_length=10, choices=Source.choices)
    complaint = models.OneToOneField("complaints.Complaint", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="library_case")
    title = models.CharField("标题", max_length=200)
    profile = models.CharField("行业", max_length=32, blank=True)
    category = models.CharField("投诉类别", max_length=64, blank=True, db_index=True)
    persona = models.CharField("客户类型", max_length=32, blank=True)
    product = models.CharField("产品", max_length=200, blank=True, db_index=True)
    problem = models.TextField("问题")
    actions = models.TextField("处理过程", blank=True)
    outcome = models.TextField("结果", blank=True)
    satisfaction = models.PositiveSmallIntegerField("满意度（1–5）", null=True, blank=True)
    lessons = models.TextField("经验教训", blank=True)
    featured = models.BooleanField("精选", default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # the embedding, computed in the background (periodic job resolution.embed_cases)
    vector = models.BinaryField(null=True, blank=True, editable=False)
    vector_model = models.CharField(max_length=64, blank=True, editable=False, db_index=True)

    class Meta:
        verbose_name = "案例"
        verbose_name_plural = "案例库"
        indexes = [models.Index(fields=["vector_model", "id"], name="case_vector")]

    def __str__(self):
        return self.title

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.problem}"
