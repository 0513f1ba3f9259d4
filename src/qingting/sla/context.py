"""Template context: the December warning when next year's holiday schedule is unknown.

Add "qingting.sla.context.calendar_banner" to TEMPLATES' context_processors (or call
`calendar_warnings()` in a view); base.html can show `sla_calendar_warnings`.
"""
from __future__ import annotations

import logging

from django.core.cache import cache
from django.utils import timezone

log = logging.getLogger(__name__)


def calendar_warnings(today=None) -> list[str]:
    today = today or timezone.localdate()
    key = f"qingting:sla:calendar-warnings:{today.isoformat()}"
    cached = cache.get(key) if today is not None else None
    if cached is not None:
        return cached
    try:
        from .services import warning_banner

        warnings = warning_banner(today)
    except Exception:  # never break a page over a banner
        log.exception("calendar coverage check failed")
        warnings = []
    cache.set(key, warnings, 600)
    return warnings


def calendar_banner(request) -> dict:
    user = getattr(request, "user", None)
    if not user or not user.is_authenticated:
        return {"sla_calendar_warnings": []}
    return {"sla_calendar_warnings": calendar_warnings()}
