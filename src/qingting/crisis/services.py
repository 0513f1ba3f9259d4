"""Crisis cases: every change goes through one of these functions.

Each public function is one durable transaction: it checks who may act (`accounts.access`,
given the actor's crisis team roles), changes the rows, and writes the append-only crisis timeline
(`CrisisEvent`) — and, for a complaint touched, the complaint's own timeline through
`qingting.complaints.services`. Mass actions run in batches outside one big transaction and
report exactly which complaints failed and why.

Early warning (detector, hotspots, escalation rules) lives in `warning.py`; its entry points
are re-exported here (`sweep_hotspots`, `on_complaint_created`).
"""
from __future__ import annotations

import datetime as dt
import logging
import string

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from qingting.accounts import access
from qingting.accounts.models import Department, Role, User
from qingting.complaints import services as complaint_services
from qingting.complaints.models import Complaint
from qingting.core.errors import (
    Conflict,
    Invalid,
    NotFound,
    Problem,
    ServiceError,
)

from . import paging, warning
from .models import (
    STEP_ORDER,
    ChecklistItem,
    Communication,
    CorrectiveAction,
    Crisis,
    CrisisEvent,
    CrisisLink,
    CrisisNumber,
    CrisisProposal,
    CrisisStep,
    CrisisTask,
    CrisisType,
    Decision,
    Enquiry,
    Hotspot,
    HotspotStatus,
    MassAction,
    MassActionKind,
    PlaybookItem,
    ProposalStatus,
    Publication,
    PublicationChannel,
    Review,
    Severity,
    Stakeholder,
    Statement,
    StatementKind,
    StatementPolicy,
    StatementStatus,
    TeamMember,
    TeamRole,
)
from .statement_check import check_statement

log = logging.getLogger(__name__)

sweep_hotspots = warning.sweep_hotspots
TITLE_MAX = 200
TEXT_MAX = 20_000
BATCH = 100
MASS_MAX = 20_000


# ------------------------------------------------------------------ small helpers

def _text(value, *, field: str, label: str, max_len: int = TEXT_MAX, required: bool = False) -> str:
    return complaint_services.clean_text(value, field=field, label=label, max_len=max_len, required=required)


def _event(crisis: Crisis, kind: str, *, actor=None, before=None, after=None, note: str = "") -> CrisisEvent:
    return CrisisEvent.objects.create(crisis=crisis, kind=kind, actor=actor if getattr(actor, "pk", None) else None,
                                      before=before or {}, after=after or {}, note=note or "")


def _crisis(number: str, *, for_update: bool = False) -> Crisis:
    qs = Crisis.objects.select_related("crisis_type", "severity")
    c = qs.filter(number=str(number)[:32]).first()
    if c is not None and for_update:
        list(Crisis.objects.select_for_update().filter(pk=c.pk).values_list("pk", flat=True))
        c = qs.get(pk=c.pk)
    if c is None:
        raise NotFound(f"危机事件 {number} 不存在", f"Crisis {number} does not exist")
    return c


def access_crisis(user, number: str, *, write: bool = False, for_update: bool = False) -> Crisis:
    access.require_crisis_manage(user) if write else access.require_crisis_view(user)
    c = _crisis(number, for_update=for_update)
    if write and c.is_closed:
        raise Conflict("危机事件已结束，不能再修改", "The crisis is closed", code="closed")
    return c


def team_roles(crisis: Crisis, user) -> set[str]:
    if not getattr(user, "pk", None):
        return set()
    return set(TeamMember.objects.filter(crisis=crisis, user=user).values_list("role", flat=True))


def _require_team_role(crisis: Crisis, user, role: str, what_zh: str, what_en: str) -> None:
    access.require_crisis_team_role(team_roles(crisis, user), role, TeamRole(role).label, what_zh, what_en)


def _require_lead(crisis: Crisis, user) -> None:
    """Commander of this crisis, or a manager/admin."""
    access.require_crisis_lead(user, team_roles(crisis, user))


def _resolve_user(username, field: str) -> User:
    if isinstance(username, User):
        return username
    user = User.objects.filter(username=str(username or "")[:150], is_active=True).first()
    if user is None:
        raise Invalid(f"用户「{username}」不存在", f"Unknown user {username!r}", fields={field: "unknown"})
    return user


def _resolve_type(code) -> CrisisType:
    t = CrisisType.objects.filter(code=str(code or "")).first() or CrisisType.objects.filter(name=str(code or "")).first()
    if t is None or not t.active:
        codes = "、".join(CrisisType.objects.filter(active=True).values_list("code", flat=True))
        raise Invalid(f"危机类型「{code}」不存在，可选：{codes}", f"Unknown crisis type {code!r}; types: {codes}",
                      fields={"crisis_type": "unknown"})
    return t


def _resolve_severity(code) -> Severity:
    s = Severity.objects.filter(code=str(code or "")).first() or Severity.objects.filter(name=str(code or "")).first()
    if s is None:
        codes = "、".join(Severity.objects.values_list("code", flat=True))
        raise Invalid(f"危机级别「{code}」不存在，可选：{codes}", f"Unknown severity {code!r}; levels: {codes}",
                      fields={"severity": "unknown"})
    return s


def _clean_scope(scope) -> dict:
    if scope in (None, ""):
        return {}
    if not isinstance(scope, dict):
        raise Invalid("影响范围应为对象：products、stores、regions", "scope must be an object", fields={"scope": "invalid"})
    out = {}
    for key in ("products", "stores", "regions"):
        vals = scope.get(key) or []
        if isinstance(vals, str):
            vals = [v.strip() for v in vals.replace("，", ",").split(",")]
        out[key] = [str(v).strip()[:100] for v in vals if str(v).strip()][:100]
    return out


def _clean_match(match) -> dict:
    if match in (None, ""):
        return {}
    if not isinstance(match, dict):
        raise Invalid("关联条件应为对象", "match must be an object", fields={"match": "invalid"})
    out = {}
    about = match.get("about") or {}
    if not isinstance(about, dict):
        raise Invalid("关联条件 about 应为对象", "match.about must be an object", fields={"match": "invalid"})
    if about:
        out["about"] = {str(k)[:32]: str(v)[:100] for k, v in about.items() if str(v).strip()}
    if match.get("problem"):
        out["problem"] = str(match["problem"])[:64]
    kws = match.get("keywords") or []
    if isinstance(kws, str):
        kws = kws.replace("，", ",").split(",")
    kws = [str(k).strip()[:30] for k in kws if str(k).strip()][:20]
    if kws:
        out["keywords"] = kws
    return out


