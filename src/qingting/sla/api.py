"""SLA API: deadlines of a complaint (pause, resume, extend, promises) and the policy preview."""
from __future__ import annotations

import datetime as dt

from django.utils import timezone
from ninja import Router, Status

from qingting.accounts import access
from qingting.core.errors import Invalid, NotFound

from . import queries, services
from .schemas import (DecisionIn, DeadlineOut, ExtensionIn, ExtensionOut, PanelRow, PauseIn, PreviewOut, PromiseIn,
                      ResumeIn)

router = Router(tags=["sla"])


def _list(request, number):
    c = access.access_complaint(request.auth, number)
    return services.deadlines_for(c)


def _one(request, number, deadline_id):
    for row in _list(request, number):
        if row["id"] == deadline_id:
            return row
    raise NotFound("办理时限不存在", "No such deadline")


def _ext(e):
    return {"id": e.pk, "step": e.step, "amount": e.amount, "reason": e.reason, "status": e.status,
            "needs_approval": e.needs_approval}


@router.get("/complaints/{number}/deadlines", response=list[DeadlineOut])
def list_deadlines(request, number: str):
    """The complaint's deadlines, live: state, due time, remaining in the target's own unit."""
    return _list(request, number)


@router.post("/complaints/{number}/deadlines/{deadline_id}/pause", response=DeadlineOut)
def pause(request, number: str, deadline_id: int, payload: PauseIn):
    """Stop the clock; `reason` must be one the target allows (409 otherwise)."""
    services.pause_deadline(number, deadline_id, actor=request.auth, reason=payload.reason, note=payload.note or "")
    return _one(request, number, deadline_id)


@router.post("/complaints/{number}/deadlines/{deadline_id}/resume", response=DeadlineOut)
def resume(request, number: str, deadline_id: int, payload: ResumeIn):
    services.resume_deadline(number, deadline_id, actor=request.auth, note=payload.note or "")
    return _one(request, number, deadline_id)


@router.post("/complaints/{number}/deadlines/{deadline_id}/extensions", response={201: ExtensionOut})
def extend(request, number: str, deadline_id: int, payload: ExtensionIn):
    """Ask for more time under the policy's extension rules; steps that need approval stay
    `pending` until a supervisor decides (a supervisor's own request is approved at once)."""
    ext = services.request_extension(number, deadline_id, actor=request.auth, amount=payload.amount,
                                     reason=payload.reason)
    return Status(201, _ext(ext))


@router.post("/complaints/{number}/extensions/{extension_id}/decision", response=ExtensionOut)
def decide(request, number: str, extension_id: int, payload: DecisionIn):
    ext = services.decide_extension(number, extension_id, actor=request.auth, approve=payload.approve,
                                    note=payload.note or "")
    return _ext(ext)


@router.post("/complaints/{number}/promises", response={201: DeadlineOut})
def promise(request, number: str, payload: PromiseIn):
    d = services.add_promise(number, actor=request.auth, name=payload.name, note=payload.note or "")
    return Status(201, _one(request, number, d.pk))


@router.post("/complaints/{number}/deadlines/{deadline_id}/complete", response=DeadlineOut)
def complete(request, number: str, deadline_id: int):
    services.complete_deadline(number, deadline_id, actor=request.auth)
    return _one(request, number, deadline_id)


@router.get("/sla/preview", response=PreviewOut)
def preview(request, priority: str = "P3", category: str | None = None, channel: str = "phone",
            profile: str = "general", received_at: str | None = None, tags: str | None = None):
    """"A complaint received now (or at `received_at`), P2, category X: when is each deadline?\""""
    when = timezone.now()
    if received_at:
        try:
            when = dt.datetime.fromisoformat(received_at.replace("Z", "+00:00"))
        except ValueError:
            raise Invalid("received_at 格式不正确", "received_at must be ISO 8601", fields={"received_at": "invalid"}) \
                from None
        if timezone.is_naive(when):
            when = timezone.make_aware(when)
    return services.preview(received_at=when, priority=priority.upper(), category=category, channel=channel,
                            profile=profile, tags=[t for t in (tags or "").split(",") if t])


@router.get("/sla/panel", response=list[PanelRow])
def panel(request, sort: str = "due", scope: str = "all"):
    """At-risk and breached deadlines of open complaints visible to the caller, by time left."""
    return queries.panel_for(request.auth, sort=sort, scope=scope)
