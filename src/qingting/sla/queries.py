"""SLA reads, always through `accounts.access`."""
from __future__ import annotations

from django.db.models import Min, OuterRef, Q, Subquery
from django.utils import timezone

from qingting.accounts import access

from .models import Deadline

S = Deadline.State
OPEN = Q(state__in=[S.RUNNING, S.PAUSED]) | Q(state=S.BREACHED, met_at__isnull=True)


def with_next_due(qs):
    """Annotate complaints with `next_due_at` (earliest open deadline) for queues sorted by time left."""
    sub = (Deadline.objects.filter(OPEN, complaint=OuterRef("pk")).order_by().values("complaint")
           .annotate(m=Min("due_at")).values("m"))
    return qs.annotate(next_due_at=Subquery(sub))


def panel_for(user, *, sort: str = "due", scope: str = "all", now=None, limit: int = 500) -> list[dict]:
    """At-risk and breached deadlines of open complaints the user may see (supervisor panel)."""
    now = now or timezone.now()
    visible = access.complaints_for(user).filter(closed_at__isnull=True)
    risk = Q(state=S.RUNNING, at_risk_at__lte=now)
    breached = Q(state=S.BREACHED, met_at__isnull=True) | Q(state=S.RUNNING, due_at__lte=now)
    cond = {"at_risk": risk & Q(due_at__gt=now), "breached": breached}.get(scope, risk | breached)
    qs = (Deadline.objects.filter(cond, complaint__in=visible.values("pk"))
          .select_related("complaint", "complaint__assignee", "complaint__escalated_to", "complaint__step"))
    order = {"due": ["due_at", "id"], "-due": ["-due_at", "-id"], "priority": ["complaint__priority", "due_at"]}
    qs = qs.order_by(*order.get(sort, order["due"]))[:limit]
    rows = []
    for d in qs:
        c = d.complaint
        state = "breached" if d.due_at <= now or d.state == S.BREACHED else "at_risk"
        rows.append({"number": c.number, "subject": c.subject, "priority": c.priority, "kind": d.kind,
                     "label": d.label, "state": state, "due_at": d.due_at,
                     "seconds_left": int((d.due_at - now).total_seconds()), "step": c.step,
                     "assignee": c.assignee.username if c.assignee_id else None,
                     "assignee_label": c.assignee.label if c.assignee_id else "",
                     "escalated_to": c.escalated_to.username if c.escalated_to_id else None,
                     "escalation_level": c.escalation_level})
    return rows
