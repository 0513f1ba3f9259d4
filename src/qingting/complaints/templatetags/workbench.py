"""Small display helpers for the workbench templates (no rules here)."""
from __future__ import annotations

from functools import lru_cache

from django import template
from django.templatetags.static import static
from django.utils.translation import get_language

from qingting.accounts import access

register = template.Library()


@register.filter
def can(user, what: str) -> bool:
    """`user|can:"write"` / "supervise" / "audit" for showing links; the views check again."""
    if what == "write":
        return access.may_write(user)
    if what == "supervise":
        return access.is_supervising(user)
    if what == "audit":
        return access.may_read_audit(user)
    return False


@register.filter
def step_label(step) -> str:
    """A step's name in the page's language (English name when set and the page is English)."""
    if step is None:
        return ""
    if (get_language() or "").startswith("en") and getattr(step, "name_en", ""):
        return step.name_en
    return getattr(step, "name", str(step))


@register.filter
def prio_class(priority) -> str:
    return f"prio prio-{str(priority or '').lower()}" if str(priority or "") in ("P1", "P2", "P3", "P4") else "prio"


@lru_cache(maxsize=32)
def _found(path: str) -> bool:
    from django.contrib.staticfiles import finders

    return bool(finders.find(path))


@register.simple_tag
def static_if_exists(path: str) -> str:
    """The static URL of `path` when the file is installed (e.g. htmx from npm), else ''."""
    return static(path) if _found(path) else ""
