"""The bridge between complaints and the pure `qingting.triage` core.

Triage must never stop a complaint from being registered: any failure is logged and
the complaint is stored without its snapshot (an agent can re-run it on demand).
"""
from __future__ import annotations

import logging
import threading
import time

from django.conf import settings

log = logging.getLogger(__name__)
_model_lock = threading.Lock()
_model_state = {"checked": -1e9, "pointer": None, "model": None}
MODEL_CHECK_SECONDS = 30.0


def _models_dir():
    return settings.DATA_DIR / "models" / "triage"


def _active_model():
    """The active trained category model (None: lexicon rules). Every MODEL_CHECK_SECONDS the
    ACTIVE pointer is re-read, so a model trained or rolled back by another process is picked
    up without a restart; switching is atomic (the pointer is replaced with os.replace)."""
    now = time.monotonic()
    if now - _model_state["checked"] < MODEL_CHECK_SECONDS:
        return _model_state["model"]
    with _model_lock:
        if now - _model_state["checked"] < MODEL_CHECK_SECONDS:
            return _model_state["model"]
        pointer_file = _models_dir() / "ACTIVE"
        try:
            pointer = pointer_file.read_text().strip()
        except OSError:
            pointer = None
        if pointer != _model_state["pointer"]:
            model = None
            if pointer:
                try:
                    from qingting.triage import model as triage_model

                    model = triage_model.load_active(_models_dir())
                except Exception:
                    log.exception("could not load the active triage model %s; using the lexicon rules", pointer)
            _model_state.update(pointer=pointer, model=model)
        _model_state["checked"] = now
    return _model_state["model"]


def reset_model_cache() -> None:
    _model_state.update(checked=-1e9, pointer=None, model=None)


def lexicon_dir():
    return settings.DATA_DIR / "triage" / "lexicons"


_lexicon_state = {"checked": -1e9, "stamp": None, "dirs": None}


def _extra_dirs():
    """The administrators' lexicon folder; reloads the lexicons when its files changed.
    Looked at every MODEL_CHECK_SECONDS; in between, the answer of the last look (every
    analysis asks: the path alone cost 4 % of an analysis)."""
    now = time.monotonic()
    if now - _lexicon_state["checked"] >= MODEL_CHECK_SECONDS:
        folder = lexicon_dir()
        try:
            stamp = tuple(sorted((p.name, p.stat().st_mtime_ns) for p in folder.glob("*.toml")))
        except OSError:
            stamp = ()
        if stamp != _lexicon_state["stamp"]:
            if _lexicon_state["stamp"] is not None:
                try:
                    from qingting.triage import reload_lexicon

                    reload_lexicon()
                except ImportError:
                    pass
            _lexicon_state["stamp"] = stamp
        _lexicon_state["dirs"] = [folder] if stamp else None
        _lexicon_state["checked"] = now
    return _lexicon_state["dirs"]


def validate_lexicon(name: str, content: str) -> list[str]:
    """Errors of one lexicon file (naming line and key), checked in a scratch folder."""
    import tempfile
    from pathlib import Path

    try:
        from qingting.triage.lexicon import validate_dir
    except ImportError:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, f"{name}.toml").write_text(content, encoding="utf-8")
        return validate_dir(tmp)


def write_lexicons() -> None:
    """Mirror the active TriageLexicon rows into the lexicon folder (atomic per file)."""
    import os

    from .models import TriageLexicon

    folder = lexicon_dir()
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {f"{row.name}.toml": row.content for row in TriageLexicon.objects.filter(active=True)}
    for path in folder.glob("*.toml"):
        if path.name not in wanted:
            path.unlink(missing_ok=True)
    for filename, content in wanted.items():
        tmp = folder / f".{filename}.tmp"
        tmp.write_text(content, encoding="utf-8")
        os.replace(tmp, folder / filename)
    _lexicon_state["checked"] = -1e9