def _next_number(day) -> str:
    row, _ = CrisisNumber.objects.get_or_create(day=day)
    CrisisNumber.objects.filter(pk=day).update(last=F("last") + 1)
    row.refresh_from_db()
    return f"WJ{day:%Y%m%d}-{row.last:02d}"


def _due(item: PlaybookItem, crisis: Crisis):
    hours = crisis.severity.holding_hours if item.due_from_severity else item.due_hours
    return crisis.confirmed_at + dt.timedelta(hours=hours) if hours else None


# ------------------------------------------------------------------ opening a crisis

def open_crisis(*, actor, title, crisis_type, severity, summary: str = "", scope=None, match=None,
                line_to_take: str = "", team: dict | None = None, complaints=(), hotspot_id=None,
                proposal_id=None) -> Crisis:
    """Open (and confirm) a crisis: by hand, from a hotspot or from a rule's proposal."""
    access.require_crisis_manage(actor)
    title = _text(title, field="title", label="标题", max_len=TITLE_MAX, required=True)
    ctype, sev = _resolve_type(crisis_type), _resolve_severity(severity)
    summary = _text(summary, field="summary", label="概况")
    line_to_take = _text(line_to_take, field="line_to_take", label="统一口径")
    scope, match = _clean_scope(scope), _clean_match(match)
    team_users = {}
    for role, usernames in (team or {}).items():
        if role not in TeamRole.values:
            raise Invalid(f"未知角色「{role}」", f"Unknown team role {role!r}", fields={"team": "unknown role"})
        for u in (usernames if isinstance(usernames, (list, tuple)) else [usernames]):
            if u:
                team_users.setdefault(role, []).append(_resolve_user(u, "team"))
    with transaction.atomic(durable=True):
        hotspot = proposal = None
        if hotspot_id is not None:
            hotspot = Hotspot.objects.select_for_update().filter(pk=hotspot_id).first()
            if hotspot is None:
                raise NotFound(f"热点 {hotspot_id} 不存在", f"Hotspot {hotspot_id} does not exist")
            if hotspot.status == HotspotStatus.CRISIS and hotspot.crisis_id:
                raise Conflict(f"热点已关联危机 {hotspot.crisis.number}", "The hotspot is already linked to a crisis")
            if not match:
                match = match_from_group(hotspot.group)
        if proposal_id is not None:
            access.require_crisis_decide(actor)
            proposal = CrisisProposal.objects.select_for_update().filter(pk=proposal_id).first()
            if proposal is None:
                raise NotFound(f"提议 {proposal_id} 不存在", f"Proposal {proposal_id} does not exist")
            if proposal.status != ProposalStatus.PROPOSED:
                raise Conflict(f"提议已{proposal.get_status_display()}", f"The proposal is already {proposal.status}")
        now = timezone.now()
        crisis = Crisis.objects.create(number=_next_number(timezone.localdate(now)), title=title, crisis_type=ctype,
                                       severity=sev, summary=summary, scope=scope, match=match,
                                       line_to_take=line_to_take, opened_by=actor, opened_at=now, confirmed_at=now)
        if TeamRole.COMMANDER not in team_users:
            team_users[TeamRole.COMMANDER] = [actor]
        for role, users in team_users.items():
            for u in users:
                TeamMember.objects.get_or_create(crisis=crisis, user=u, role=role)
        items = PlaybookItem.objects.filter(crisis_type__isnull=True) | PlaybookItem.objects.filter(crisis_type=ctype)
        owners = {}
        for tm in TeamMember.objects.filter(crisis=crisis).order_by("id"):
            owners.setdefault(tm.role, tm.user)
        ChecklistItem.objects.bulk_create([
            ChecklistItem(crisis=crisis, step=it.step, title=it.title, guidance=it.guidance, owner_role=it.owner_role,
                          owner=owners.get(it.owner_role), department=it.department, due_at=_due(it, crisis),
                          position=STEP_ORDER.index(it.step) * 100 + i)
            for i, it in enumerate(items.order_by("position", "id"))])
        _event(crisis, "crisis.opened", actor=actor, after={
            "number": crisis.number, "type": ctype.code, "severity": sev.code, "hotspot": hotspot_id,
            "proposal": proposal_id, "team": {r: [u.username for u in us] for r, us in team_users.items()}})
        source = CrisisLink.Source.MANUAL
        ids = []
        if hotspot is not None:
            hotspot.status, hotspot.crisis, hotspot.status_by, hotspot.status_at = HotspotStatus.CRISIS, crisis, actor, now
            hotspot.save()
            ids = list(hotspot.members.values_list("complaint_id", flat=True))
            source = CrisisLink.Source.HOTSPOT
        if proposal is not None:
            proposal.status, proposal.decided_by, proposal.decided_at, proposal.crisis = \
                ProposalStatus.CONFIRMED, actor, now, crisis
            proposal.save()
            ids += list(proposal.complaint_ids or [])
            source = CrisisLink.Source.RULE
            if proposal.hotspot_id and proposal.hotspot.status != HotspotStatus.CRISIS:
                Hotspot.objects.filter(pk=proposal.hotspot_id).update(status=HotspotStatus.CRISIS, crisis=crisis)
        qs = access.complaints_for(actor, Complaint.objects.filter(pk__in=ids)) if ids else Complaint.objects.none()
        linked = _link(crisis, list(qs), actor=actor, source=source)
        if complaints:
            found = list(access.complaints_for(actor, Complaint.objects.filter(number__in=list(complaints))))
            linked += _link(crisis, found, actor=actor, source=CrisisLink.Source.MANUAL)
        _page_team(crisis, "crisis.opened", f"危机事件 {crisis.number}：{crisis.title}",
                   f"{ctype.name} · {sev}。初步声明须在 {sev.holding_hours} 小时内发布。")
        return crisis


