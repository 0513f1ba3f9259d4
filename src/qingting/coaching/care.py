"""Care for the handlers: exposure to hostile complaints, break suggestions, thanks collected.

Hostility is read defensively from the triage snapshot: emotion intensity (0–1), insults and
threats (evidence rules `intensity.insult` / `intensity.threat`, crisis signals such as
violence or self-harm)."""
from __future__ import annotations

import datetime as dt

from django.apps import apps
from django.db.models import Q
from django.utils import timezone

from qingting.accounts import access
from qingting.accounts.models import Role, User

HOSTILE_INTENSITY = 0.6
VERY_HOSTILE_INTENSITY = 0.8
THREAT_SIGNALS = {"violence", "self_harm", "threat", "extreme"}
PROMPT_HOSTILE = 5       # hostile complaints in a week before the supervisor is prompted
PROMPT_VERY_HOSTILE = 2
THANKS_WORDS = ("谢谢", "感谢", "辛苦了", "满意", "thank")


def hostility(triage) -> dict:
    t = triage if isinstance(triage, dict) else {}
    emotion = t.get("emotion") if isinstance(t.get("emotion"), dict) else {}
    try:
        intensity = max(0.0, min(1.0, float(emotion.get("intensity") or 0)))
    except (TypeError, ValueError):
        intensity = 0.0
    insults = threats = 0
    for ev in emotion.get("evidence") or []:
        rule = str(ev.get("rule", "")) if isinstance(ev, dict) else ""
        insults += rule.endswith("insult")
        threats += rule.endswith("threat")
    for s in t.get("signals") or []:
        code = s.get("code") if isinstance(s, dict) else s
        threats += code in THREAT_SIGNALS
    very = intensity >= VERY_HOSTILE_INTENSITY or insults >= 2 or (insults and threats)
    return {"intensity": round(intensity, 2), "insults": insults, "threats": threats,
            "hostile": bool(very or intensity >= HOSTILE_INTENSITY or insults or threats), "very_hostile": bool(very)}


def week_start(now=None) -> dt.datetime:
    now = timezone.localtime(now or timezone.now())
    return (now - dt.timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)


def _handled(agent_ids, since):
    """(agent id, complaint) pairs an agent worked on since `since` (acted on or assigned)."""
    from qingting.complaints.models import Complaint, Event

    pairs = set(Event.objects.filter(actor_id__in=agent_ids, at__gte=since).values_list("actor_id", "complaint_id"))
    pairs |= set(Complaint.objects.filter(assignee_id__in=agent_ids).filter(
        Q(received_at__gte=since) | Q(updated_at__gte=since)).values_list("assignee_id", "id"))
    triage = dict(Complaint.objects.filter(id__in={c for _, c in pairs}).values_list("id", "triage"))
    return pairs, triage


def team_exposure(user, *, now=None) -> list[dict]:
    """This week's exposure per agent the user supervises (or everyone, for managers)."""
    since = week_start(now)
    agents = User.objects.filter(is_active=True, role__in=[Role.AGENT, Role.SUPERVISOR])
    if not access.sees_everything(user):
        agents = agents.filter(department__path__startswith=user.department.path) if user.department_id \
            else agents.filter(pk=user.pk)
    agents = list(agents.order_by("display_name", "username")[:500])
    pairs, triage = _handled([a.pk for a in agents], since)
    rows = []
    for a in agents:
        mine = [hostility(triage.get(cid)) for aid, cid in pairs if aid == a.pk]
        row = {"agent": a, "handled": len(mine), "hostile": sum(h["hostile"] for h in mine),
               "very_hostile": sum(h["very_hostile"] for h in mine), "insults": sum(h["insults"] for h in mine),
               "threats": sum(h["threats"] for h in mine),
               "max_intensity": max((h["intensity"] for h in mine), default=0.0)}
        row["prompt"] = row["hostile"] >= PROMPT_HOSTILE or row["very_hostile"] >= PROMPT_VERY_HOSTILE
        rows.append(row)
    rows.sort(key=lambda r: (-r["very_hostile"], -r["hostile"], r["agent"].username))
    return rows


def break_suggestion(complaint, user) -> dict | None:
    """After a very hostile case: a short break and the self-care tips (None otherwise)."""
    h = hostility(getattr(complaint, "triage", None))
    if not h["very_hostile"]:
        return None
    from .drafts import self_care_tips

    try:
        tips = self_care_tips("zh")
    except Exception:  # noqa: BLE001
        tips = []
    return {"hostility": h, "tips": tips[:6]}


def thanks_for(user, *, limit: int = 50) -> list[dict]:
    """Thanks from customers on complaints the user handled: satisfied surveys, satisfied
    follow-up visits, thank-you messages."""
    from qingting.complaints.models import Message

    out = []
    if apps.is_installed("qingting.intake"):
        from qingting.intake.models import SatisfactionSurvey

        for s in SatisfactionSurvey.objects.filter(complaint__assignee=user, stars__gte=4).select_related(
                "complaint").order_by("-created_at")[:limit]:
            out.append({"at": s.created_at, "complaint": s.complaint, "kind": "survey",
                        "text": s.comment or f"{s.stars} 星好评", "stars": s.stars})
    if apps.is_installed("qingting.resolution"):
        from qingting.resolution.models import FollowUp

        for f in FollowUp.objects.filter(done_by=user, outcome="satisfied").select_related("complaint").order_by(
                "-done_at")[:limit]:
            out.append({"at": f.done_at, "complaint": f.complaint, "kind": "followup",
                        "text": f.notes or "回访满意", "stars": None})
    q = Q()
    for w in THANKS_WORDS:
        q |= Q(body__icontains=w)
    for m in Message.objects.filter(direction="in", complaint__assignee=user).filter(q).select_related(
            "complaint").order_by("-created_at")[:limit]:
        out.append({"at": m.created_at, "complaint": m.complaint, "kind": "message", "text": m.body[:300],
                    "stars": None})
    out.sort(key=lambda r: r["at"], reverse=True)
    return out[:limit]
