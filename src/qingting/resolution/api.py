"""Resolution API under /api/v1/resolution/: parse, call a service, return a schema."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ninja import Router, Schema, Status

from qingting.accounts import access

from . import catalogue, queries, services
from .models import ApprovalRequest, FollowUp, ResolutionPlan

router = Router(tags=["resolution"])
Amount = float | int | str | None


class PlanIn(Schema):
    option: str
    description: str
    amount: Amount = None
    compensation_kind: str = ""
    scope_items: list[str] = []
    promise: str = ""
    promise_hours: int | None = None
    promise_code: str = ""
    reason: str = ""


class ApprovalOut(Schema):
    id: int
    state: str
    amount: Decimal
    required_role: str
    requested_by: str | None
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_note: str


class PlanOut(Schema):
    id: int
    complaint: str
    option: str
    option_label: str
    amount: Decimal | None
    compensation_kind: str
    scope_items: list[str]
    description: str
    promise: str
    promise_due_at: dt.datetime | None
    state: str
    state_label: str
    approval: ApprovalOut | None


class DecideIn(Schema):
    approve: bool
    note: str = ""


class AnswerIn(Schema):
    answer: str
    reason: str = ""
    counter_amount: Amount = None
    advance: bool = True


class AnswerOut(Schema):
    round_id: int
    answer: str
    plan: PlanOut
    step: str
    warning: str | None


class TaskIn(Schema):
    title: str
    owner: str | None = None
    due_at: str


class TaskOut(Schema):
    id: int
    title: str
    owner: str
    due_at: dt.datetime
    done_at: dt.datetime | None


class FollowUpIn(Schema):
    outcome: str
    notes: str = ""
    send_survey: bool = False


class FollowUpOut(Schema):
    id: int
    complaint: str
    attempt: int
    due_at: dt.datetime
    state: str
    outcome: str
    assigned_to: str | None


class FollowUpResult(Schema):
    outcome: str
    retry: int | None
    reopened: bool
    flagged_to: str | None
    survey: str | None
    step: str


class RootCauseIn(Schema):
    cause: str
    touchpoint: str = ""
    detail: str
    lessons: str = ""


class ActionIn(Schema):
    kind: str
    description: str
    owner: str | None = None
    due_at: str


class CheckIn(Schema):
    effective: bool
    note: str


class ActionOut(Schema):
    id: int
    kind: str
    description: str
    owner: str
    due_at: dt.datetime
    done_at: dt.datetime | None
    effective: bool | None


class CaseOut(Schema):
    id: int
    code: str
    source: str
    title: str
    profile: str
    category: str
    product: str
    problem: str
    actions: str
    outcome: str
    satisfaction: int | None
    lessons: str


class SimilarItem(Schema):
    case: CaseOut
    score: float
    meaning: float
    same_category: bool


class SimilarOut(Schema):
    backend: str
    items: list[SimilarItem]


def _approval(a: ApprovalRequest | None):
    if a is None:
        return None
    return {"id": a.pk, "state": a.state, "amount": a.amount, "required_role": a.required_role,
            "requested_by": a.requested_by.username if a.requested_by_id else None,
            "decided_by": a.decided_by.username if a.decided_by_id else None, "decided_at": a.decided_at,
            "decision_note": a.decision_note}


def _plan(p: ResolutionPlan):
    p = ResolutionPlan.objects.select_related("complaint").get(pk=p.pk)
    a = ApprovalRequest.objects.select_related("requested_by", "decided_by").filter(plan=p).first()
    return {"id": p.pk, "complaint": p.complaint.number, "option": p.option, "option_label": p.get_option_display(),
            "amount": p.amount, "compensation_kind": p.compensation_kind, "scope_items": p.scope_items,
            "description": p.description, "promise": p.promise, "promise_due_at": p.promise_due_at,
            "state": p.state, "state_label": p.get_state_display(), "approval": _approval(a)}


def _fu(f: FollowUp):
    return {"id": f.pk, "complaint": f.complaint.number, "attempt": f.attempt, "due_at": f.due_at,
            "state": f.state, "outcome": f.outcome, "assigned_to": f.assigned_to.username if f.assigned_to_id else None}


def _case(case):
    return {k: getattr(case, k) for k in ("id", "code", "source", "title", "profile", "category", "product",
                                          "problem", "actions", "outcome", "satisfaction", "lessons")}


@router.get("/resolution/catalogue")
def get_catalogue(request, profile: str = "general"):
    """Options, the service scope for a profile, root causes, touchpoints, the follow-up policy
    and the approval limit of the caller."""
    limit = services.limit_for(request.auth)
    return {"options": catalogue.options(), "scope": catalogue.scope_for(profile),
            "root_causes": catalogue.root_causes(), "touchpoints": catalogue.touchpoints_for(profile),
            "followup": catalogue.followup_policy(), "my_limit": str(limit) if limit is not None else None}


@router.get("/resolution/complaints/{number}/plans", response=list[PlanOut])
def list_plans(request, number: str):
    c = access.access_complaint(request.auth, number)
    return [_plan(p) for p in ResolutionPlan.objects.filter(complaint=c).order_by("-id")[:100]]


@router.post("/resolution/complaints/{number}/plans", response={201: PlanOut})
def propose(request, number: str, payload: PlanIn):
    """Propose a plan. Above the caller's approval limit the plan waits for approval
    (state pending_approval, an approval request notified to someone with the authority).
    Amounts must be 0 ≤ amount ≤ the configured maximum (422)."""
    plan = services.propose_plan(number, actor=request.auth, **payload.model_dump())
    return Status(201, _plan(plan))


@router.post("/resolution/approvals/{request_id}/decide", response=PlanOut)
def decide(request, request_id: int, payload: DecideIn):
    """Approve or reject. 403 without the authority (or for one's own request); 409 when
    already decided."""
    req = services.decide_approval(request_id, actor=request.auth, approve=payload.approve, note=payload.note)
    return _plan(req.plan)


@router.post("/resolution/plans/{plan_id}/answer", response=AnswerOut)
def answer(request, plan_id: int, payload: AnswerIn):
    """The customer's answer: accept 接受 / partial 部分接受 / reject 拒绝 / counter 还价 (with reason)."""
    rnd, warning = services.record_answer(plan_id, actor=request.auth, **payload.model_dump())
    c = access.access_complaint(request.auth, rnd.complaint.number)
    return {"round_id": rnd.pk, "answer": rnd.answer, "plan": _plan(rnd.plan), "step": c.step.code,
            "warning": warning}


@router.post("/resolution/plans/{plan_id}/tasks", response={201: TaskOut})
def add_task(request, plan_id: int, payload: TaskIn):
    t = services.add_task(plan_id, actor=request.auth, **payload.model_dump())
    return Status(201, {"id": t.pk, "title": t.title, "owner": t.owner.username, "due_at": t.due_at,
                        "done_at": t.done_at})


@router.post("/resolution/tasks/{task_id}/done", response=TaskOut)
def task_done(request, task_id: int):
    t = services.complete_task(task_id, actor=request.auth)
    return {"id": t.pk, "title": t.title, "owner": t.owner.username, "due_at": t.due_at, "done_at": t.done_at}


@router.get("/resolution/followups", response=list[FollowUpOut])
def my_followups(request):
    """The caller's follow-up visits due (earliest first)."""
    mine, _ = services.followups_due_for(request.auth)
    return [_fu(f) for f in mine]


@router.get("/resolution/complaints/{number}/followups", response=list[FollowUpOut])
def complaint_followups(request, number: str):
    c = access.access_complaint(request.auth, number)
    return [_fu(f) for f in FollowUp.objects.filter(complaint=c).order_by("-id")[:50]]


@router.post("/resolution/followups/{followup_id}", response=FollowUpResult)
def record_followup(request, followup_id: int, payload: FollowUpIn):
    """Outcome: not_reached (retry scheduled) / satisfied / not_satisfied (the complaint goes back,
    or a supervisor is flagged)."""
    result = services.record_followup(followup_id, actor=request.auth, **payload.model_dump())
    fu = FollowUp.objects.select_related("complaint__step").get(pk=followup_id)
    return {**result, "step": fu.complaint.step.code}


@router.post("/resolution/complaints/{number}/root-cause")
def root_cause(request, number: str, payload: RootCauseIn):
    rc = services.record_root_cause(number, actor=request.auth, **payload.model_dump())
    return {"cause": rc.cause, "touchpoint": rc.touchpoint, "detail": rc.detail, "lessons": rc.lessons}


@router.post("/resolution/complaints/{number}/close")
def close(request, number: str):
    """Close the complaint with the recorded root cause and lessons (the workflow's guards apply)."""
    c = services.close_with_loop(number, actor=request.auth)
    return {"number": c.number, "step": c.step.code, "closed_at": c.closed_at}


@router.post("/resolution/complaints/{number}/actions", response={201: ActionOut})
def add_action(request, number: str, payload: ActionIn):
    a = services.add_corrective_action(number, actor=request.auth, **payload.model_dump())
    return Status(201, _action(a))


def _action(a):
    return {"id": a.pk, "kind": a.kind, "description": a.description, "owner": a.owner.username,
            "due_at": a.due_at, "done_at": a.done_at, "effective": a.effective}


@router.post("/resolution/actions/{action_id}/done", response=ActionOut)
def action_done(request, action_id: int):
    return _action(services.complete_action(action_id, actor=request.auth))


@router.post("/resolution/actions/{action_id}/check", response=ActionOut)
def action_check(request, action_id: int, payload: CheckIn):
    return _action(services.check_action(action_id, actor=request.auth, effective=payload.effective,
                                         note=payload.note))


@router.post("/resolution/complaints/{number}/library", response={201: CaseOut})
def add_to_library(request, number: str):
    """Add the complaint to the case library (personal data masked)."""
    return Status(201, _case(services.add_to_library(number, actor=request.auth)))


@router.get("/resolution/complaints/{number}/similar", response=SimilarOut)
def similar(request, number: str, k: int = 5):
    c = access.access_complaint(request.auth, number)
    data = queries.similar_for(c, request.auth, k=max(1, min(int(k), 20)))
    return {"backend": data["backend"], "items": [{**i, "case": _case(i["case"])} for i in data["items"]]}
