"""Reads: complaint lists, detail output, timeline — always through `accounts.access`."""
from __future__ import annotations

import datetime as dt

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from qingting.accounts import access
from qingting.accounts.models import Department, User
from qingting.core.errors import Invalid
from qingting.core.pagination import keyset_page, priority_keyset_page
from qingting.core.fields import keys_as_text
from qingting.core.text import query_keys

from . import hooks, triage_link
from .models import Category, Channel, Complaint, ComplaintFlag, Event, Priority, Step, StepOwner, Transition

MAX_LIMIT = 200
FILTER_KEYS = {"q", "step", "priority", "category", "department", "assignee", "channel", "received_after",
               "received_before", "escalated", "open", "customer", "cursor", "limit", "emotion", "persona", "signal",
               "malicious", "sort"}
SORTS = {"recent", "priority"}


def _parse_when(value: str, field: str, *, end: bool) -> dt.datetime:
    value = (value or "").strip()
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            moment = dt.datetime.combine(day + dt.timedelta(days=1) if end else day, dt.time.min)
            return timezone.make_aware(moment, timezone.get_default_timezone())
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"{field} 日期格式不正确（YYYY-MM-DD 或 ISO 8601）",
                      f"{field} must be a date (YYYY-MM-DD) or an ISO 8601 time", fields={field: "invalid date"}) from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


def parse_filters(params: dict) -> dict:
    """Validate list filters; unknown values are a 422, never silently ignored."""
    errors: dict[str, str] = {}
    out: dict = {}
    unknown = set(params) - FILTER_KEYS
    if unknown:
        errors.update({k: "unknown filter" for k in unknown})
    for key in ("emotion", "persona", "signal"):
        if params.get(key):
            value = str(params[key]).strip()
            if not value.replace("_", "").isalnum() or len(value) > 24:
                errors[key] = "invalid code"
            out[key] = value
    if params.get("sort"):
        if params["sort"] not in SORTS:
            errors["sort"] = "recent or priority"
        out["sort"] = params["sort"]
    for key in ("step", "category", "department", "assignee", "customer", "q", "cursor"):
        if params.get(key) not in (None, ""):
            out[key] = str(params[key])[:200]
    if params.get("priority"):
        values = [v.strip().upper() for v in str(params["priority"]).split(",") if v.strip()]
        bad = [v for v in values if v not in Priority.values]
        if bad:
            errors["priority"] = f"unknown priority {', '.join(bad)} (P1–P4)"
        out["priority"] = values
    if params.get("channel"):
        values = [v.strip() for v in str(params["channel"]).split(",") if v.strip()]
        bad = [v for v in values if v not in Channel.values]
        if bad:
            errors["channel"] = f"unknown channel {', '.join(bad)}"
        out["channel"] = values
    for key, end in (("received_after", False), ("received_before", True)):
        if params.get(key):
            try:
                out[key] = _parse_when(str(params[key]), key, end=end)
            except Invalid as exc:
                errors[key] = exc.en
    for key in ("escalated", "open", "malicious"):
        if params.get(key) not in (None, ""):
            raw = str(params[key]).lower()
            if raw not in ("1", "0", "true", "false", "yes", "no"):
                errors[key] = "expected true/false"
            out[key] = raw in ("1", "true", "yes")
    limit = params.get("limit") or 50
    try:
        limit = int(limit)
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError
    except (TypeError, ValueError):
        errors["limit"] = f"1–{MAX_LIMIT}"
        limit = 50
    out["limit"] = limit
    if errors:
        raise Invalid("筛选条件有误：" + "；".join(f"{k}: {v}" for k, v in errors.items()),
                      "Invalid filters: " + "; ".join(f"{k}: {v}" for k, v in errors.items()),
                      code="invalid_filter", fields=errors)
    return out


def apply_text_search(qs, q: str):
    keys = query_keys(q)
    if not keys:
        return qs
    if connection.vendor == "postgresql":  # the GIN index complaint_search_keys_gin
        return qs.extra(where=["complaints_complaint.search_keys @> %s::bigint[]"], params=[keys])
    return qs.extra(where=["complaints_complaint.search_keys LIKE %s"] * len(keys),
                    params=[f"%{keys_as_text([k])}%" for k in keys])