def triage_text(subject: str, description: str) -> tuple[str, str | None]:
    """(the text triage reads, the subject to give it as context).

    A subject made from the description's first line (portal, e-mail and import do that when
    none is given) is only the description's beginning: reading "subject + newline +
    description" would count every phrase of that line twice (evidence, exclamations,
    repeated insults — an inflated intensity). Then the description alone is read."""
    head = (subject or "").strip()
    head = head[:-1].rstrip() if head.endswith("…") else head
    if head and (description or "").lstrip().startswith(head):
        return description or "", None
    return f"{subject}\n{description}", subject


def description_offset(triage, subject: str, description: str) -> int:
    """Where the description starts in the text a stored snapshot was computed on."""
    length = triage.get("text_length") if isinstance(triage, dict) else None
    return 0 if length == len(description or "") else len(subject or "") + 1


def analyze_complaint(*, subject: str, description: str, channel: str, profile: str, customer=None) -> dict:
    try:
        from qingting.triage import analyze
    except ImportError:
        return {}
    text, subject = triage_text(subject, description)
    context = {"channel": channel, "subject": subject, "profile": profile, "extra_dirs": _extra_dirs()}
    if customer is not None and customer.pk:
        context["repeat_count"] = customer.complaints.count()
    try:
        model = _active_model()
        if model is not None:
            context["model"] = model
        result = analyze(text, **context).to_dict()
    except Exception:  # triage never stops a registration; the agent can re-run it
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
            candidates = [item.get("code"), item.get("zh"), item.get("name"), item.get("name_zh")]
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


def label_choices() -> dict:
    """(code, name) lists of the triage labels queues filter on, from triage's labels file."""
    try:
        import tomllib
        from importlib import resources

        data = tomllib.loads(resources.files("qingting.triage").joinpath("data/labels.toml").read_text("utf-8"))
    except Exception:  # triage not installed or its labels unreadable: no such filters
        return {"emotions": [], "personas": [], "signals": []}
    pick = lambda section: [(code, v.get("zh", code)) for code, v in data.get(section, {}).items()  # noqa: E731
                            if isinstance(v, dict)]
    return {"emotions": pick("emotion"), "personas": pick("persona"), "signals": pick("crisis")}


def triage_columns(triage) -> dict:
    """The complaint columns copied out of a triage snapshot so queues filter and sort on them
    (emotion, emotion_intensity, persona, suspected_malicious); defensive: it may be empty or odd."""
    t = triage if isinstance(triage, dict) else {}
    emotion = t.get("emotion") if isinstance(t.get("emotion"), dict) else {}
    personas = [p for p in t.get("personas") or [] if isinstance(p, dict) and p.get("code")]
    nature = t.get("nature") if isinstance(t.get("nature"), dict) else {}
    try:
        intensity = max(0.0, min(1.0, float(emotion.get("intensity") or 0.0)))
    except (TypeError, ValueError):
        intensity = 0.0
    top = max(personas, key=lambda p: p.get("score") or 0, default=None)
    return {"emotion": str(emotion.get("code") or "")[:24], "emotion_intensity": intensity,
            "persona": str(top["code"])[:24] if top else "",
            "suspected_malicious": nature.get("code") == "suspected_malicious"}


# The persona triage gives when it finds no difficult-customer type; the complaint's persona
# column already says it (it is then the only one), so it gets no flag row.
ORDINARY_PERSONA = "ordinary"


def triage_flags(triage) -> list[tuple[str, str, float]]:
    """[(kind, code, score)]: the crisis signals and the difficult-customer types of a snapshot,
    as ComplaintFlag rows (not ORDINARY_PERSONA: queues find those by the persona column)."""
    t = triage if isinstance(triage, dict) else {}
    flags = {}
    for kind, key in (("signal", "signals"), ("persona", "personas")):
        for item in t.get(key) or []:
            if isinstance(item, dict) and item.get("code") and (kind, item["code"]) != ("persona", ORDINARY_PERSONA):
                try:
                    score = float(item.get("score") or 0.0)
                except (TypeError, ValueError):
                    score = 0.0
                flags[(kind, str(item["code"])[:24])] = score
    return [(kind, code, score) for (kind, code), score in flags.items()]