def match_from_group(group: dict) -> dict:
    """A hotspot's group as the crisis's auto-link condition."""
    about, out = {}, {}
    for k, v in (group or {}).items():
        if k == "problem":
            out["problem"] = v
        elif k == "text":
            out.setdefault("keywords", []).append(v)
        else:
            about[k] = v
    if about:
        out["about"] = about
    return out


def confirm_proposal(proposal_id, *, actor, title=None, crisis_type=None, severity=None, **kw) -> Crisis:
    access.require_crisis_decide(actor)
    p = CrisisProposal.objects.select_related("rule__crisis_type", "rule__severity", "hotspot").filter(pk=proposal_id).first()
    if p is None:
        raise NotFound(f"提议 {proposal_id} 不存在", f"Proposal {proposal_id} does not exist")
    ctype = crisis_type or (p.rule.crisis_type.code if p.rule and p.rule.crisis_type else "product_quality")
    sev = severity or (p.rule.severity.code if p.rule and p.rule.severity else "III")
    match = kw.pop("match", None) or (match_from_group(p.hotspot.group) if p.hotspot_id else None)
    return open_crisis(actor=actor, title=title or p.title, crisis_type=ctype, severity=sev,
                       summary=kw.pop("summary", "") or p.reason, match=match, proposal_id=p.pk, **kw)


decline_proposal = warning.decline_proposal
acknowledge_hotspot = warning.acknowledge_hotspot
update_rule = warning.update_rule
dismiss_hotspot = warning.dismiss_hotspot


def link_hotspot(hotspot_id, number: str, *, actor) -> Crisis:
    """Link a hotspot (and its member complaints) to an existing crisis."""
    with transaction.atomic(durable=True):
        crisis = access_crisis(actor, number, write=True, for_update=True)
        h = Hotspot.objects.select_for_update().filter(pk=hotspot_id).first()
        if h is None:
            raise NotFound(f"热点 {hotspot_id} 不存在", f"Hotspot {hotspot_id} does not exist")
        h.status, h.crisis, h.status_by, h.status_at = HotspotStatus.CRISIS, crisis, actor, timezone.now()
        h.save()
        cs = list(access.complaints_for(actor, Complaint.objects.filter(hotspot_links__hotspot=h)))
        n = _link(crisis, cs, actor=actor, source=CrisisLink.Source.HOTSPOT)
        _event(crisis, "crisis.hotspot_linked", actor=actor, after={"hotspot": h.pk, "label": h.label, "linked": n})
        return crisis


def _page_team(crisis: Crisis, event: str, title: str, text: str) -> None:
    users = [tm.user for tm in TeamMember.objects.filter(crisis=crisis).select_related("user")]
    users += list(User.objects.filter(role=Role.MANAGER, is_active=True))
    ids = paging.page(event, title=title, text=text, users=users,
                      detail={"crisis": crisis.number, "url": f"/crisis/{crisis.number}/"})
    _event(crisis, "crisis.paged", after={"event": event, "users": sorted({u.username for u in users}),
                                          "deliveries": len(ids)})


# ------------------------------------------------------------------ updating, steps

UPDATABLE = ("title", "summary", "severity", "crisis_type", "scope", "match", "line_to_take")


def update_crisis(number: str, *, actor, changes: dict) -> Crisis:
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise Invalid("以下字段不能修改：" + "、".join(sorted(unknown)),
                      "These fields cannot be changed here: " + ", ".join(sorted(unknown)),
                      fields={k: "not updatable" for k in unknown})
    with transaction.atomic(durable=True):
        c = access_crisis(actor, number, write=True, for_update=True)
        before, after = {}, {}
        for key, value in changes.items():
            if key == "title":
                new, old = _text(value, field="title", label="标题", max_len=TITLE_MAX, required=True), c.title
            elif key == "summary":
                new, old = _text(value, field="summary", label="概况"), c.summary
            elif key == "line_to_take":
                new, old = _text(value, field="line_to_take", label="统一口径"), c.line_to_take
            elif key == "scope":
                new, old = _clean_scope(value), c.scope
            elif key == "match":
                new, old = _clean_match(value), c.match
            elif key == "severity":
                sev = _resolve_severity(value)
                if sev.pk != c.severity_id:
                    before[key], after[key] = c.severity.code, sev.code
                    c.severity = sev
                    for item in ChecklistItem.objects.filter(crisis=c, done_at__isnull=True):
                        src = PlaybookItem.objects.filter(title=item.title, due_from_severity=True).first()
                        if src:
                            item.due_at = c.confirmed_at + dt.timedelta(hours=sev.holding_hours)
                            item.save(update_fields=["due_at"])
                continue
            else:
                t = _resolve_type(value)
                if t.pk != c.crisis_type_id:
                    before[key], after[key] = c.crisis_type.code, t.code
                    c.crisis_type = t
                continue
            if new != old:
                setattr(c, key, new)
                before[key], after[key] = old, new
        if not after:
            return c
        c.version += 1
        c.save()
        _event(c, "crisis.updated", actor=actor, before=before, after=after)
        return c


def transition_crisis(number: str, *, actor, to: str, note: str = "") -> Crisis:
    """Move the crisis to a later step; closing needs its complete review (409 saying what is missing)."""
    to = str(to or "").strip()
    code = to if to in STEP_ORDER else next((s.value for s in CrisisStep if s.label == to), None)
    if code is None:
        raise Invalid(f"环节「{to}」不存在，可选：{'、'.join(STEP_ORDER)}", f"Unknown step {to!r}; steps: "
                      f"{', '.join(STEP_ORDER)}", code="unknown_step", fields={"to": "unknown"})
    with transaction.atomic(durable=True):
        c = access_crisis(actor, number, write=True, for_update=True)
        _require_lead(c, actor)
        if STEP_ORDER.index(code) <= STEP_ORDER.index(c.status):
            raise Conflict(f"危机已在「{c.get_status_display()}」，只能向后推进",
                           f"The crisis is at {c.status}; steps only move forward", code="transition_not_allowed",
                           fields={"from": c.status, "to": code})
        if code == CrisisStep.CLOSED:
            problems = review_problems(c)
            if problems:
                raise Conflict("结束危机前需完成总结复盘，还缺少：" + "、".join(p.zh for p in problems),
                               "The crisis closes only with its review; missing: " + ", ".join(p.en for p in problems),
                               code="review_required", problems=problems)
        old = c.status
        c.status = code
        if code == CrisisStep.CLOSED:
            c.closed_at = timezone.now()
        c.version += 1
        c.save()
        _event(c, "crisis.step_advanced", actor=actor, before={"step": old}, after={"step": code}, note=note)
        return c


