"""Crisis API under /api/v1/: hotspots, proposals, crises (create, get, update, transitions,
link/unlink complaints, mass actions, statements, communications, enquiries, review).
Parse, call a service or query, return JSON; errors use the project's error shape."""
from __future__ import annotations

import datetime as dt

from ninja import Router, Schema, Status

from . import queries, services
from .models import Crisis, CrisisEvent, Statement

PREFIX = "/"
router = Router(tags=["crisis"])


class HotspotActionIn(Schema):
    reason: str = ""


class CrisisIn(Schema):
    title: str
    crisis_type: str
    severity: str
    summary: str = ""
    scope: dict | None = None
    match: dict | None = None
    line_to_take: str = ""
    team: dict | None = None
    complaints: list[str] = []
    hotspot: int | None = None


class ProposalDecisionIn(Schema):
    reason: str = ""
    title: str | None = None
    crisis_type: str | None = None
    severity: str | None = None


class CrisisPatch(Schema):
    title: str | None = None
    summary: str | None = None
    severity: str | None = None
    crisis_type: str | None = None
    scope: dict | None = None
    match: dict | None = None
    line_to_take: str | None = None


class TransitionIn(Schema):
    to: str
    note: str = ""


class LinkIn(Schema):
    numbers: list[str]
    source: str = "search"


class UnlinkIn(Schema):
    reason: str = ""


class MassIn(Schema):
    kind: str
    params: dict = {}
    numbers: list[str] | None = None


class StatementIn(Schema):
    kind: str
    title: str
    body: str


class ReviewDecisionIn(Schema):
    approve: bool = True
    note: str = ""


class PublishIn(Schema):
    channel: str
    note: str = ""
    at: dt.datetime | None = None


class CommunicationIn(Schema):
    stakeholder: str
    summary: str
    channel: str = ""
    direction: str = "out"
    at: dt.datetime | None = None


class EnquiryIn(Schema):
    from_name: str
    question: str
    organisation: str = ""
    stakeholder: str = "media"


class AnswerIn(Schema):
    answer: str


class TeamIn(Schema):
    username: str
    role: str
    remove: bool = False


class ReviewIn(Schema):
    what_worked: str | None = None
    what_did_not: str | None = None
    lessons: str | None = None


class ActionIn(Schema):
    title: str
    owner: str
    due_date: str


def _iso(v):
    return v.isoformat() if v else None


def hotspot_out(h) -> dict:
    return {"id": h.pk, "key": h.key, "profile": h.profile, "label": h.label, "group": h.group,
            "group_kind": h.group_kind, "status": h.status, "score": round(h.score, 2), "count": h.count,
            "baseline": round(h.baseline, 3), "signals": h.signals, "keywords": h.keywords,
            "sample_texts": h.sample_texts, "series": h.series, "fire_count": h.fire_count,
            "first_fired_at": _iso(h.first_fired_at), "last_fired_at": _iso(h.last_fired_at),
            "status_reason": h.status_reason, "crisis": h.crisis.number if h.crisis_id else None}


def statement_out(s: Statement) -> dict:
    return {"id": s.pk, "kind": s.kind, "version": s.version, "title": s.title, "body": s.body, "status": s.status,
            "check": s.check_result, "drafted_by": s.drafted_by.username if s.drafted_by_id else None,
            "reviewed_by": s.reviewed_by.username if s.reviewed_by_id else None,
            "approved_by": s.approved_by.username if s.approved_by_id else None, "approved_at": _iso(s.approved_at),
            "publications": [{"channel": p.channel, "published_at": _iso(p.published_at), "note": p.note}
                             for p in s.publications.all()]}


def crisis_out(user, c: Crisis, *, full: bool = True) -> dict:
    out = {"number": c.number, "title": c.title, "crisis_type": c.crisis_type.code, "severity": c.severity.code,
           "status": c.status, "summary": c.summary, "scope": c.scope, "match": c.match,
           "line_to_take": services.current_line(c), "opened_at": _iso(c.opened_at), "closed_at": _iso(c.closed_at),
           "version": c.version}
    if full:
        out.update({
            "team": [{"username": t.user.username, "role": t.role} for t in c.team.select_related("user")],
            "checklist": [{"id": i.pk, "step": i.step, "title": i.title, "owner_role": i.owner_role,
                           "owner": i.owner.username if i.owner_id else None, "due_at": _iso(i.due_at),
                           "done_at": _iso(i.done_at)} for i in c.checklist.select_related("owner")],
            "linked": [x.number for x in queries.linked_complaints(user, c, limit=5000)],
            "statements": [statement_out(s) for s in c.statements.select_related(
                "drafted_by", "reviewed_by", "approved_by").prefetch_related("publications")],
            "review_missing": [p.to_dict() for p in services.review_problems(c)],
        })
    return out


def _crisis(request, number, write=False):
    return services.access_crisis(request.auth, number, write=write)


# ------------------------------------------------------------------ hotspots and proposals

