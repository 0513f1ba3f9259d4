"""Reads for the crisis pages and API. Complaints are always read through `accounts.access`
(a supervisor sees only the member complaints of their own subtree)."""
from __future__ import annotations

import datetime as dt
from collections import Counter, OrderedDict

from django.db.models import Count, Q
from django.utils import timezone

from qingting.accounts import access
from qingting.complaints.models import Complaint

from . import warning
from .models import (
    STEP_ORDER,
    ChecklistItem,
    Crisis,
    CrisisEvent,
    CrisisLink,
    CrisisProposal,
    CrisisStep,
    CrisisTask,
    CrisisType,
    Hotspot,
    HotspotStatus,
    PlaybookItem,
    ProposalStatus,
    Review,
    Statement,
    StatementStatus,
)


def hotspots_for(user, *, status: str | None = "active", limit: int = 200):
    access.require_crisis_view(user)
    qs = Hotspot.objects.select_related("crisis")
    if status == "active":
        qs = qs.filter(status__in=[HotspotStatus.OPEN, HotspotStatus.ACKNOWLEDGED])
    elif status and status != "all":
        qs = qs.filter(status=status)
    return list(qs.order_by("-score", "-last_fired_at")[:limit])


def hotspot_detail(user, hotspot_id) -> dict:
    access.require_crisis_view(user)
    h = Hotspot.objects.select_related("crisis", "status_by").filter(pk=hotspot_id).first()
    if h is None:
        from qingting.core.errors import NotFound

        raise NotFound(f"热点 {hotspot_id} 不存在", f"Hotspot {hotspot_id} does not exist")
    members = list(access.complaints_for(user, Complaint.objects.filter(hotspot_links__hotspot=h))
                   .select_related("customer", "department", "category", "step").order_by("-received_at")[:500])
    places, products = Counter(), Counter()
    for c in members:
        about = c.about if isinstance(c.about, dict) else {}
        for k in warning.PLACE_KEYS:
            if about.get(k):
                places[str(about[k])] += 1
        if c.department_id:
            places[c.department.name] += 1
        prod = " ".join(str(about[k]) for k in warning.PRODUCT_KEYS if about.get(k))
        if prod:
            products[prod] += 1
    return {"hotspot": h, "members": members, "member_total": h.members.count(),
            "places": places.most_common(10), "products": products.most_common(10),
            "spark": sparkline(h.series)}


def sparkline(series, width: int = 160, height: int = 32) -> dict:
    vals = [int(v) for _, v in (series or [])]
    if not vals:
        return {"points": "", "max": 0, "total": 0}
    top = max(vals) or 1
    step = width / max(1, len(vals) - 1)
    pts = " ".join(f"{i * step:.1f},{height - (v / top) * (height - 2) - 1:.1f}" for i, v in enumerate(vals))
    return {"points": pts, "max": top, "total": sum(vals), "width": width, "height": height}


def proposals_for(user, *, status: str = ProposalStatus.PROPOSED):
    access.require_crisis_view(user)
    qs = CrisisProposal.objects.select_related("rule", "hotspot", "crisis", "decided_by")
    if status != "all":
        qs = qs.filter(status=status)
    return list(qs[:200])


def crises_for(user, *, open_only: bool = False, q: str = ""):
    access.require_crisis_view(user)
    qs = Crisis.objects.select_related("crisis_type", "severity").annotate(
        n_linked=Count("links", filter=Q(links__unlinked_at__isnull=True)))
    if open_only:
        qs = qs.exclude(status=CrisisStep.CLOSED)
    if q:
        qs = qs.filter(Q(title__icontains=q) | Q(number__icontains=q) | Q(summary__icontains=q))
    return list(qs[:500])


def linked_complaints(user, crisis: Crisis, limit: int = 500):
    return list(access.complaints_for(user, Complaint.objects.filter(
        crisis_links__crisis=crisis, crisis_links__unlinked_at__isnull=True))
        .select_related("customer", "step", "assignee", "department").order_by("-received_at")[:limit])