def review_problems(c: Crisis) -> list[Problem]:
    problems = []
    review = Review.objects.filter(crisis=c).first()
    if review is None or not review.what_worked.strip():
        problems.append(Problem("what_worked", "做得好的", "what worked", "what_worked"))
    if review is None or not review.what_did_not.strip():
        problems.append(Problem("what_did_not", "需要改进的", "what did not work", "what_did_not"))
    if review is None or not review.actions.exists():
        problems.append(Problem("corrective_actions", "至少一项整改措施（负责人、完成期限）",
                                "at least one corrective action with owner and due date", "actions"))
    return problems


# ------------------------------------------------------------------ team, checklist, tasks, decisions

def set_team_member(number: str, *, actor, username, role: str, remove: bool = False) -> TeamMember | None:
    if role not in TeamRole.values:
        raise Invalid(f"未知角色「{role}」", f"Unknown team role {role!r}", fields={"role": "unknown"})
    user = _resolve_user(username, "username")
    with transaction.atomic(durable=True):
        c = access_crisis(actor, number, write=True, for_update=True)
        _require_lead(c, actor)
        if remove:
            if role == TeamRole.COMMANDER and TeamMember.objects.filter(crisis=c, role=role).count() <= 1:
                raise Conflict("应急小组必须有一位总指挥", "The team needs a commander")
            TeamMember.objects.filter(crisis=c, user=user, role=role).delete()
            _event(c, "crisis.team_removed", actor=actor, before={"user": user.username, "role": role})
            return None
        tm, created = TeamMember.objects.get_or_create(crisis=c, user=user, role=role)
        if created:
            _event(c, "crisis.team_added", actor=actor, after={"user": user.username, "role": role})
            ChecklistItem.objects.filter(crisis=c, owner_role=role, owner__isnull=True).update(owner=user)
            paging.page("crisis.team_added", title=f"你已加入危机应急小组 {c.number}（{TeamRole(role).label}）",
                        text=c.title, users=[user], detail={"crisis": c.number, "url": f"/crisis/{c.number}/"})
        return tm


def complete_checklist_item(number: str, item_id, *, actor, note: str = "") -> ChecklistItem:
    note = _text(note, field="note", label="说明", max_len=2000)
    with transaction.atomic(durable=True):
        c = access_crisis(actor, number, write=True, for_update=True)
        item = ChecklistItem.objects.filter(crisis=c, pk=item_id).first()
        if item is None:
            raise NotFound("清单事项不存在", "Checklist item does not exist")
        if item.done_at:
            raise Conflict("该事项已完成", "Already done")
        item.done_at, item.done_by, item.note = timezone.now(), actor, note
        item.save()
        _event(c, "crisis.checklist_done", actor=actor, after={"item": item.pk, "title": item.title,
                                                               "overdue": bool(item.due_at and item.due_at < item.done_at)},
               note=note)
        return item


def add_checklist_item(number: str, *, actor, step: str, title: str, owner=None, due_at=None) -> ChecklistItem:
    title = _text(title, field="title", label="事项", max_len=TITLE_MAX, required=True)
    if step not in STEP_ORDER[:-1]:
        raise Invalid("环节无效", "Unknown step", fields={"step": "unknown"})
    owner = _resolve_user(owner, "owner") if owner else None
    with transaction.atomic(durable=True):
        c = access_crisis(actor, number, write=True, for_update=True)
        item = ChecklistItem.objects.create(crisis=c, step=step, title=title, owner=owner, due_at=due_at,
                                            position=STEP_ORDER.index(step) * 100 + 99)
        _event(c, "crisis.checklist_added", actor=actor, after={"item": item.pk, "title": title, "step": step})
        return item


def add_task(number: str, *, actor, title: str, department=None, owner=None, due_at=None) -> CrisisTask:
    title = _text(title, field="title", label="任务", max_len=TITLE_MAX, required=True)
    dept = None
    if department:
        dept = Department.objects.filter(code=str(department)).first()
        if dept is None:
            raise Invalid(f"部门「{department}」不存在", f"Unknown department {department!r}", fields={"department": "unknown"})
    owner = _resolve_user(owner, "owner") if owner else None
    with transaction.atomic(durable=True):
        c = access_crisis(actor, number, write=True, for_update=True)
        task = CrisisTask.objects.create(crisis=c, title=title, department=dept, owner=owner, due_at=due_at)
        _event(c, "crisis.task_added", actor=actor, after={"task": task.pk, "title": title,
                                                           "department": dept.code if dept else None,
                                                           "owner": owner.username if owner else None})
        if owner:
            paging.page("crisis.task", title=f"危机任务：{title}", text=f"{c.number} {c.title}", users=[owner],
                        detail={"crisis": c.number})
        return task


def complete_task(number: str, task_id, *, actor) -> CrisisTask:
    with transaction.atomic(durable=True):
        c = access_crisis(actor, number, write=True, for_update=True)
        task = CrisisTask.objects.filter(crisis=c, pk=task_id).first()
        if task is None:
            raise NotFound("任务不存在", "Task does not exist")
        if task.done_at:
            raise Conflict("任务已完成", "Already done")
        task.done_at = timezone.now()
        task.save(update_fields=["done_at"])
        _event(c, "crisis.task_done", actor=actor, after={"task": task.pk, "title": task.title})
        return task