@router.get("/hotspots")
def list_hotspots(request, status: str = "active"):
    """Ranked hotspots (score, then newest); `status`: active (default), open, acknowledged, dismissed, crisis, all."""
    return {"items": [hotspot_out(h) for h in queries.hotspots_for(request.auth, status=status)]}


@router.get("/hotspots/{hotspot_id}")
def get_hotspot(request, hotspot_id: int):
    d = queries.hotspot_detail(request.auth, hotspot_id)
    return {**hotspot_out(d["hotspot"]), "members": [c.number for c in d["members"]],
            "places": d["places"], "products": d["products"]}


@router.post("/hotspots/{hotspot_id}/acknowledge")
def acknowledge(request, hotspot_id: int):
    return hotspot_out(services.acknowledge_hotspot(hotspot_id, actor=request.auth))


@router.post("/hotspots/{hotspot_id}/dismiss")
def dismiss(request, hotspot_id: int, payload: HotspotActionIn):
    return hotspot_out(services.dismiss_hotspot(hotspot_id, actor=request.auth, reason=payload.reason))


@router.post("/hotspots/{hotspot_id}/link/{number}")
def link_hotspot(request, hotspot_id: int, number: str):
    return crisis_out(request.auth, services.link_hotspot(hotspot_id, number, actor=request.auth))


@router.get("/crisis-proposals")
def list_proposals(request, status: str = "proposed"):
    return {"items": [{"id": p.pk, "rule": p.rule.code if p.rule_id else None, "title": p.title, "reason": p.reason,
                       "status": p.status, "complaint_ids": p.complaint_ids, "created_at": _iso(p.created_at),
                       "decline_reason": p.decline_reason, "crisis": p.crisis.number if p.crisis_id else None}
                      for p in queries.proposals_for(request.auth, status=status)]}


@router.post("/crisis-proposals/{proposal_id}/confirm", response={201: dict})
def confirm_proposal(request, proposal_id: int, payload: ProposalDecisionIn):
    c = services.confirm_proposal(proposal_id, actor=request.auth, title=payload.title,
                                  crisis_type=payload.crisis_type, severity=payload.severity)
    return Status(201, crisis_out(request.auth, c))


@router.post("/crisis-proposals/{proposal_id}/decline")
def decline_proposal(request, proposal_id: int, payload: ProposalDecisionIn):
    p = services.decline_proposal(proposal_id, actor=request.auth, reason=payload.reason)
    return {"id": p.pk, "status": p.status, "decline_reason": p.decline_reason}


# ------------------------------------------------------------------ crises

@router.get("/crises")
def list_crises(request, open: bool = False, q: str = ""):
    return {"items": [crisis_out(request.auth, c, full=False) | {"linked_count": c.n_linked}
                      for c in queries.crises_for(request.auth, open_only=open, q=q)]}


@router.post("/crises", response={201: dict})
def create_crisis(request, payload: CrisisIn):
    c = services.open_crisis(actor=request.auth, title=payload.title, crisis_type=payload.crisis_type,
                             severity=payload.severity, summary=payload.summary, scope=payload.scope,
                             match=payload.match, line_to_take=payload.line_to_take, team=payload.team,
                             complaints=payload.complaints, hotspot_id=payload.hotspot)
    return Status(201, crisis_out(request.auth, c))


@router.get("/crises/{number}")
def get_crisis(request, number: str):
    return crisis_out(request.auth, _crisis(request, number))


@router.patch("/crises/{number}")
def update_crisis(request, number: str, payload: CrisisPatch):
    changes = payload.model_dump(exclude_unset=True)
    return crisis_out(request.auth, services.update_crisis(number, actor=request.auth, changes=changes))


@router.post("/crises/{number}/transitions")
def transition(request, number: str, payload: TransitionIn):
    return crisis_out(request.auth, services.transition_crisis(number, actor=request.auth, to=payload.to,
                                                               note=payload.note))


@router.get("/crises/{number}/events")
def events(request, number: str):
    c = _crisis(request, number)
    return {"items": [{"at": _iso(e.at), "kind": e.kind, "actor": e.actor.username if e.actor_id else None,
                       "before": e.before, "after": e.after, "note": e.note}
                      for e in CrisisEvent.objects.filter(crisis=c).select_related("actor").order_by("at", "id")]}


@router.get("/crises/{number}/dashboard")
def dashboard(request, number: str):
    c = _crisis(request, number)
    d = queries.dashboard(request.auth, c)
    return {**d, "steps": [list(x) for x in d["steps"]]}


@router.post("/crises/{number}/team")
def team(request, number: str, payload: TeamIn):
    services.set_team_member(number, actor=request.auth, username=payload.username, role=payload.role,
                             remove=payload.remove)
    return crisis_out(request.auth, _crisis(request, number))


@router.post("/crises/{number}/checklist/{item_id}/done")
def checklist_done(request, number: str, item_id: int):
    i = services.complete_checklist_item(number, item_id, actor=request.auth)
    return {"id": i.pk, "done_at": _iso(i.done_at)}


