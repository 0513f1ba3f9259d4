"""The bridge between complaints and the pure `qingting.triage` core.

Triage must never stop a complaint from being registered: any failure is logged and
the complaint is stored without its snapshot (an agent can re-run it on demand).
"""
from __future__ import annotations

import logging
import threading

from django.conf import settings

log = logging.getLogger(__name__)
_model_lock = threading.Lock()
_model_state = {"loaded": False, "model": None}


def _active_model():
    """Load the active trained category model once per process (None: lexicon rules)."""
    if _model_state["loaded"]:
        return _model_state["model"]
    with _model_lock:
        if not _model_state["loaded"]:
            try:
                from qingting.triage import model as triage_model

                _model_state["model"] = triage_model.load_active(settings.DATA_DIR / "models" / "triage")
            except Exception:  # no model trained yet, or triage not installed
                _model_state["model"] = None
            _model_state["loaded"] = True
    return _model_state["model"]


def reset_model_cache() -> None:
    _model_state.update(loaded=False, model=None)


def analyze_complaint(*, subject: str, description: str, channel: str, profile: str, customer=None) -> dict:
    try:
        from qingting.triage import analyze
    except ImportError:
        return {}
    context = {"channel": channel, "subject": subject, "profile": profile}
    if customer is not None and customer.pk:
        context["repeat_count"] = customer.complaints.count()
    try:
        model = _active_model()
        if model is not None:
            context["model"] = model
        result = analyze(f"{subject}\n{description}", **context).to_dict()
    except TypeError:
        context.pop("model", None)
        try:
            result = analyze(f"{subject}\n{description}", **context).to_dict()
        except Exception:
            log.exception("triage failed")
            return {}
    except Exception:
        log.exception("triage failed")
        return {}
    return result


def suggested_category(analysis: dict, profile_code: str):
    """Map triage's suggested category (code or Chinese name) to a Category row, if any."""
    from . import reference

    cat = analysis.get("category") if isinstance(analysis, dict) else None
    if not isinstance(cat, dict):
        return None
    for level in ("level2", "level1"):
        item = cat.get(level)
        if isinstance(item, dict):
            candidates = [item.get("code"), item.get("name"), item.get("name_zh")]
        elif isinstance(item, str):
            candidates = [item]
        else:
            continue
        for cand in candidates:
            found = reference.category(cand) if isinstance(cand, str) and cand else None
            if found is not None:
                return found
    return None


def record_label(complaint, category, actor, suggested) -> None:
    """Keep an agent's category decision as a training label (active learning)."""
    from .models import TrainingLabel

    TrainingLabel.objects.create(complaint=complaint, category=category, actor=actor if getattr(actor, "pk", None) else None,
                                 suggested=(suggested or {}) if isinstance(suggested, dict) else {})