def add_decision(number: str, *, actor, decision: str, rationale: str = "") -> Decision:
    decision = _text(decision, field="decision", label="决定", max_len=5000, required=True)
    rationale = _text(rationale, field="rationale", label="理由", max_len=5000)
    with transaction.atomic(durable=True):
        c = access_crisis(actor, number, write=True, for_update=True)
        d = Decision.objects.create(crisis=c, actor=actor, decision=decision, rationale=rationale)
        _event(c, "crisis.decision", actor=actor, after={"decision": d.pk}, note=decision)
        return d


# ------------------------------------------------------------------ affected complaints

def _link(crisis: Crisis, complaints, *, actor, source: str) -> int:
    """Link complaints (inside the caller's transaction); each gets a `crisis.linked` event."""
    n = 0
    existing = {l.complaint_id: l for l in CrisisLink.objects.filter(crisis=crisis,
                                                                     complaint__in=[c.pk for c in complaints])}
    for comp in complaints:
        link = existing.get(comp.pk)
        if link is not None and link.unlinked_at is None:
            continue
        if link is None:
            CrisisLink.objects.create(crisis=crisis, complaint=comp, source=source,
                                      linked_by=actor if getattr(actor, "pk", None) else None)
        else:
            link.unlinked_at, link.source, link.linked_at = None, source, timezone.now()
            link.save(update_fields=["unlinked_at", "source", "linked_at"])
        complaint_services.record_event(comp, "crisis.linked", actor=actor, after={
            "crisis": crisis.number, "title": crisis.title, "source": source})
        n += 1
    if n:
        _event(crisis, "crisis.complaints_linked", actor=actor, after={"count": n, "source": source,
                                                                        "numbers": [c.number for c in complaints][:200]})
    return n


def link_complaints(number: str, *, actor, numbers, source: str = CrisisLink.Source.SEARCH) -> dict:
    numbers = [str(n).strip()[:32] for n in (numbers or []) if str(n).strip()]
    if not numbers:
        raise Invalid("请选择要关联的投诉", "No complaints given", fields={"numbers": "required"})
    if len(numbers) > MASS_MAX:
        raise Invalid(f"一次最多关联 {MASS_MAX} 件", f"At most {MASS_MAX} at once", fields={"numbers": "too many"})
    if source not in CrisisLink.Source.values:
        source = CrisisLink.Source.SEARCH
    with transaction.atomic(durable=True):
        c = access_crisis(actor, number, write=True, for_update=True)
        found = list(access.complaints_for(actor, Complaint.objects.filter(number__in=numbers)))
        missing = sorted(set(numbers) - {x.number for x in found})
        n = _link(c, found, actor=actor, source=source)
        return {"linked": n, "not_found": missing}


def unlink_complaint(number: str, complaint_number: str, *, actor, reason: str = "") -> CrisisLink:
    reason = _text(reason, field="reason", label="原因", max_len=2000)
    with transaction.atomic(durable=True):
        c = access_crisis(actor, number, write=True, for_update=True)
        comp = access.access_complaint(actor, complaint_number)
        link = CrisisLink.objects.filter(crisis=c, complaint=comp, unlinked_at__isnull=True).first()
        if link is None:
            raise NotFound(f"投诉 {complaint_number} 未关联到此危机", f"{complaint_number} is not linked to this crisis")
        link.unlinked_at = timezone.now()
        link.save(update_fields=["unlinked_at"])
        complaint_services.record_event(comp, "crisis.unlinked", actor=actor, before={"crisis": c.number}, note=reason)
        _event(c, "crisis.complaint_unlinked", actor=actor, before={"complaint": comp.number}, note=reason)
        return link


def _matches(crisis_match: dict, complaint: Complaint) -> bool:
    if not crisis_match:
        return False
    about = complaint.about if isinstance(complaint.about, dict) else {}
    for k, v in (crisis_match.get("about") or {}).items():
        if str(about.get(k, "")) != str(v):
            return False
    problem = crisis_match.get("problem")
    if problem and not (complaint.category_id and complaint.category.code == problem):
        return False
    kws = crisis_match.get("keywords") or []
    if kws:
        text = f"{complaint.subject} {complaint.description}"
        if not any(k in text for k in kws):
            return False
    return bool(crisis_match.get("about") or problem or kws)


def on_complaint_created(complaint: Complaint, actor) -> None:
    """Complaint hook (inside the creation transaction): link it to open crises whose group it
    matches, and after commit feed the early-warning detector."""
    for crisis in Crisis.objects.exclude(status=CrisisStep.CLOSED).exclude(match={}):
        if _matches(crisis.match, complaint):
            _link(crisis, [complaint], actor=None, source=CrisisLink.Source.AUTO)
    from . import tasks

    profile = complaint.profile.code if complaint.profile_id else ""
    transaction.on_commit(lambda: tasks.enqueue_check(profile))


# ------------------------------------------------------------------ mass actions

class _Missing(dict):
    def __missing__(self, key):
        raise KeyError(key)


def template_fields(template: str) -> list[str]:
    try:
        return sorted({f.split(".")[0].split("[")[0] for _, f, _, _ in string.Formatter().parse(template) if f})
    except ValueError as exc:
        raise Invalid(f"模板格式有误：{exc}（字段写作 {{name}}，花括号本身写作 {{{{ }}}}）",
                      f"Bad template: {exc}", fields={"template": "invalid"}) from exc


def customer_fields(comp: Complaint, crisis: Crisis) -> dict:
    """Fields a mass-message template may use, for one complaint (empty values count as missing)."""
    about = comp.about if isinstance(comp.about, dict) else {}
    vals = {"name": comp.customer.name if comp.customer_id else "", "number": comp.number,
            "tracking_code": comp.tracking_code, "subject": comp.subject,
            "mobile": comp.customer.mobile if comp.customer_id else "",
            "email": comp.customer.email if comp.customer_id else "",
            "store": comp.department.name if comp.department_id else "",
            "crisis": crisis.number, "crisis_title": crisis.title}
    for k, v in about.items():
        vals.setdefault(str(k), "" if v is None else str(v))
    return {k: v for k, v in vals.items() if str(v).strip()}


MESSAGE_FIELDS = ("name", "number", "tracking_code", "subject", "mobile", "email", "store", "crisis", "crisis_title",
                  "brand", "series", "vehicle_model", "product", "shop", "order_no")


