"""Qingting triage: reads a complaint like a senior handler (pure Python, no Django).

Public API::

    analyze(text, **context) -> Triage          # Triage.to_dict() is JSON-ready
    mask_text(text) -> str, find_pii(text) -> list[PiiSpan]
    train(texts, labels, **opts) -> ModelArtifact
    save_model(artifact, models_dir) -> version; activate(models_dir, version)
    load_active(models_dir) -> ModelArtifact | None; set_active_model(artifact)
    ensure_active_model(models_dir)   # follow the ACTIVE pointer (cheap; reloads on change)
    evaluate(model, texts, labels) -> dict
    read_table(path, columns) -> dict[str, list[str]]
"""
from .analyzer import PROFILES, analyze, get_active_model, set_active_model
from .lexicon import LexiconError, get_lexicon, reload_lexicon, validate_dir
from .normalize import detect_language, normalize
from .pii import PiiSpan, find_pii, mask_text
from .result import Triage

__all__ = [
    "PROFILES", "analyze", "get_active_model", "set_active_model", "LexiconError", "get_lexicon",
    "reload_lexicon", "validate_dir", "detect_language", "normalize", "PiiSpan", "find_pii", "mask_text",
    "Triage", "train", "save_model", "activate", "load_active", "load_model", "list_versions", "evaluate",
    "ModelArtifact", "read_table", "default_models_dir", "ensure_active_model",
]


def __getattr__(name):  # model functions import scikit-learn lazily (analyze stays light)
    if name in ("train", "save_model", "activate", "load_active", "load_model", "list_versions",
                "evaluate", "ModelArtifact", "default_models_dir", "ensure_active_model", "active_version"):
        from . import model
        return getattr(model, name)
    if name == "read_table":
        from .tables import read_table
        return read_table
    raise AttributeError(name)
