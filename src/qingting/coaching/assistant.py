"""The reply assistant for one complaint (Django side): draft, optional rephrase, check."""
from __future__ import annotations

import logging

from django.apps import apps

from . import llm
from .checker import check_reply
from .drafts import CHANNELS, EMOTIONS, PERSONAS, STEPS, make_draft
from .facts import complaint_facts

log = logging.getLogger(__name__)


def persona_emotion(c) -> tuple[str | None, str | None]:
    t = c.triage if isinstance(c.triage, dict) else {}
    persona = None
    if isinstance(t.get("personas"), list) and t["personas"]:
        p = t["personas"][0]
        persona = p.get("code") if isinstance(p, dict) else str(p)
    e = t.get("emotion")
    emotion = e.get("code") if isinstance(e, dict) else (e if isinstance(e, str) else None)
    return (persona if persona in PERSONAS else None), (emotion if emotion in EMOTIONS else None)


def _fault(c):
    code = c.category.parent.code if c.category_id and c.category.parent_id else (c.category.code if c.category_id else "")
    return True if code in ("service_attitude", "product_quality") else None


def approval_limit(user):
    if apps.is_installed("qingting.resolution"):
        from qingting.resolution.services import limit_for

        limit = limit_for(user)
        return float(limit) if limit is not None else None
    return None


def check_context(c, user) -> dict:
    ctx = {"channel": c.channel, "fault": _fault(c)}
    limit = approval_limit(user)
    if limit is not None:
        ctx["approval_limit"] = limit
    return ctx


def draft_for(c, user, *, step=None, channel=None, persona=None, emotion=None, rephrase=False) -> dict:
    auto_persona, auto_emotion = persona_emotion(c)
    step = step if step in STEPS else c.step.code
    channel = channel if channel in CHANNELS else c.channel
    persona = persona if persona in PERSONAS else auto_persona
    emotion = emotion if emotion in EMOTIONS else auto_emotion
    d = make_draft(step, channel=channel, persona=persona, emotion=emotion, facts=complaint_facts(c, agent=user))
    text, rephrased = d.text, False
    if rephrase and llm.enabled():
        out = llm.rephrase(d.text)
        if out:
            text, rephrased = out, True
    ctx = check_context(c, user)
    return {"template_id": d.template_id, "step": step, "channel": channel, "persona": persona, "emotion": emotion,
            "text": text, "draft": d.text, "rephrased": rephrased, "llm_enabled": llm.enabled(),
            "missing": d.missing, "card": d.card, "check": check_reply(text, context=ctx).to_dict()}