def _targets(crisis: Crisis, actor, numbers) -> list[Complaint]:
    qs = Complaint.objects.filter(crisis_links__crisis=crisis, crisis_links__unlinked_at__isnull=True)
    if numbers:
        qs = qs.filter(number__in=[str(n)[:32] for n in numbers])
    return list(qs.select_related("customer", "department", "category").order_by("pk")[:MASS_MAX])


def mass_action(number: str, *, actor, kind: str, params: dict | None = None, numbers=None) -> MassAction:
    """Apply one action to every linked complaint (or the listed ones), in batches; the result lists
    exactly which complaints failed and why. A message template whose field some customer lacks is
    refused before anything is sent, naming the field and the complaints."""
    params = dict(params or {})
    if kind not in MassActionKind.values:
        raise Invalid(f"未知批量操作「{kind}」，可选：{'、'.join(MassActionKind.values)}",
                      f"Unknown mass action {kind!r}", fields={"kind": "unknown"})
    crisis = access_crisis(actor, number, write=True)
    targets = _targets(crisis, actor, numbers)
    if not targets:
        raise Invalid("没有可操作的受影响投诉", "No linked complaints to act on", fields={"numbers": "empty"})
    rendered: dict[int, str] = {}
    if kind == MassActionKind.MESSAGE:
        template = _text(params.get("template"), field="template", label="消息模板", max_len=5000, required=True)
        fields = template_fields(template)
        missing: dict[str, list[str]] = {}
        for comp in targets:
            vals = customer_fields(comp, crisis)
            lacking = [f for f in fields if f not in vals]
            for f in lacking:
                missing.setdefault(f, []).append(comp.number)
            if not lacking:
                rendered[comp.pk] = template.format_map(_Missing(vals))
        if missing:
            parts_zh = [f"「{f}」（{len(ns)} 件：{'、'.join(ns[:20])}{'…' if len(ns) > 20 else ''}）"
                        for f, ns in sorted(missing.items())]
            parts_en = [f"{f} ({len(ns)}: {', '.join(ns[:20])}{'…' if len(ns) > 20 else ''})"
                        for f, ns in sorted(missing.items())]
            raise Invalid("模板中的字段有客户缺少，未发送任何消息：" + "；".join(parts_zh),
                          "Some customers lack template fields; nothing was sent: " + "; ".join(parts_en),
                          code="template_field_missing", fields={f: ns for f, ns in missing.items()})
        params["template"] = template
    elif kind == MassActionKind.STEP:
        if not str(params.get("to") or "").strip():
            raise Invalid("需要目标环节（to）", "The target step (to) is required", fields={"to": "required"})
    elif kind == MassActionKind.ASSIGN:
        if params.get("assignee"):
            _resolve_user(params["assignee"], "assignee")
    elif kind == MassActionKind.TAG:
        params["tag"] = _text(params.get("tag"), field="tag", label="标签", max_len=30, required=True)
    elif kind == MassActionKind.OFFER:
        params["offer"] = _text(params.get("offer"), field="offer", label="补救措施", max_len=200, required=True)
    with transaction.atomic(durable=True):
        action = MassAction.objects.create(crisis=crisis, kind=kind, params=params, actor=actor, total=len(targets))
        _event(crisis, "crisis.mass_action_started", actor=actor, after={"action": action.pk, "kind": kind,
                                                                        "total": len(targets)})
    failures, ok = [], 0
    for start in range(0, len(targets), BATCH):
        batch = targets[start:start + BATCH]
        if kind in (MassActionKind.TAG, MassActionKind.OFFER):
            ok_b, fail_b = _tag_or_offer_batch(crisis, batch, actor=actor, kind=kind, params=params, action=action)
            ok += ok_b
            failures += fail_b
            continue
        for comp in batch:
            try:
                if kind == MassActionKind.MESSAGE:
                    complaint_services.add_message(comp.number, actor=actor, body=rendered[comp.pk],
                                                   channel=params.get("channel") or None)
                elif kind == MassActionKind.STEP:
                    data = params.get("data") or {}
                    complaint_services.transition_complaint(comp.number, actor=actor, to=params["to"], data=data)
                elif kind == MassActionKind.ASSIGN:
                    complaint_services.assign_complaint(comp.number, actor=actor, assignee=params.get("assignee"))
                ok += 1
            except ServiceError as exc:
                failures.append({"number": comp.number, "code": exc.code, "reason": exc.zh, "reason_en": exc.en})
            except Exception as exc:  # one complaint's unexpected failure is reported, the rest go on
                log.exception("mass action %s failed on %s", kind, comp.number)
                failures.append({"number": comp.number, "code": "error", "reason": f"内部错误：{type(exc).__name__}",
                                 "reason_en": f"Internal error: {type(exc).__name__}"})
    with transaction.atomic(durable=True):
        MassAction.objects.filter(pk=action.pk).update(succeeded=ok, failures=failures, finished_at=timezone.now())
        _event(crisis, "crisis.mass_action", actor=actor, after={
            "action": action.pk, "kind": kind, "total": len(targets), "succeeded": ok, "failed": len(failures),
            "failures": failures[:200]}, note=params.get("template", "") or params.get("offer", "") or
            params.get("tag", "") or params.get("to", "") or params.get("assignee", "") or "")
    action.refresh_from_db()
    return action


def _tag_or_offer_batch(crisis, batch, *, actor, kind, params, action) -> tuple[int, list]:
    failures, ok = [], 0
    try:
        with transaction.atomic(durable=True):
            visible = {c.pk for c in access.complaints_for(actor, Complaint.objects.filter(pk__in=[c.pk for c in batch]))}
            links = {l.complaint_id: l for l in CrisisLink.objects.select_for_update().filter(
                crisis=crisis, complaint__in=[c.pk for c in batch])}
            for comp in batch:
                if comp.pk not in visible:
                    failures.append({"number": comp.number, "code": "not_found",
                                     "reason": "无权查看该投诉", "reason_en": "Not visible to you"})
                    continue
                link = links[comp.pk]
                if kind == MassActionKind.TAG:
                    if params["tag"] not in link.tags:
                        link.tags = [*link.tags, params["tag"]]
                        link.save(update_fields=["tags"])
                    complaint_services.record_event(comp, "crisis.tagged", actor=actor, after={
                        "crisis": crisis.number, "tag": params["tag"], "mass_action": action.pk})
                else:
                    link.offer = params["offer"]
                    link.save(update_fields=["offer"])
                    complaint_services.record_event(comp, "crisis.offer", actor=actor, after={
                        "crisis": crisis.number, "offer": params["offer"], "mass_action": action.pk},
                        note=params["offer"], customer_visible=True)
                ok += 1
    except Exception as exc:  # the batch rolled back: every complaint in it is reported
        log.exception("mass %s batch failed", kind)
        return 0, [{"number": c.number, "code": "batch_failed", "reason": f"本批次失败：{type(exc).__name__}",
                    "reason_en": f"Batch failed: {type(exc).__name__}"} for c in batch]
    return ok, failures