def crisis_context(user, crisis: Crisis) -> dict:
    now = timezone.now()
    checklist = list(ChecklistItem.objects.filter(crisis=crisis).select_related("owner", "done_by"))
    by_step = OrderedDict((s, []) for s in STEP_ORDER[:-1])
    for item in checklist:
        item.overdue = bool(item.due_at and not item.done_at and item.due_at < now)
        by_step.setdefault(item.step, []).append(item)
    statements = list(Statement.objects.filter(crisis=crisis).select_related("drafted_by", "reviewed_by", "approved_by")
                      .prefetch_related("publications"))
    review = Review.objects.filter(crisis=crisis).prefetch_related("actions__owner").first()
    from .services import current_line, review_problems, team_roles

    return {
        "crisis": crisis, "steps": [(s.value, s.label) for s in CrisisStep], "current_index": STEP_ORDER.index(crisis.status),
        "checklist_by_step": [(code, CrisisStep(code).label, items) for code, items in by_step.items()],
        "team": list(crisis.team.select_related("user").order_by("role", "id")),
        "my_roles": team_roles(crisis, user),
        "tasks": list(CrisisTask.objects.filter(crisis=crisis).select_related("department", "owner")),
        "decisions": list(crisis.decisions.select_related("actor")),
        "events": list(CrisisEvent.objects.filter(crisis=crisis).select_related("actor").order_by("at", "id")),
        "linked": linked_complaints(user, crisis),
        "linked_total": CrisisLink.objects.filter(crisis=crisis, unlinked_at__isnull=True).count(),
        "statements": statements, "communications": list(crisis.communications.select_related("actor")[:200]),
        "enquiries": list(crisis.enquiries.select_related("answered_by")),
        "mass_actions": list(crisis.mass_actions.select_related("actor")[:20]),
        "review": review, "review_problems": review_problems(crisis), "line": current_line(crisis),
        "hotspots": list(crisis.hotspots.all()),
        "dashboard": dashboard(user, crisis),
    }


def dashboard(user, crisis: Crisis) -> dict:
    """Linked complaints per day (per hour for the first 3 days), their steps, emotion trend,
    overdue checklist items and tasks, statement status."""
    now = timezone.now()
    rows = list(Complaint.objects.filter(crisis_links__crisis=crisis, crisis_links__unlinked_at__isnull=True)
                .values_list("received_at", "step__name", "emotion", "emotion_intensity"))
    start = crisis.opened_at
    hourly = (now - start) < dt.timedelta(days=3)
    per = Counter()
    steps = Counter()
    emotion = {}
    for at, step, emo, inten in rows:
        key = timezone.localtime(at).strftime("%m-%d %H:00" if hourly else "%Y-%m-%d")
        per[key] += 1
        steps[step] += 1
        day = timezone.localtime(at).strftime("%Y-%m-%d")
        e = emotion.setdefault(day, [0.0, 0, Counter()])
        e[0] += inten or 0.0
        e[1] += 1
        if emo:
            e[2][emo] += 1
    series = sorted(per.items())
    top = max((v for _, v in series), default=0) or 1
    overdue_items = ChecklistItem.objects.filter(crisis=crisis, done_at__isnull=True, due_at__lt=now).count()
    overdue_tasks = CrisisTask.objects.filter(crisis=crisis, done_at__isnull=True, due_at__lt=now).count()
    stm = {}
    for s in Statement.objects.filter(crisis=crisis).order_by("kind", "-version"):
        stm.setdefault(s.get_kind_display(), f"v{s.version} {s.get_status_display()}"
                       + (f"，已发布 {s.publications.count()} 次" if s.status == StatementStatus.APPROVED else ""))
    return {"per": [(k, v, round(100 * v / top)) for k, v in series], "hourly": hourly, "steps": steps.most_common(),
            "emotion": [(d, round(v[0] / v[1], 2) if v[1] else 0, v[2].most_common(1)[0][0] if v[2] else "")
                        for d, v in sorted(emotion.items())],
            "overdue_items": overdue_items, "overdue_tasks": overdue_tasks, "statements": stm, "total": len(rows)}


def handbook(user, q: str = "") -> dict:
    """危机处理手册: every review (closed crises first) and the playbooks, searchable."""
    access.require_crisis_view(user)
    reviews = Review.objects.select_related("crisis__crisis_type", "crisis__severity").prefetch_related("actions__owner")
    items = PlaybookItem.objects.select_related("crisis_type")
    if q:
        reviews = reviews.filter(Q(what_worked__icontains=q) | Q(what_did_not__icontains=q) | Q(lessons__icontains=q) |
                                 Q(crisis__title__icontains=q) | Q(crisis__summary__icontains=q) |
                                 Q(actions__title__icontains=q)).distinct()
        items = items.filter(Q(title__icontains=q) | Q(guidance__icontains=q) | Q(crisis_type__name__icontains=q))
    playbooks = OrderedDict()
    playbooks["通用（所有类型）"] = []
    for t in CrisisType.objects.filter(active=True):
        playbooks[t.name] = []
    for it in items.order_by("position", "id"):
        playbooks.setdefault(it.crisis_type.name if it.crisis_type_id else "通用（所有类型）", []).append(it)
    return {"reviews": list(reviews.order_by("-crisis__closed_at")), "playbooks": [(k, v) for k, v in playbooks.items() if v],
            "q": q}


def crisis_banner_for(complaint) -> dict | None:
    """For the complaint page: the open crises this complaint belongs to and the approved line to take."""
    from .services import current_line

    links = list(CrisisLink.objects.filter(complaint=complaint, unlinked_at__isnull=True)
                 .exclude(crisis__status=CrisisStep.CLOSED).select_related("crisis__severity", "crisis__crisis_type"))
    if not links:
        return None
    return {"crises": [{"crisis": l.crisis, "line": current_line(l.crisis), "offer": l.offer, "tags": l.tags}
                       for l in links]}
