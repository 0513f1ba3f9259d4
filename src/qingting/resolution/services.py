"""Every change of resolution data goes through these functions.

Each public function is one durable transaction: it fetches the complaint through
`accounts.access` (visibility and write permission), checks the rules, writes its rows and
the timeline event (stable dotted kinds: `resolution.*`, `negotiation.answered`,
`followup.*`, `rootcause.recorded`, `action.*`, `case.added`). Workflow moves are made by
`complaints.services.transition_complaint` (its own durable transaction) after ours commits.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from decimal import Decimal, InvalidOperation

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from qingting.accounts import access
from qingting.accounts.models import Role, User
from qingting.complaints import services as complaint_services
from qingting.complaints.models import Complaint
from qingting.complaints.services import clean_text, record_event
from qingting.core.errors import Conflict, Invalid, NotFound, PermissionDenied, ServiceError

from . import catalogue
from .models import (ApprovalLimit, ApprovalRequest, Case, CompensationKind, CorrectiveAction, FollowUp,
                     ImplementationTask, NegotiationRound, Option, ResolutionPlan, RootCause)

log = logging.getLogger(__name__)

TEXT_MAX = 5000
ROLE_ORDER = (Role.AGENT, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)
DEFAULT_LIMITS = {Role.AGENT: Decimal("500"), Role.SUPERVISOR: Decimal("5000"), Role.MANAGER: None, Role.ADMIN: None}
OPTION_ALIASES = {c.value: c.value for c in Option} | {c.label: c.value for c in Option}
KIND_ALIASES = {c.value: c.value for c in CompensationKind} | {c.label: c.value for c in CompensationKind}
ANSWER_ALIASES = {c.value: c.value for c in NegotiationRound.Answer} | {c.label: c.value for c in NegotiationRound.Answer}
OUTCOME_ALIASES = {c.value: c.value for c in FollowUp.Outcome} | {c.label: c.value for c in FollowUp.Outcome}


def max_amount() -> Decimal:
    return Decimal(str(getattr(settings, "QINGTING_RESOLUTION_MAX_AMOUNT", 1_000_000)))


# ------------------------------------------------------------------ small helpers

def parse_amount(value, *, field: str = "amount", required: bool = False) -> Decimal | None:
    """A money amount in yuan: 0 ≤ amount ≤ the configured maximum, two decimals; else 422."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Invalid("需要填写金额", f"{field} is required", fields={field: "required"})
        return None
    if isinstance(value, bool):
        raise Invalid("金额格式不正确", f"{field} is not a number", fields={field: "not a number"})
    try:
        amount = Decimal(str(value).strip().replace(",", "").lstrip("¥￥"))
    except (InvalidOperation, ValueError):
        raise Invalid("金额格式不正确", f"{field} is not a number", fields={field: "not a number"}) from None
    top = max_amount()
    if not amount.is_finite() or amount < 0 or amount > top:
        raise Invalid(f"金额必须在 0 到 {top:,.0f} 元之间", f"{field} must be between 0 and {top:,.0f}",
                      fields={field: "out of range"})
    if amount != amount.quantize(Decimal("0.01")):
        raise Invalid("金额最多两位小数", f"{field} has more than two decimals", fields={field: "precision"})
    return amount.quantize(Decimal("0.01"))


def _choice(value, aliases: dict, *, field: str, label: str) -> str:
    key = value.strip() if isinstance(value, str) else value
    if key not in aliases:
        allowed = "、".join(sorted(set(aliases.values())))
        raise Invalid(f"{label}「{value}」无效，可选：{allowed}", f"Invalid {field} {value!r}; allowed: {allowed}",
                      fields={field: "invalid choice"})
    return aliases[key]


