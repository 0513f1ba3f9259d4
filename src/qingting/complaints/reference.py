"""Small reference tables (categories, profiles, workflow variants and their first step)
cached in process memory for a short time, so registering a complaint does not re-read
them on every request. Saving or deleting a row clears the cache in this process; other
processes see an administrator's change within REFERENCE_TTL seconds.
"""
from __future__ import annotations

import threading
import time

from django.db.models.signals import post_delete, post_save

REFERENCE_TTL = 30.0
_lock = threading.Lock()
_cache: dict = {"at": -REFERENCE_TTL}


def _load() -> dict:
    from .models import Category, IndustryProfile, Step, WorkflowVariant

    categories = list(Category.objects.filter(active=True).select_related("parent"))
    by_key = {}
    for cat in categories:
        by_key.setdefault(cat.name, cat)
    for cat in categories:  # codes win over names
        by_key[cat.code] = cat
    profiles = {p.code: p for p in IndustryProfile.objects.all()}
    profiles_by_name = {p.name: p for p in profiles.values()}
    variants = {v.code: v for v in WorkflowVariant.objects.all()}
    first_steps = {}
    for step in Step.objects.order_by("variant_id", "position"):
        first_steps.setdefault(step.variant_id, step)
    default = next((v for v in variants.values() if v.is_default), None) or next(iter(variants.values()), None)
    return {"at": time.monotonic(), "categories": by_key, "profiles": profiles, "profiles_by_name": profiles_by_name,
            "variants": variants, "first_steps": first_steps, "default_variant": default}


def get() -> dict:
    """The current snapshot; a refresh swaps in a whole new dict, so readers never see a half-built one."""
    global _cache
    data = _cache
    if time.monotonic() - data["at"] > REFERENCE_TTL:
        with _lock:
            if time.monotonic() - _cache["at"] > REFERENCE_TTL:
                _cache = _load()
            data = _cache
    return data


def clear(*args, **kwargs) -> None:
    global _cache
    with _lock:
        _cache = {"at": -REFERENCE_TTL}


def category(key: str):
    return get()["categories"].get(key)


def profile(key: str):
    data = get()
    return data["profiles"].get(key) or data["profiles_by_name"].get(key)


def variant(code: str | None):
    data = get()
    return data["variants"].get(code) if code else data["default_variant"]


def first_step(variant_obj):
    return get()["first_steps"].get(variant_obj.pk)


def connect_signals() -> None:
    from .models import Category, IndustryProfile, Step, WorkflowVariant

    for model in (Category, IndustryProfile, Step, WorkflowVariant):
        post_save.connect(clear, sender=model, dispatch_uid=f"reference-clear-save-{model.__name__}")
        post_delete.connect(clear, sender=model, dispatch_uid=f"reference-clear-delete-{model.__name__}")