def filtered_complaints(user, filters: dict):
    qs = access.complaints_for(user)
    if filters.get("q"):
        q = filters["q"].strip()
        exact = Q(number=q) | Q(tracking_code=q.upper())
        if Complaint.objects.filter(exact).exists():
            qs = qs.filter(exact)
        else:
            qs = apply_text_search(qs, q)
    if filters.get("step"):
        codes = [s.strip() for s in filters["step"].split(",")]
        qs = qs.filter(step__in=Step.objects.filter(Q(code__in=codes) | Q(name__in=codes)).values("id"))
    if filters.get("priority"):
        qs = qs.filter(priority__in=filters["priority"])
    if filters.get("channel"):
        qs = qs.filter(channel__in=filters["channel"])
    if filters.get("category"):
        cat = Category.objects.filter(Q(code=filters["category"]) | Q(name=filters["category"])).first()
        if cat is None:
            raise Invalid(f"投诉类别「{filters['category']}」不存在", "Unknown category", fields={"category": "unknown"})
        ids = [cat.pk] + list(Category.objects.filter(parent=cat).values_list("id", flat=True))
        qs = qs.filter(category_id__in=ids)
    if filters.get("department"):
        dept = Department.objects.filter(code=filters["department"]).first()
        if dept is None:
            raise Invalid(f"部门「{filters['department']}」不存在", "Unknown department", fields={"department": "unknown"})
        qs = qs.filter(department__in=Department.objects.filter(path__startswith=dept.path).values("id"))
    if filters.get("assignee"):
        name = filters["assignee"]
        if name == "none":
            qs = qs.filter(assignee__isnull=True)
        else:
            who = user if name == "me" else User.objects.filter(username=name).first()
            if who is None:
                raise Invalid(f"用户「{name}」不存在", "Unknown assignee", fields={"assignee": "unknown"})
            qs = qs.filter(assignee=who)
    if filters.get("customer"):
        try:
            qs = qs.filter(customer_id=int(filters["customer"]))
        except ValueError:
            raise Invalid("客户编号无效", "customer must be an id", fields={"customer": "invalid"}) from None
    if filters.get("emotion"):
        qs = qs.filter(emotion=filters["emotion"])
    if filters.get("persona") == triage_link.ORDINARY_PERSONA:  # no flag rows: the column says it
        qs = qs.filter(persona=triage_link.ORDINARY_PERSONA)
    elif filters.get("persona"):
        qs = qs.filter(pk__in=ComplaintFlag.objects.filter(kind="persona", code=filters["persona"]).values("complaint_id"))
    if filters.get("signal"):
        qs = qs.filter(pk__in=ComplaintFlag.objects.filter(kind="signal", code=filters["signal"]).values("complaint_id"))
    if "malicious" in filters:
        qs = qs.filter(suspected_malicious=filters["malicious"])
    if "escalated" in filters:
        qs = qs.filter(escalation_level__gt=0) if filters["escalated"] else qs.filter(escalation_level=0)
    if "open" in filters:
        qs = qs.filter(closed_at__isnull=filters["open"])
    if filters.get("received_after"):
        qs = qs.filter(received_at__gte=filters["received_after"])
    if filters.get("received_before"):
        qs = qs.filter(received_at__lt=filters["received_before"])
    return qs


def complaint_page(user, params: dict):
    filters = parse_filters(params)
    qs = filtered_complaints(user, filters).select_related("step", "category", "department", "assignee", "customer")
    qs = qs.defer("description", "search_keys", "triage", "facts", "action_plan", "root_cause", "lessons_learned")
    return paginate(qs, filters)


def paginate(qs, filters: dict):
    """One page in the requested order (newest first, or most urgent first), keyset-paged."""
    limit = filters.get("limit") or 50
    if filters.get("sort") == "priority":
        return priority_keyset_page(qs, cursor=filters.get("cursor"), limit=limit)
    return keyset_page(qs, cursor=filters.get("cursor"), limit=limit)


