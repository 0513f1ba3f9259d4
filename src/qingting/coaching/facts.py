"""The complaint's facts for 话术 templates (name, product, what was found, what we will do,
by when, hotline). Reads a Complaint object's attributes; imports no Django at module level."""
from __future__ import annotations


def _about_product(about) -> str:
    about = about if isinstance(about, dict) else {}
    parts = [str(about[k]) for k in ("brand", "series", "vehicle_model") if about.get(k)]
    if parts:
        return " ".join(parts)
    for key in ("product", "product_name", "store", "clinic"):
        if about.get(key):
            return str(about[key])
    return ""


def honorific(name: str) -> str:
    name = (name or "").strip()
    if not name or name == "匿名客户":
        return "您"
    if name.endswith(("先生", "女士", "小姐", "老师")) or len(name) > 4 or name.isascii():
        return name
    return name[0] + "先生/女士"


def complaint_facts(c, *, agent=None, due: str = "", extra: dict | None = None) -> dict:
    """Facts for coaching.drafts.make_draft; a missing one stays empty (shown as 【label】)."""
    from django.conf import settings

    from django.apps import apps
    from django.utils import timezone

    if not due and apps.is_installed("qingting.resolution") and getattr(c, "pk", None):
        from qingting.resolution.models import ImplementationTask

        task = ImplementationTask.objects.filter(complaint_id=c.pk, done_at__isnull=True).order_by("due_at").first()
        if task is not None:
            due = timezone.localtime(task.due_at).strftime("%m月%d日%H:%M")
    facts = {
        "customer_name": honorific(getattr(c.customer, "name", "") if getattr(c, "customer_id", None) else ""),
        "product": _about_product(getattr(c, "about", None)),
        "issue": (getattr(c, "subject", "") or "")[:80],
        "finding": (getattr(c, "facts", "") or "")[:300],
        "action": (getattr(c, "action_plan", "") or "")[:300],
        "due": due,
        "hotline": getattr(settings, "QINGTING_HOTLINE", ""),
        "org_name": getattr(settings, "QINGTING_ORG_NAME", ""),
        "agent_name": (agent.label if agent is not None and hasattr(agent, "label") else
                       (c.assignee.label if getattr(c, "assignee_id", None) else "")),
    }
    amount = getattr(c, "resolution_amount", None)
    if amount is not None:
        facts["compensation"] = f"{amount} 元"
    facts.update(extra or {})
    return {k: v for k, v in facts.items() if v not in (None, "")}