@router.post("/crises/{number}/complaints")
def link(request, number: str, payload: LinkIn):
    """Link complaints by number; answers {"linked": n, "not_found": [...]}."""
    return services.link_complaints(number, actor=request.auth, numbers=payload.numbers, source=payload.source)


@router.post("/crises/{number}/complaints/{complaint}/unlink")
def unlink(request, number: str, complaint: str, payload: UnlinkIn):
    services.unlink_complaint(number, complaint, actor=request.auth, reason=payload.reason)
    return {"unlinked": complaint}


@router.post("/crises/{number}/mass-actions")
def mass(request, number: str, payload: MassIn):
    """kind: message (params.template with {name} {number} … fields), step (params.to, params.data),
    assign (params.assignee), tag (params.tag), offer (params.offer). Answers the counts and every
    failure with its reason; a template field some customer lacks is refused (422) before sending."""
    a = services.mass_action(number, actor=request.auth, kind=payload.kind, params=payload.params,
                             numbers=payload.numbers)
    return {"id": a.pk, "kind": a.kind, "total": a.total, "succeeded": a.succeeded, "failed": len(a.failures),
            "failures": a.failures}


@router.get("/crises/{number}/statements")
def statements(request, number: str):
    c = _crisis(request, number)
    return {"items": [statement_out(s) for s in c.statements.prefetch_related("publications")]}


@router.post("/crises/{number}/statements", response={201: dict})
def draft(request, number: str, payload: StatementIn):
    s = services.draft_statement(number, actor=request.auth, kind=payload.kind, title=payload.title, body=payload.body)
    return Status(201, statement_out(s))


@router.post("/crises/{number}/statements/{statement_id}/review")
def review_statement(request, number: str, statement_id: int, payload: ReviewDecisionIn):
    return statement_out(services.review_statement(number, statement_id, actor=request.auth, approve=payload.approve,
                                                   note=payload.note))


@router.post("/crises/{number}/statements/{statement_id}/approve")
def approve(request, number: str, statement_id: int):
    return statement_out(services.approve_statement(number, statement_id, actor=request.auth))


@router.post("/crises/{number}/statements/{statement_id}/publications", response={201: dict})
def publish(request, number: str, statement_id: int, payload: PublishIn):
    p = services.publish_statement(number, statement_id, actor=request.auth, channel=payload.channel,
                                   note=payload.note, at=payload.at)
    return Status(201, {"statement": statement_id, "channel": p.channel, "published_at": _iso(p.published_at)})


@router.get("/crises/{number}/communications")
def communications(request, number: str):
    c = _crisis(request, number)
    return {"items": [{"id": m.pk, "stakeholder": m.stakeholder, "direction": m.direction, "channel": m.channel,
                       "summary": m.summary, "at": _iso(m.at)} for m in c.communications.all()],
            "enquiries": [{"id": e.pk, "from_name": e.from_name, "organisation": e.organisation,
                           "question": e.question, "answer": e.answer,
                           "answered_by": e.answered_by.username if e.answered_by_id else None}
                          for e in c.enquiries.select_related("answered_by")]}


@router.post("/crises/{number}/communications", response={201: dict})
def communicate(request, number: str, payload: CommunicationIn):
    m = services.log_communication(number, actor=request.auth, stakeholder=payload.stakeholder,
                                   summary=payload.summary, channel=payload.channel, direction=payload.direction,
                                   at=payload.at)
    return Status(201, {"id": m.pk, "stakeholder": m.stakeholder, "at": _iso(m.at)})


@router.post("/crises/{number}/enquiries", response={201: dict})
def enquiry(request, number: str, payload: EnquiryIn):
    e = services.add_enquiry(number, actor=request.auth, from_name=payload.from_name, question=payload.question,
                             organisation=payload.organisation, stakeholder=payload.stakeholder)
    return Status(201, {"id": e.pk})


@router.post("/crises/{number}/enquiries/{enquiry_id}/answer")
def answer(request, number: str, enquiry_id: int, payload: AnswerIn):
    e = services.answer_enquiry(number, enquiry_id, actor=request.auth, answer=payload.answer)
    return {"id": e.pk, "answered_by": request.auth.username}


@router.put("/crises/{number}/review")
def review(request, number: str, payload: ReviewIn):
    r = services.save_review(number, actor=request.auth, **payload.model_dump(exclude_unset=True))
    return {"what_worked": r.what_worked, "what_did_not": r.what_did_not, "lessons": r.lessons,
            "missing": [p.to_dict() for p in services.review_problems(r.crisis)]}


@router.post("/crises/{number}/review/actions", response={201: dict})
def corrective_action(request, number: str, payload: ActionIn):
    a = services.add_corrective_action(number, actor=request.auth, title=payload.title, owner=payload.owner,
                                       due_date=payload.due_date)
    return Status(201, {"id": a.pk, "title": a.title, "owner": a.owner.username, "due_date": a.due_date.isoformat()})
