"""Coaching API: the live reply checker and the reply assistant's draft."""
from __future__ import annotations

from ninja import Router, Schema

from qingting.accounts import access
from qingting.core.errors import Invalid

from . import assistant
from .checker import check_reply

router = Router(tags=["coaching"])
MAX_TEXT = 1_000_000


class ReplyCheckIn(Schema):
    text: str
    lang: str | None = None
    fault: bool | None = None
    public: bool | None = None
    channel: str | None = None
    number: str | None = None  # a complaint: its channel and the caller's approval limit apply


class DraftIn(Schema):
    step: str | None = None
    channel: str | None = None
    persona: str | None = None
    emotion: str | None = None
    rephrase: bool = False


@router.post("/coaching/reply-check")
def reply_check(request, payload: ReplyCheckIn):
    """Score a reply 0–100 with findings and their spans (what is missing, what is risky).
    Long texts are checked up to the checker's bound (`truncated` says so)."""
    if len(payload.text) > MAX_TEXT:
        raise Invalid("答复过长（最多 100 万字）", "The reply is too long (at most 1,000,000 characters)",
                      fields={"text": "too long"})
    ctx = {}
    if payload.number:
        c = access.access_complaint(request.auth, payload.number)
        ctx = assistant.check_context(c, request.auth)
    if payload.fault is not None:
        ctx["fault"] = payload.fault
    if payload.public is not None:
        ctx["public"] = payload.public
    if payload.channel:
        ctx["channel"] = payload.channel
    lang = payload.lang if payload.lang in ("zh", "en") else None
    return check_reply(payload.text, lang=lang, context=ctx).to_dict()


@router.post("/coaching/complaints/{number}/draft")
def draft(request, number: str, payload: DraftIn):
    """A 话术 draft for the complaint's current step (or `step`), channel and persona/emotion,
    filled with its facts; optionally rephrased by the organisation's LLM endpoint (always
    re-checked)."""
    c = access.access_complaint(request.auth, number)
    return assistant.draft_for(c, request.auth, **payload.model_dump())