def list_item(c: Complaint) -> dict:
    return {"number": c.number, "subject": c.subject, "channel": c.channel, "priority": c.priority,
            "received_at": c.received_at, "step": {"code": c.step.code, "name": c.step.name},
            "category": {"code": c.category.code, "name": c.category.name} if c.category_id else None,
            "department": {"code": c.department.code, "name": c.department.name} if c.department_id else None,
            "assignee": c.assignee.username if c.assignee_id else None, "customer_name": c.customer.name,
            "closed_at": c.closed_at, "escalation_level": c.escalation_level, "emotion": c.emotion or None,
            "emotion_intensity": c.emotion_intensity, "persona": c.persona or None,
            "suspected_malicious": c.suspected_malicious}


def steps_of(c: Complaint) -> list[dict]:
    return [{"code": s.code, "name": s.name, "position": s.position,
             "state": "done" if s.position < c.step.position or c.is_closed else
             ("current" if s.pk == c.step_id else "todo")}
            for s in Step.objects.filter(variant=c.variant_id).order_by("position")]


def allowed_transitions(c: Complaint, user) -> list[dict]:
    role = access.role_of(user)
    out = []
    for t in Transition.objects.filter(from_step=c.step_id).select_related("to_step").order_by("to_step__position"):
        if t.roles and role not in t.roles:
            continue
        out.append({"to": t.to_step.code, "name": t.to_step.name, "kind": t.kind, "guards": t.guards,
                    "overridable": role in (t.override_roles or [])})
    return out


def complaint_detail(c: Complaint, user) -> dict:
    owner = StepOwner.objects.filter(complaint=c, step=c.step_id).select_related("owner").first()
    cat = None
    if c.category_id:
        cat = {"code": c.category.code, "name": c.category.name, "level": c.category.level,
               "parent": {"code": c.category.parent.code, "name": c.category.parent.name} if c.category.parent_id else None}
    out = {
        "number": c.number, "tracking_code": c.tracking_code, "channel": c.channel,
        "channel_name": c.get_channel_display(), "received_at": c.received_at, "created_at": c.created_at,
        "updated_at": c.updated_at, "subject": c.subject, "description": c.description,
        "customer": {"id": c.customer_id, "name": c.customer.name, "mobile": c.customer.mobile,
                     "email": c.customer.email, "tags": c.customer.tags},
        "profile": {"code": c.profile.code, "name": c.profile.name}, "about": c.about,
        "department": {"code": c.department.code, "name": c.department.name} if c.department_id else None,
        "category": cat, "category_confirmed": c.category_confirmed, "priority": c.priority,
        "variant": {"code": c.variant.code, "name": c.variant.name},
        "step": {"code": c.step.code, "name": c.step.name, "position": c.step.position},
        "steps": steps_of(c), "allowed_transitions": allowed_transitions(c, user),
        "assignee": c.assignee.username if c.assignee_id else None,
        "step_owner": owner.owner.username if owner and owner.owner_id else None,
        "facts": c.facts, "action_plan": c.action_plan, "resolution_type": c.resolution_type or None,
        "resolution_amount": c.resolution_amount, "customer_answer": c.customer_answer or None,
        "refusal_count": c.refusal_count, "root_cause": c.root_cause, "lessons_learned": c.lessons_learned,
        "closed_at": c.closed_at, "reopen_count": c.reopen_count, "escalation_level": c.escalation_level,
        "escalated_to": c.escalated_to.username if c.escalated_to_id else None,
        "triage": c.triage or {}, "version": c.version, "deadlines": [], "extra": {},
    }
    for extra in hooks.output_extras:
        out.update(extra(c, user) or {})
    return out


def timeline(c: Complaint, *, customer_only: bool = False):
    qs = Event.objects.filter(complaint=c).select_related("actor").order_by("at", "id")
    if customer_only:
        qs = qs.filter(customer_visible=True)
    return qs


def event_dict(e: Event) -> dict:
    return {"id": e.pk, "at": e.at, "kind": e.kind, "actor": e.actor.username if e.actor_id else None,
            "before": e.before, "after": e.after, "note": e.note, "customer_visible": e.customer_visible}


def recent_for_customer(user, customer_id: int, *, limit: int = 5):
    return access.complaints_for(user).filter(customer_id=customer_id).select_related("step").order_by("-received_at")[:limit]