# ------------------------------------------------------------------ statements

def policy_for(kind: str) -> StatementPolicy:
    p = StatementPolicy.objects.filter(kind=kind).first()
    return p or StatementPolicy(kind=kind)


def draft_statement(number: str, *, actor, kind: str, title: str, body: str) -> Statement:
    if kind not in StatementKind.values:
        raise Invalid(f"声明类型「{kind}」无效，可选：{'、'.join(StatementKind.values)}", f"Unknown statement kind {kind!r}",
                      fields={"kind": "unknown"})
    title = _text(title, field="title", label="标题", max_len=TITLE_MAX, required=True)
    body = _text(body, field="body", label="正文", required=True)
    with transaction.atomic(durable=True):
        c = access_crisis(actor, number, write=True, for_update=True)
        _require_team_role(c, actor, policy_for(kind).draft_role, "起草声明", "Drafting a statement")
        last = Statement.objects.filter(crisis=c, kind=kind).order_by("-version").first()
        s = Statement.objects.create(crisis=c, kind=kind, version=(last.version + 1) if last else 1, title=title,
                                     body=body, drafted_by=actor, check_result=check_statement(body, kind=kind))
        _event(c, "statement.drafted", actor=actor, after={"statement": s.pk, "kind": kind, "version": s.version,
                                                           "warnings": len(s.check_result.get("findings", []))})
        return s


def _statement(c: Crisis, statement_id) -> Statement:
    s = Statement.objects.select_for_update().filter(crisis=c, pk=statement_id).first()
    if s is None:
        raise NotFound(f"声明 {statement_id} 不存在", f"Statement {statement_id} does not exist")
    return s


def review_statement(number: str, statement_id, *, actor, approve: bool = True, note: str = "") -> Statement:
    note = _text(note, field="note", label="审核意见", max_len=5000)
    with transaction.atomic(durable=True):
        c = access_crisis(actor, number, write=True, for_update=True)
        s = _statement(c, statement_id)
        _require_team_role(c, actor, policy_for(s.kind).review_role, "审核声明", "Reviewing a statement")
        if s.status != StatementStatus.DRAFT:
            raise Conflict(f"声明当前为「{s.get_status_display()}」，只有草稿可以审核",
                           f"The statement is {s.status}; only drafts are reviewed")
        if approve:
            s.status, s.reviewed_by, s.reviewed_at = StatementStatus.REVIEWED, actor, timezone.now()
            s.save()
        elif not note:
            raise Invalid("退回修改需填写审核意见", "A note is required to send a draft back", fields={"note": "required"})
        _event(c, "statement.reviewed" if approve else "statement.returned", actor=actor,
               after={"statement": s.pk, "version": s.version}, note=note)
        return s


def approve_statement(number: str, statement_id, *, actor, note: str = "") -> Statement:
    with transaction.atomic(durable=True):
        c = access_crisis(actor, number, write=True, for_update=True)
        s = _statement(c, statement_id)
        _require_team_role(c, actor, policy_for(s.kind).approve_role, "批准声明", "Approving a statement")
        if s.status != StatementStatus.REVIEWED:
            raise Conflict(f"声明当前为「{s.get_status_display()}」，须先经审核才能批准",
                           f"The statement is {s.status}; it must be reviewed before approval",
                           code="not_reviewed")
        Statement.objects.filter(crisis=c, kind=s.kind, status=StatementStatus.APPROVED).update(
            status=StatementStatus.SUPERSEDED)
        s.status, s.approved_by, s.approved_at = StatementStatus.APPROVED, actor, timezone.now()
        s.save()
        _event(c, "statement.approved", actor=actor, after={"statement": s.pk, "kind": s.kind, "version": s.version},
               note=note)
        return s


CHANNEL_STAKEHOLDER = {"press": Stakeholder.MEDIA, "weibo": Stakeholder.PUBLIC, "wechat": Stakeholder.PUBLIC,
                       "website": Stakeholder.PUBLIC, "regulator": Stakeholder.REGULATORS, "staff": Stakeholder.STAFF,
                       "customers": Stakeholder.CUSTOMERS}


def publish_statement(number: str, statement_id, *, actor, channel: str, note: str = "", at=None) -> Publication:
    if channel not in PublicationChannel.values:
        alias = {c.label: c.value for c in PublicationChannel}
        if channel not in alias:
            raise Invalid(f"发布渠道「{channel}」无效，可选：{'、'.join(PublicationChannel.values)}",
                          f"Unknown channel {channel!r}", fields={"channel": "unknown"})
        channel = alias[channel]
    note = _text(note, field="note", label="链接/说明", max_len=500)
    with transaction.atomic(durable=True):
        c = access_crisis(actor, number, write=True, for_update=True)
        s = _statement(c, statement_id)
        access.require_statement_publisher(team_roles(c, actor))
        if s.status != StatementStatus.APPROVED:
            raise Conflict("只有已批准的声明可以发布", "Only an approved statement can be published",
                           code="not_approved")
        pub = Publication.objects.create(statement=s, channel=channel, actor=actor, note=note,
                                         published_at=at or timezone.now())
        Communication.objects.create(crisis=c, stakeholder=CHANNEL_STAKEHOLDER[channel], direction="out",
                                     channel=PublicationChannel(channel).label, actor=actor, at=pub.published_at,
                                     summary=f"发布{s.get_kind_display()} v{s.version}：{s.title}")
        if s.kind == StatementKind.HOLDING:
            ChecklistItem.objects.filter(crisis=c, step=CrisisStep.RESPOND, done_at__isnull=True,
                                         title__contains="初步声明").update(done_at=pub.published_at, done_by=actor)
        _event(c, "statement.published", actor=actor, after={"statement": s.pk, "kind": s.kind, "version": s.version,
                                                             "channel": channel}, note=note)
        return pub