def _aware(value, *, field: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        out = value
    elif isinstance(value, dt.date):
        out = dt.datetime.combine(value, dt.time(18, 0))
    else:
        try:
            out = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise Invalid("时间格式不正确（例如 2026-03-01 18:00）", f"{field} must be an ISO 8601 date/time",
                          fields={field: "invalid"}) from None
    if timezone.is_naive(out):
        out = timezone.make_aware(out, timezone.get_default_timezone())
    return out


def _due(value, *, field: str = "due_at") -> dt.datetime:
    if value in (None, ""):
        raise Invalid("需要填写完成时限", f"{field} is required", fields={field: "required"})
    due = _aware(value, field=field)
    now = timezone.now()
    if due < now - dt.timedelta(days=1) or due > now + dt.timedelta(days=366):
        raise Invalid("完成时限须在今天到一年之内", f"{field} must be between today and one year ahead",
                      fields={field: "out of range"})
    return due


def _user(username, *, field: str) -> User:
    return complaint_services.resolve_user(username, field=field)


def _open(actor, number: str) -> Complaint:
    c = access.access_complaint(actor, number, write=True, for_update=True)
    if c.is_closed:
        raise Conflict("投诉已办结，需先重新打开", "The complaint is closed; reopen it first", code="closed")
    return c


def notify_users(event: str, complaint, *, title: str, text: str, users=(), detail=None) -> None:
    """Through qingting.notify when installed (outbox rows, sent after commit); else a log line."""
    if apps.is_installed("qingting.notify"):
        try:
            from qingting.notify.services import notify

            with transaction.atomic():  # a failing notification never undoes the action
                notify(event, complaint=complaint, title=title, text=text, users=[u for u in users if u],
                       detail=detail or {})
            return
        except Exception:  # noqa: BLE001
            log.exception("notification %s for %s failed", event, getattr(complaint, "number", ""))
    log.info("notify %s %s: %s — %s (to %s)", event, getattr(complaint, "number", ""), title, text,
             ", ".join(str(u) for u in users if u))


# ------------------------------------------------------------------ approval limits

def limit_for_role(role: str | None) -> Decimal | None:
    """The role's approval limit: None means no limit; a role without a row may offer nothing."""
    if role is None:
        return Decimal("0")
    row = ApprovalLimit.objects.filter(role=role).first()
    if row is None:
        return DEFAULT_LIMITS.get(role, Decimal("0")) if role in DEFAULT_LIMITS else Decimal("0")
    return row.max_amount


def limit_for(user) -> Decimal | None:
    role = access.role_of(user)
    if role == Role.AUDITOR:
        return Decimal("0")
    return limit_for_role(role)


def within(limit: Decimal | None, amount: Decimal | None) -> bool:
    return amount is None or limit is None or amount <= limit


def required_role(amount: Decimal) -> str:
    for role in ROLE_ORDER:
        if within(limit_for_role(role), amount):
            return role
    return Role.ADMIN


def approvers_for(c: Complaint, amount: Decimal) -> list[User]:
    role = required_role(amount)
    if role == Role.SUPERVISOR:
        sup = access.direct_supervisor(c.department)
        if sup:
            return [sup]
    target = access.next_level_up(c.department)
    return [target] if target else []


# ------------------------------------------------------------------ plans and approvals

def propose_plan(number: str, *, actor, option, description, amount=None, compensation_kind="", scope_items=(),
                 promise="", promise_hours=None, promise_code="", reason="") -> ResolutionPlan:
    """Propose a resolution. Within the actor's limit it may be offered at once; above it an
    approval request goes to someone with the authority (and is notified)."""
    option = _choice(option, OPTION_ALIASES, field="option", label="解决方式")
    description = clean_text(description, field="description", label="方案说明", max_len=TEXT_MAX, required=True)
    amount = parse_amount(amount)
    kind = _choice(compensation_kind, KIND_ALIASES, field="compensation_kind", label="补偿形式") \
        if compensation_kind else ""
    promise = clean_text(promise, field="promise", label="承诺", max_len=200)
    reason = clean_text(reason, field="reason", label="申请理由", max_len=TEXT_MAX)
    promise_code = clean_text(promise_code, field="promise_code", label="承诺代码", max_len=64)
    hours = None
    if promise_hours not in (None, ""):
        try:
            hours = int(str(promise_hours).strip())
        except ValueError:
            raise Invalid("承诺时限（小时）须为整数", "promise_hours must be a whole number",
                          fields={"promise_hours": "invalid"}) from None
        if not 1 <= hours <= 24 * 90:
            raise Invalid("承诺时限须在 1 小时到 90 天之间", "promise_hours must be 1..2160",
                          fields={"promise_hours": "out of range"})
    if isinstance(scope_items, str):
        scope_items = [s for s in re.split(r"[,，\s]+", scope_items) if s]
    scope_items = list(dict.fromkeys(str(s) for s in (scope_items or [])))[:20]
    with transaction.atomic(durable=True):
        c = _open(actor, number)
        allowed = {item["code"]: item for item in catalogue.scope_for(c.profile.code)}
        unknown = [s for s in scope_items if s not in allowed]
        if unknown:
            names = "、".join(f"{i['name']}（{code}）" for code, i in allowed.items())
            raise Invalid(f"服务项目不在本行业的服务范围目录中：{'、'.join(unknown)}。可选：{names}",
                          f"Not in this profile's service scope: {', '.join(unknown)}",
                          fields={"scope_items": "not in catalogue"})
        if option == Option.COMPENSATION and amount is None and not scope_items:
            raise Invalid("补偿方案需要金额或服务项目", "A compensation needs an amount or a service item",
                          fields={"amount": "required"})
        limit = limit_for(actor)
        needs_approval = not within(limit, amount)
        plan = ResolutionPlan.objects.create(
            complaint=c, option=option, compensation_kind=kind, amount=amount, scope_items=scope_items,
            description=description, promise=promise, promise_hours=hours, promise_code=promise_code,
            state=ResolutionPlan.State.PENDING_APPROVAL if needs_approval else ResolutionPlan.State.APPROVED,
            created_by=actor)
        after = {"plan_id": plan.pk, "option": option, "amount": str(amount) if amount is not None else None,
                 "scope_items": scope_items, "promise": promise, "needs_approval": needs_approval}
        record_event(c, "resolution.planned", actor=actor, after=after, note=description)
        if needs_approval:
            role = required_role(amount)
            req = ApprovalRequest.objects.create(plan=plan, complaint=c, amount=amount, required_role=role,
                                                 requested_by=actor, reason=reason)
            record_event(c, "resolution.approval_requested", actor=actor,
                         after={"plan_id": plan.pk, "request_id": req.pk, "amount": str(amount),
                                "required_role": role, "limit": str(limit) if limit is not None else None},
                         note=reason)
            notify_users("resolution.approval_requested", c, title=f"{c.number} 方案待审批：¥{amount}",
                         text=f"{actor} 提出的方案超出其审批权限（¥{limit}），请审批：{description[:200]}",
                         users=approvers_for(c, amount), detail={"request_id": req.pk, "amount": str(amount)})
        return plan


def may_decide(user, req: ApprovalRequest) -> bool:
    if not access.may_write(user) or (req.requested_by_id and req.requested_by_id == user.pk):
        return False
    return within(limit_for(user), req.amount)


def decide_approval(request_id: int, *, actor, approve: bool, note: str = "") -> ApprovalRequest:
    note = clean_text(note, field="note", label="审批意见", max_len=TEXT_MAX)
    with transaction.atomic(durable=True):
        req = ApprovalRequest.objects.select_related("complaint", "plan").filter(pk=request_id).first()
        if req is None:
            raise NotFound("审批申请不存在", "No such approval request")
        c = access.access_complaint(actor, req.complaint.number, write=True, for_update=True)
        if not may_decide(actor, req):
            why_zh = "不能审批自己提出的申请" if req.requested_by_id == actor.pk else \
                f"金额 ¥{req.amount} 超出您的审批权限"
            raise PermissionDenied(why_zh + "，需由有权限的人审批",
                                   "You do not have the authority to decide this request", code="no_authority")
        req = ApprovalRequest.objects.select_for_update().get(pk=req.pk)
        if req.state != ApprovalRequest.State.PENDING:
            raise Conflict(f"该申请已{req.get_state_display()}，不能重复审批",
                           f"This request was already {req.state}", code="already_decided")
        now = timezone.now()
        req.state = ApprovalRequest.State.APPROVED if approve else ApprovalRequest.State.REJECTED
        req.decided_by, req.decided_at, req.decision_note = actor, now, note
        req.save(update_fields=["state", "decided_by", "decided_at", "decision_note"])
        plan = req.plan
        plan.state = ResolutionPlan.State.APPROVED if approve else ResolutionPlan.State.REJECTED
        plan.save(update_fields=["state"])
        record_event(c, "resolution.approved" if approve else "resolution.rejected", actor=actor,
                     before={"state": "pending"}, after={"plan_id": plan.pk, "request_id": req.pk,
                                                          "amount": str(req.amount), "state": req.state}, note=note)
        notify_users(f"resolution.{'approved' if approve else 'rejected'}", c,
                     title=f"{c.number} 方案{'已批准' if approve else '未获批准'}",
                     text=note or plan.description[:200], users=[req.requested_by])
        return req


def withdraw_plan(plan_id: int, *, actor) -> ResolutionPlan:
    with transaction.atomic(durable=True):
        plan = _plan(plan_id, actor)
        if plan.state in (ResolutionPlan.State.ACCEPTED, ResolutionPlan.State.PARTIAL, ResolutionPlan.State.WITHDRAWN):
            raise Conflict("该方案不能撤回", "This plan cannot be withdrawn", code="not_withdrawable")
        plan.state = ResolutionPlan.State.WITHDRAWN
        plan.save(update_fields=["state"])
        ApprovalRequest.objects.filter(plan=plan, state=ApprovalRequest.State.PENDING).update(
            state=ApprovalRequest.State.REJECTED, decided_by=actor, decided_at=timezone.now(), decision_note="撤回")
        record_event(plan.complaint, "resolution.withdrawn", actor=actor, after={"plan_id": plan.pk})
        return plan


def _plan(plan_id, actor, *, open_only: bool = True) -> ResolutionPlan:
    plan = ResolutionPlan.objects.select_related("complaint").filter(pk=plan_id).first()
    if plan is None:
        raise NotFound("方案不存在", "No such resolution plan")
    c = _open(actor, plan.complaint.number) if open_only else \
        access.access_complaint(actor, plan.complaint.number, write=True, for_update=True)
    plan.complaint = c
    return plan


def plan_summary(plan: ResolutionPlan) -> str:
    parts = [plan.get_option_display()]
    if plan.amount is not None:
        parts.append(f"¥{plan.amount}")
    names = {i["code"]: i["name"] for i in catalogue.scope_for(plan.complaint.profile.code)}
    if plan.scope_items:
        parts.append("、".join(names.get(s, s) for s in plan.scope_items))
    return " · ".join(parts) + f"：{plan.description}" + (f"（承诺：{plan.promise}）" if plan.promise else "")


# ------------------------------------------------------------------ negotiation

def record_answer(plan_id: int, *, actor, answer, reason: str = "", counter_amount=None,
                  advance: bool = True) -> tuple[NegotiationRound, str | None]:
    """The customer's answer to an offer. On 接受/部分接受 the promise becomes a tracked task
    (and an SLA promise deadline when the policy names it). With `advance`, a complaint at
    迅速行动 moves to 谈判认可 carrying the plan (a refusal returns it, as the workflow says).
    Returns (round, warning): the warning says why the workflow did not move."""
    answer = _choice(answer, ANSWER_ALIASES, field="answer", label="客户意见")
    reason = clean_text(reason, field="reason", label="原因", max_len=TEXT_MAX,
                        required=answer in ("reject", "counter", "partial"))
    counter = parse_amount(counter_amount, field="counter_amount", required=answer == "counter")
    with transaction.atomic(durable=True):
        plan = _plan(plan_id, actor)
        c = plan.complaint
        if plan.state == ResolutionPlan.State.PENDING_APPROVAL:
            raise Conflict("方案尚待审批，审批通过后才能向客户提出", "The plan is waiting for approval",
                           code="pending_approval")
        if plan.state != ResolutionPlan.State.APPROVED and plan.state != ResolutionPlan.State.COUNTERED:
            raise Conflict(f"方案状态为「{plan.get_state_display()}」，不能再记录客户意见",
                           f"The plan is {plan.state}; no answer can be recorded", code="plan_closed")
        now = timezone.now()
        rnd = NegotiationRound.objects.create(plan=plan, complaint=c, offer=plan_summary(plan), answer=answer,
                                              reason=reason, counter_amount=counter, recorded_by=actor, at=now)
        plan.state = {"accept": ResolutionPlan.State.ACCEPTED, "partial": ResolutionPlan.State.PARTIAL,
                      "reject": ResolutionPlan.State.REFUSED, "counter": ResolutionPlan.State.COUNTERED}[answer]
        fields = ["state"]
        if answer in ("accept", "partial") and plan.promise_hours:
            plan.promise_due_at = now + dt.timedelta(hours=plan.promise_hours)
            fields.append("promise_due_at")
            ImplementationTask.objects.create(plan=plan, complaint=c, title=f"兑现承诺：{plan.promise or plan.description[:80]}",
                                              owner=actor, due_at=plan.promise_due_at)
        plan.save(update_fields=fields)
        record_event(c, "negotiation.answered", actor=actor,
                     after={"plan_id": plan.pk, "round_id": rnd.pk, "answer": answer,
                            "counter_amount": str(counter) if counter is not None else None}, note=reason)
        number, step = c.number, c.step.code
    warning = None
    if answer in ("accept", "partial") and plan.promise_code and apps.is_installed("qingting.sla"):
        warning = _start_sla_promise(plan, actor)
    if advance and answer != "counter" and step == "act":
        data = {"resolution_type": catalogue.OPTION_TO_RESOLUTION_TYPE.get(plan.option, "other"),
                "action_plan": plan_summary(plan)[:5000], "customer_answer": answer,
                "answer_reason": reason or ("客户接受方案" if answer == "accept" else "")}
        if plan.amount is not None:
            data["resolution_amount"] = str(plan.amount)
        try:
            complaint_services.transition_complaint(number, actor=actor, to="negotiate", data=data)
        except ServiceError as exc:
            warning = exc.zh
    return rnd, warning


def _start_sla_promise(plan: ResolutionPlan, actor) -> str | None:
    """A promise named in the SLA policy (e.g. refund_48h) becomes a tracked deadline."""
    try:
        from qingting.sla.services import add_promise

        d = add_promise(plan.complaint.number, actor=actor, name=plan.promise_code, note=plan.promise)
    except ServiceError as exc:
        return exc.zh
    except Exception:  # noqa: BLE001 - the promise task remains our own tracking
        log.exception("sla promise for plan %s failed", plan.pk)
        return "时限规则不可用，承诺仅以落实任务跟踪"
    ResolutionPlan.objects.filter(pk=plan.pk).update(promise_deadline_id=d.pk, promise_due_at=d.due_at)
    return None


# ------------------------------------------------------------------ implementation tasks

def add_task(plan_id: int, *, actor, title: str, owner: str | None = None, due_at=None) -> ImplementationTask:
    title = clean_text(title, field="title", label="任务", max_len=200, required=True)
    due = _due(due_at)
    with transaction.atomic(durable=True):
        plan = _plan(plan_id, actor)
        person = _user(owner, field="owner") if owner else actor
        task = ImplementationTask.objects.create(plan=plan, complaint=plan.complaint, title=title, owner=person,
                                                 due_at=due)
        record_event(plan.complaint, "resolution.task_added", actor=actor,
                     after={"task_id": task.pk, "owner": person.username, "due_at": due.isoformat()}, note=title)
        if person.pk != getattr(actor, "pk", None):
            notify_users("resolution.task_assigned", plan.complaint, title=f"{plan.complaint.number} 落实任务",
                         text=f"{title}（{timezone.localtime(due):%m-%d %H:%M} 前）", users=[person])
        return task


def complete_task(task_id: int, *, actor) -> ImplementationTask:
    with transaction.atomic(durable=True):
        task = ImplementationTask.objects.select_related("complaint").filter(pk=task_id).first()
        if task is None:
            raise NotFound("任务不存在", "No such task")
        c = access.access_complaint(actor, task.complaint.number, write=True, for_update=True)
        if task.done_at:
            raise Conflict("任务已完成", "The task is already done", code="done")
        task.done_at = timezone.now()
        task.save(update_fields=["done_at"])
        record_event(c, "resolution.task_done", actor=actor, after={"task_id": task.pk}, note=task.title)
        return task


# ------------------------------------------------------------------ follow-up visits

def _followup_fields():
    return catalogue.followup_policy()


def schedule_followup(c: Complaint, *, actor=None, due_at=None, attempt: int = 1, assignee=None) -> FollowUp:
    """Inside the caller's transaction (the step hook or a retry)."""
    policy = _followup_fields()
    due = due_at or timezone.now() + dt.timedelta(days=int(policy["days_after_resolution"]))
    fu = FollowUp.objects.create(complaint=c, assigned_to=assignee or c.assignee or
                                 (actor if getattr(actor, "pk", None) else None), attempt=attempt, due_at=due)
    record_event(c, "followup.scheduled", actor=actor, after={"followup_id": fu.pk, "attempt": attempt,
                                                              "due_at": due.isoformat()})
    return fu


def on_step_changed(c, old_step, new_step, actor, kind) -> None:
    """Hook: entering 双向跟进 schedules the visit; closing adds the case to the library;
    offering (谈判认可) an amount above the actor's limit needs an approved request."""
    if new_step.code == "negotiate" and kind != "back":
        _check_offer_authority(c, actor)
    if new_step.code == "follow_up" and not FollowUp.objects.filter(
            complaint=c, state=FollowUp.State.SCHEDULED).exists():
        schedule_followup(c, actor=actor)
    if new_step.is_final:
        FollowUp.objects.filter(complaint=c, state=FollowUp.State.SCHEDULED, attempt__gt=1).update(
            state=FollowUp.State.CANCELLED)
        upsert_case_from_complaint(c)


def _check_offer_authority(c: Complaint, actor) -> None:
    if not getattr(settings, "QINGTING_ENFORCE_APPROVAL_LIMITS", True) or not getattr(actor, "pk", None):
        return
    amount = c.resolution_amount
    if amount is None or within(limit_for(actor), amount):
        return
    if ApprovalRequest.objects.filter(complaint=c, state=ApprovalRequest.State.APPROVED, amount__gte=amount).exists():
        return
    raise PermissionDenied(f"金额 ¥{amount} 超出您的审批权限（¥{limit_for(actor)}），请先在解决方案中提交审批",
                           f"The amount {amount} is above your approval limit; request approval first",
                           code="approval_required")


def call_script(c: Complaint, fu: FollowUp | None = None) -> str:
    from qingting.coaching.drafts import make_draft

    from qingting.coaching.facts import complaint_facts

    facts = complaint_facts(c)
    if fu is not None:
        facts["visit_time"] = timezone.localtime(fu.due_at).strftime("%m月%d日")
    persona, emotion = _persona_emotion(c)
    try:
        return make_draft("follow_up", channel="phone", persona=persona, emotion=emotion, facts=facts).text
    except Exception:  # noqa: BLE001 - a broken template file must not break the page
        log.exception("follow-up script")
        return ""


def _persona_emotion(c) -> tuple[str | None, str | None]:
    t = c.triage if isinstance(c.triage, dict) else {}
    persona = None
    personas = t.get("personas")
    if isinstance(personas, list) and personas:
        p = personas[0]
        persona = p.get("code") if isinstance(p, dict) else str(p)
    emotion = t.get("emotion")
    emotion = emotion.get("code") if isinstance(emotion, dict) else (emotion if isinstance(emotion, str) else None)
    return persona, emotion


def survey_link(c: Complaint) -> str:
    from django.urls import NoReverseMatch, reverse

    base = (getattr(settings, "QINGTING_BASE_URL", "") or "").rstrip("/")
    for name, args in (("intake:survey", [c.tracking_code]), ("intake:track", [c.tracking_code])):
        try:
            return base + reverse(name, args=args)
        except NoReverseMatch:
            continue
    return f"{base}/portal/?code={c.tracking_code}"


def record_followup(followup_id: int, *, actor, outcome, notes: str = "", send_survey: bool = False) -> dict:
    """Record a visit. not reached → the next try is scheduled (then a supervisor is told);
    not satisfied → the complaint goes back (回访不满意 → 迅速行动, or a supervisor reopens a
    closed one); otherwise a supervisor is flagged. Returns what happened."""
    outcome = _choice(outcome, OUTCOME_ALIASES, field="outcome", label="回访结果")
    notes = clean_text(notes, field="notes", label="回访记录", max_len=TEXT_MAX,
                       required=outcome == FollowUp.Outcome.NOT_SATISFIED)
    result = {"outcome": outcome, "retry": None, "reopened": False, "flagged_to": None, "survey": None}
    with transaction.atomic(durable=True):
        fu = FollowUp.objects.select_related("complaint").filter(pk=followup_id).first()
        if fu is None:
            raise NotFound("回访不存在", "No such follow-up")
        c = access.access_complaint(actor, fu.complaint.number, write=True, for_update=True)
        fu = FollowUp.objects.select_for_update().get(pk=fu.pk)
        if fu.state != FollowUp.State.SCHEDULED:
            raise Conflict("该回访已记录", "This follow-up was already recorded", code="already_recorded")
        now = timezone.now()
        fu.state, fu.outcome, fu.notes, fu.done_by, fu.done_at = FollowUp.State.DONE, outcome, notes, actor, now
        fu.save(update_fields=["state", "outcome", "notes", "done_by", "done_at"])
        record_event(c, "followup.recorded", actor=actor, after={"followup_id": fu.pk, "attempt": fu.attempt,
                                                                 "outcome": outcome}, note=notes)
        policy = _followup_fields()
        if outcome == FollowUp.Outcome.NOT_REACHED:
            hours = list(policy["retry_hours"])
            if fu.attempt < int(policy["max_attempts"]):
                delay = hours[min(fu.attempt - 1, len(hours) - 1)] if hours else 24
                nxt = schedule_followup(c, actor=actor, due_at=now + dt.timedelta(hours=float(delay)),
                                        attempt=fu.attempt + 1, assignee=fu.assigned_to)
                result["retry"] = nxt.pk
            else:
                result["flagged_to"] = _flag(c, fu, actor, f"回访 {fu.attempt} 次均未联系上客户")
        elif outcome == FollowUp.Outcome.SATISFIED and send_survey:
            result["survey"] = _send_survey(c, fu, actor)
        number, step_code, closed = c.number, c.step.code, c.is_closed
    if outcome == FollowUp.Outcome.NOT_SATISFIED:
        reason = f"回访客户不满意：{notes}"
        target = None
        if step_code == "follow_up":
            target = "act"
        elif closed and access.is_supervising(actor):
            target = "confirm"
        if target:
            try:
                complaint_services.transition_complaint(number, actor=actor, to=target, data={"reason": reason})
                result["reopened"] = True
            except ServiceError as exc:
                log.info("follow-up could not reopen %s: %s", number, exc.en)
        if not result["reopened"]:
            with transaction.atomic(durable=True):
                c = access.access_complaint(actor, number, write=True, for_update=True)
                result["flagged_to"] = _flag(c, FollowUp.objects.get(pk=followup_id), actor, reason)
    if result["flagged_to"] is not None:
        result["flagged_to"] = str(result["flagged_to"])
    return result


def _flag(c: Complaint, fu: FollowUp, actor, reason: str):
    sup = access.direct_supervisor(c.department, exclude=actor if getattr(actor, "pk", None) else None) or \
        access.next_level_up(c.department)
    FollowUp.objects.filter(pk=fu.pk).update(flagged_to=sup)
    record_event(c, "followup.flagged", actor=actor, after={"followup_id": fu.pk,
                                                            "flagged_to": sup.username if sup else None}, note=reason)
    notify_users("followup.flagged", c, title=f"{c.number} 回访需要主管处理", text=reason, users=[sup])
    return sup


def _send_survey(c: Complaint, fu: FollowUp, actor) -> str:
    link = survey_link(c)
    customer = c.customer
    FollowUp.objects.filter(pk=fu.pk).update(survey_sent_at=timezone.now())
    record_event(c, "survey.sent", actor=actor, after={"followup_id": fu.pk, "link": link,
                                                      "sms": bool(customer.mobile), "email": bool(customer.email)},
                 customer_visible=True, note="满意度调查链接已发送")
    notify_users("survey.requested", c, title=f"{c.number} 满意度调查",
                 text=f"请对本次投诉处理进行评价：{link}", detail={"link": link, "mobile": customer.mobile,
                                                                "email": customer.email, "to": "customer"})
    return link


def followups_due_for(user, *, include_flagged: bool = True):
    qs = FollowUp.objects.filter(state=FollowUp.State.SCHEDULED).select_related("complaint", "complaint__customer",
                                                                                "assigned_to")
    mine = qs.filter(assigned_to=user)
    flagged = FollowUp.objects.filter(flagged_to=user, complaint__closed_at__isnull=True).select_related(
        "complaint", "complaint__customer") if include_flagged else FollowUp.objects.none()
    visible = access.complaints_for(user)
    return (list(mine.filter(complaint__in=visible).order_by("due_at")[:500]),
            list(flagged.filter(complaint__in=visible).order_by("-done_at")[:100]))


# ------------------------------------------------------------------ closed loop

def record_root_cause(number: str, *, actor, cause: str, touchpoint: str = "", detail: str,
                      lessons: str = "") -> RootCause:
    causes = {rc["code"]: rc for rc in catalogue.root_causes()}
    cause = {rc["name"]: code for code, rc in causes.items()}.get(cause, cause)
    if cause not in causes:
        raise Invalid("根本原因分类无效，可选：" + "、".join(rc["name"] for rc in causes.values()),
                      f"Unknown root cause {cause!r}", fields={"cause": "invalid choice"})
    detail = clean_text(detail, field="detail", label="原因说明", max_len=TEXT_MAX, required=True)
    lessons = clean_text(lessons, field="lessons", label="经验教训", max_len=TEXT_MAX)
    with transaction.atomic(durable=True):
        c = access.access_complaint(actor, number, write=True, for_update=True)
        tps = {t["code"]: t for t in catalogue.touchpoints_for(c.profile.code)}
        touchpoint = {t["name"]: code for code, t in tps.items()}.get(touchpoint, touchpoint)
        if touchpoint and touchpoint not in tps:
            raise Invalid("接触点无效，可选：" + "、".join(t["name"] for t in tps.values()),
                          f"Unknown touchpoint {touchpoint!r}", fields={"touchpoint": "invalid choice"})
        rc, created = RootCause.objects.update_or_create(
            complaint=c, defaults={"cause": cause, "touchpoint": touchpoint, "detail": detail, "lessons": lessons,
                                   "recorded_by": actor, "recorded_at": timezone.now()})
        record_event(c, "rootcause.recorded", actor=actor,
                     after={"cause": cause, "touchpoint": touchpoint or None, "updated": not created},
                     note=detail + (f"\n经验教训：{lessons}" if lessons else ""))
        return rc


def root_cause_text(rc: RootCause, profile: str) -> str:
    causes = {x["code"]: x["name"] for x in catalogue.root_causes()}
    tps = {t["code"]: t["name"] for t in catalogue.touchpoints_for(profile)}
    head = causes.get(rc.cause, rc.cause) + (f" · {tps.get(rc.touchpoint, rc.touchpoint)}" if rc.touchpoint else "")
    return f"【{head}】{rc.detail}"


def close_with_loop(number: str, *, actor, override_reason: str = "") -> Complaint:
    """Close the complaint carrying the recorded root cause and lessons into the workflow."""
    c = access.access_complaint(actor, number, write=True)
    rc = RootCause.objects.filter(complaint=c).first()
    if rc is None:
        raise Invalid("请先记录根本原因", "Record the root cause first", fields={"cause": "required"})
    data = {"root_cause": root_cause_text(rc, c.profile.code), "lessons_learned": rc.lessons or c.lessons_learned}
    if override_reason:
        data["override_reason"] = override_reason
    return complaint_services.transition_complaint(number, actor=actor, to="close", data=data)


def add_corrective_action(number: str, *, actor, kind, description: str, owner: str | None = None,
                          due_at=None) -> CorrectiveAction:
    kind = _choice(kind, {c.value: c.value for c in CorrectiveAction.Kind} |
                   {c.label: c.value for c in CorrectiveAction.Kind}, field="kind", label="措施类型")
    description = clean_text(description, field="description", label="措施", max_len=TEXT_MAX, required=True)
    due = _due(due_at)
    with transaction.atomic(durable=True):
        c = access.access_complaint(actor, number, write=True, for_update=True)
        person = _user(owner, field="owner") if owner else actor
        act = CorrectiveAction.objects.create(complaint=c, kind=kind, description=description, owner=person,
                                              due_at=due, created_by=actor)
        record_event(c, "action.added", actor=actor, after={"action_id": act.pk, "kind": kind,
                                                            "owner": person.username, "due_at": due.isoformat()},
                     note=description)
        if person.pk != getattr(actor, "pk", None):
            notify_users("action.assigned", c, title=f"{c.number} 整改措施", text=description[:300], users=[person])
        return act


def complete_action(action_id: int, *, actor, note: str = "") -> CorrectiveAction:
    note = clean_text(note, field="note", label="说明", max_len=TEXT_MAX)
    with transaction.atomic(durable=True):
        act = CorrectiveAction.objects.select_related("complaint").filter(pk=action_id).first()
        if act is None:
            raise NotFound("整改措施不存在", "No such action")
        c = access.access_complaint(actor, act.complaint.number, write=True, for_update=True)
        if act.done_at:
            raise Conflict("措施已完成", "The action is already done", code="done")
        act.done_at = timezone.now()
        act.save(update_fields=["done_at"])
        record_event(c, "action.done", actor=actor, after={"action_id": act.pk}, note=note)
        return act


def check_action(action_id: int, *, actor, effective, note: str) -> CorrectiveAction:
    """The check that an action worked: by a supervisor/manager, after it is done, once."""
    note = clean_text(note, field="note", label="效果验证", max_len=TEXT_MAX, required=True)
    if isinstance(effective, str):
        effective = effective.strip().lower() in ("1", "true", "yes", "on", "有效")
    with transaction.atomic(durable=True):
        act = CorrectiveAction.objects.select_related("complaint").filter(pk=action_id).first()
        if act is None:
            raise NotFound("整改措施不存在", "No such action")
        c = access.access_complaint(actor, act.complaint.number, write=True, for_update=True)
        if not access.is_supervising(actor):
            raise PermissionDenied("效果验证需由主管或管理层进行", "A supervisor or manager checks effectiveness")
        if not act.done_at:
            raise Conflict("措施尚未完成，不能验证效果", "The action is not done yet", code="not_done")
        if act.checked_at:
            raise Conflict("已验证过效果", "Effectiveness was already checked", code="already_checked")
        act.effective, act.check_note, act.checked_by, act.checked_at = bool(effective), note, actor, timezone.now()
        act.save(update_fields=["effective", "check_note", "checked_by", "checked_at"])
        record_event(c, "action.checked", actor=actor, after={"action_id": act.pk, "effective": bool(effective)},
                     note=note)
        return act


# ------------------------------------------------------------------ case library

def mask(text: str, names: list[str] = ()) -> str:
    """Personal data out: phone/ID/card/e-mail/plate/VIN via triage's masking when present,
    else the reply checker's finder; the customer's name becomes 客户."""
    text = str(text or "")
    for name in sorted({n for n in names if n and len(n) >= 2}, key=len, reverse=True):
        text = text.replace(name, name[0] + "某" if len(name) <= 4 else "客户")
    try:
        from qingting.triage.pii import mask_text

        text = mask_text(text)
    except Exception:  # noqa: BLE001 - triage absent or failing: the checker's finder below
        log.debug("triage masking unavailable", exc_info=True)
    from qingting.coaching.checker import find_personal_data

    for _kind, start, end in sorted(find_personal_data(text), key=lambda t: -t[1]):
        text = text[:start] + "*" * (end - start) + text[end:]
    return text


def _product_of(c: Complaint) -> str:
    about = c.about if isinstance(c.about, dict) else {}
    for key in ("series", "product", "product_name", "vehicle_model", "store", "clinic"):
        if about.get(key):
            return str(about[key])[:200]
    return ""


def _satisfaction(c: Complaint) -> int | None:
    if apps.is_installed("qingting.intake"):
        try:
            from qingting.intake.models import SatisfactionSurvey

            s = SatisfactionSurvey.objects.filter(complaint=c).first()
            if s:
                return int(s.stars)
        except Exception:  # noqa: BLE001
            pass
    last = FollowUp.objects.filter(complaint=c, state=FollowUp.State.DONE).exclude(
        outcome=FollowUp.Outcome.NOT_REACHED).order_by("-done_at").first()
    if last:
        return 4 if last.outcome == FollowUp.Outcome.SATISFIED else 2
    return None


def upsert_case_from_complaint(c: Complaint, *, featured: bool | None = None, title: str = "") -> Case:
    """Inside the caller's transaction. Text is masked; the vector is (re)computed later."""
    names = [c.customer.name] if c.customer_id else []
    persona, _ = _persona_emotion(c)
    plan = ResolutionPlan.objects.filter(complaint=c).exclude(
        state__in=[ResolutionPlan.State.WITHDRAWN, ResolutionPlan.State.REJECTED]).order_by("-id").first()
    actions = c.action_plan or (plan_summary(plan) if plan else "")
    rc = RootCause.objects.filter(complaint=c).first()
    answer = c.get_customer_answer_display() if c.customer_answer else ""
    defaults = {
        "source": Case.Source.CURATED if featured else Case.Source.COMPLAINT,
        "title": mask(title or c.subject, names)[:200], "profile": c.profile.code,
        "category": c.category.code if c.category_id else "", "persona": persona or "",
        "product": _product_of(c), "problem": mask(c.description, names)[:4000],
        "actions": mask(actions, names)[:4000],
        "outcome": (f"客户意见：{answer}。" if answer else "") + (c.get_resolution_type_display() if c.resolution_type else ""),
        "satisfaction": _satisfaction(c),
        "lessons": mask(rc.lessons if rc and rc.lessons else c.lessons_learned, names)[:4000],
        "updated_at": timezone.now(), "vector": None, "vector_model": "",
    }
    existing = Case.objects.filter(complaint=c).first()
    if existing is not None:
        if featured is None:
            defaults.pop("source")
        for k, v in defaults.items():
            setattr(existing, k, v)
        if featured:
            existing.featured = True
        existing.save()
        return existing
    return Case.objects.create(code=f"complaint-{c.number}", complaint=c, featured=bool(featured), **defaults)


def add_to_library(number: str, *, actor, title: str = "") -> Case:
    title = clean_text(title, field="title", label="标题", max_len=200)
    with transaction.atomic(durable=True):
        c = access.access_complaint(actor, number, write=True, for_update=True)
        case = upsert_case_from_complaint(c, featured=True, title=title)
        record_event(c, "case.added", actor=actor, after={"case_id": case.pk})
        return case


def seed_starter_cases(apps_registry=None) -> int:
    model = apps_registry.get_model("resolution", "Case") if apps_registry else Case
    n = 0
    for case in catalogue.load_starter_cases():
        _, created = model.objects.get_or_create(code=case["code"], defaults={
            "source": "starter", "title": case["title"], "profile": case["profile"],
            "category": case.get("category", ""), "persona": case.get("persona", ""),
            "product": case.get("product", ""), "problem": case["problem"], "actions": case["actions"],
            "outcome": case["outcome"], "satisfaction": case.get("satisfaction"), "lessons": case.get("lessons", ""),
            "featured": True})
        n += created
    return n


def embed_pending(batch: int = 64) -> int:
    """Periodic job: compute missing/stale case vectors (compare-and-set on updated_at)."""
    from . import similar

    embedder = similar.get_embedder()
    if embedder is None:
        return 0
    rows = list(Case.objects.exclude(vector_model=embedder.name).order_by("id")
                .values_list("id", "title", "problem", "updated_at")[:batch])
    if not rows:
        return 0
    vecs = embedder.encode([f"{t}\n{p}" for _, t, p, _ in rows])
    done = 0
    for (pk, _t, _p, stamp), vec in zip(rows, vecs):
        done += Case.objects.filter(pk=pk, updated_at=stamp).update(vector=similar.to_bytes(vec),
                                                                    vector_model=embedder.name)
    return done
