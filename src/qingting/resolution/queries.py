"""Reads for pages and the API (the complaint is always fetched through accounts.access first)."""
from __future__ import annotations

import logging

from django.utils import timezone

from qingting.accounts import access

from . import catalogue, services, similar
from .models import (ApprovalRequest, Case, CorrectiveAction, FollowUp, ImplementationTask, NegotiationRound,
                     ResolutionPlan, RootCause)

log = logging.getLogger(__name__)


def panel_data(c, user) -> dict:
    """Everything the resolution panel shows for one complaint."""
    plans = list(ResolutionPlan.objects.filter(complaint=c).select_related("created_by").order_by("-id")[:50])
    approvals = {a.plan_id: a for a in ApprovalRequest.objects.filter(complaint=c).select_related(
        "requested_by", "decided_by")}
    rounds: dict[int, list] = {}
    for r in NegotiationRound.objects.filter(complaint=c).select_related("recorded_by").order_by("at", "id"):
        rounds.setdefault(r.plan_id, []).append(r)
    tasks: dict[int, list] = {}
    for t in ImplementationTask.objects.filter(complaint=c).select_related("owner").order_by("due_at"):
        tasks.setdefault(t.plan_id, []).append(t)
    scope = {i["code"]: i for i in catalogue.scope_for(c.profile.code)}
    now = timezone.now()
    rows = []
    for p in plans:
        a = approvals.get(p.pk)
        rows.append({"plan": p, "approval": a, "rounds": rounds.get(p.pk, []), "tasks": tasks.get(p.pk, []),
                     "scope_names": [scope.get(s, {}).get("name", s) for s in p.scope_items],
                     "may_decide": bool(a and a.state == ApprovalRequest.State.PENDING and services.may_decide(user, a)),
                     "may_answer": p.state in (ResolutionPlan.State.APPROVED, ResolutionPlan.State.COUNTERED)})
    followups = list(FollowUp.objects.filter(complaint=c).select_related("assigned_to", "done_by", "flagged_to")
                     .order_by("-id")[:20])
    open_fu = next((f for f in followups if f.state == FollowUp.State.SCHEDULED), None)
    limit = services.limit_for(user)
    return {
        "plans": rows, "options": catalogue.options(), "scope": list(scope.values()),
        "compensation_kinds": catalogue.load_catalogue()["compensation_kinds"],
        "limit": limit, "limit_text": "不限" if limit is None else f"¥{limit}",
        "followups": followups, "open_followup": open_fu,
        "script": services.call_script(c, open_fu) if open_fu else "",
        "root_cause": RootCause.objects.filter(complaint=c).first(),
        "root_causes": catalogue.root_causes(), "touchpoints": catalogue.touchpoints_for(c.profile.code),
        "actions": list(CorrectiveAction.objects.filter(complaint=c).select_related("owner", "checked_by")
                        .order_by("due_at")),
        "in_library": Case.objects.filter(complaint=c).first(),
        "may_write": access.may_write(user), "is_supervisor": access.is_supervising(user),
        "now": now, "closed": c.is_closed, "step": c.step.code,
    }


def similar_for(c, user, *, k: int = 5) -> dict:
    """Top k library cases like this complaint: by meaning (embeddings, else TF-IDF), boosted by
    the same category and product. Returns {"backend", "items": [{case, score, meaning}]}."""
    text = f"{c.subject}\n{c.description}"
    category = c.category.code if c.category_id else ""
    parent = c.category.parent.code if c.category_id and c.category.parent_id else ""
    product = services._product_of(c)
    own = Case.objects.filter(complaint=c).values_list("id", flat=True).first()
    embedder = similar.get_embedder()
    backend, ids, base, cands = "tfidf", [], None, []
    if embedder is not None:
        try:
            missing = Case.objects.exclude(vector_model=embedder.name).count()
            if 0 < missing <= 32:  # small libraries (fresh installs) need not wait for the job
                services.embed_pending(batch=32)
            ids, matrix, cands = similar.stored_matrix(embedder.name)
            if ids:
                q = embedder.encode([text])[0]
                base = matrix @ q
                backend = embedder.name
        except Exception:  # noqa: BLE001 - the fallback keeps the panel working
            log.exception("embedding search failed; using TF-IDF")
            base = None
    if base is None:
        ids, index, cands = similar.tfidf_index()
        base = index.scores(text) if ids else None
        backend = similar.TfidfIndex.name
    if base is None or not ids:
        return {"backend": backend, "items": []}
    if own is not None and own in ids:
        i = ids.index(own)
        base = base.copy()
        base[i] = -10.0
    top = similar.rank(base, cands, category=category, category_parent=parent, product=product, k=k + 1)
    chosen = [(ids[i], score, meaning) for i, score, meaning in top if ids[i] != own][:k]
    cases = Case.objects.in_bulk([pk for pk, _, _ in chosen])
    items = [{"case": cases[pk], "score": round(score, 3), "meaning": round(meaning, 3),
              "same_category": bool(category) and cases[pk].category == category}
             for pk, score, meaning in chosen if pk in cases]
    return {"backend": backend, "items": items}