def current_line(crisis: Crisis) -> str:
    """The approved line to take for agents: the approved Q&A, else the approved statement, else the crisis's line."""
    for kind in (StatementKind.QA, StatementKind.HOLDING, StatementKind.FULL):
        s = Statement.objects.filter(crisis=crisis, kind=kind, status=StatementStatus.APPROVED).order_by("-version").first()
        if s:
            return s.body
    return crisis.line_to_take


# ------------------------------------------------------------------ communications, enquiries

def log_communication(number: str, *, actor, stakeholder: str, summary: str, channel: str = "",
                      direction: str = "out", at=None) -> Communication:
    if stakeholder not in Stakeholder.values:
        alias = {s.label: s.value for s in Stakeholder}
        if stakeholder not in alias:
            raise Invalid(f"沟通对象「{stakeholder}」无效，可选：{'、'.join(Stakeholder.values)}",
                          f"Unknown stakeholder {stakeholder!r}", fields={"stakeholder": "unknown"})
        stakeholder = alias[stakeholder]
    if direction not in ("in", "out"):
        raise Invalid("方向应为 in 或 out", "direction must be in or out", fields={"direction": "invalid"})
    summary = _text(summary, field="summary", label="内容摘要", max_len=5000, required=True)
    channel = _text(channel, field="channel", label="方式", max_len=64)
    with transaction.atomic(durable=True):
        c = access_crisis(actor, number, write=True, for_update=True)
        m = Communication.objects.create(crisis=c, stakeholder=stakeholder, direction=direction, channel=channel,
                                         summary=summary, actor=actor, at=at or timezone.now())
        _event(c, "crisis.communication", actor=actor, after={"communication": m.pk, "stakeholder": stakeholder,
                                                              "direction": direction}, note=summary)
        return m


def add_enquiry(number: str, *, actor, from_name: str, question: str, organisation: str = "",
                stakeholder: str = Stakeholder.MEDIA) -> Enquiry:
    from_name = _text(from_name, field="from_name", label="来自", max_len=100, required=True)
    question = _text(question, field="question", label="问题", max_len=5000, required=True)
    organisation = _text(organisation, field="organisation", label="单位", max_len=100)
    if stakeholder not in Stakeholder.values:
        raise Invalid("沟通对象无效", "Unknown stakeholder", fields={"stakeholder": "unknown"})
    with transaction.atomic(durable=True):
        c = access_crisis(actor, number, write=True, for_update=True)
        e = Enquiry.objects.create(crisis=c, stakeholder=stakeholder, from_name=from_name, organisation=organisation,
                                   question=question)
        _event(c, "crisis.enquiry", actor=actor, after={"enquiry": e.pk, "from": from_name}, note=question)
        return e


def answer_enquiry(number: str, enquiry_id, *, actor, answer: str) -> Enquiry:
    answer = _text(answer, field="answer", label="答复", max_len=5000, required=True)
    with transaction.atomic(durable=True):
        c = access_crisis(actor, number, write=True, for_update=True)
        e = Enquiry.objects.filter(crisis=c, pk=enquiry_id).first()
        if e is None:
            raise NotFound("问询不存在", "Enquiry does not exist")
        e.answer, e.answered_by, e.answered_at = answer, actor, timezone.now()
        e.save()
        Communication.objects.create(crisis=c, stakeholder=e.stakeholder, direction="out", channel="答复问询",
                                     summary=f"答复 {e.from_name}{'（' + e.organisation + '）' if e.organisation else ''}：{answer[:500]}",
                                     actor=actor)
        _event(c, "crisis.enquiry_answered", actor=actor, after={"enquiry": e.pk}, note=answer)
        return e


# ------------------------------------------------------------------ review

def save_review(number: str, *, actor, what_worked=None, what_did_not=None, lessons=None) -> Review:
    with transaction.atomic(durable=True):
        c = access_crisis(actor, number, write=True, for_update=True)
        review, _ = Review.objects.get_or_create(crisis=c, defaults={"updated_by": actor})
        changed = {}
        for key, value in (("what_worked", what_worked), ("what_did_not", what_did_not), ("lessons", lessons)):
            if value is not None:
                new = _text(value, field=key, label=key)
                if new != getattr(review, key):
                    setattr(review, key, new)
                    changed[key] = new
        review.updated_at, review.updated_by = timezone.now(), actor
        review.save()
        if changed:
            _event(c, "crisis.review_updated", actor=actor, after={"fields": sorted(changed)})
        return review


def add_corrective_action(number: str, *, actor, title: str, owner, due_date) -> CorrectiveAction:
    title = _text(title, field="title", label="整改措施", max_len=TITLE_MAX, required=True)
    if not owner:
        raise Invalid("整改措施需要负责人", "A corrective action needs an owner", fields={"owner": "required"})
    owner = _resolve_user(owner, "owner")
    if isinstance(due_date, str):
        try:
            due_date = dt.date.fromisoformat(due_date.strip())
        except ValueError:
            due_date = None
    if not isinstance(due_date, dt.date):
        raise Invalid("整改措施需要完成期限（YYYY-MM-DD）", "A corrective action needs a due date (YYYY-MM-DD)",
                      fields={"due_date": "required"})
    with transaction.atomic(durable=True):
        c = access_crisis(actor, number, write=True, for_update=True)
        review, _ = Review.objects.get_or_create(crisis=c, defaults={"updated_by": actor})
        a = CorrectiveAction.objects.create(review=review, title=title, owner=owner, due_date=due_date)
        _event(c, "crisis.corrective_action", actor=actor, after={"action": a.pk, "title": title,
                                                                  "owner": owner.username,
                                                                  "due_date": due_date.isoformat()})
        return a
