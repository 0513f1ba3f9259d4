"""Intake settings: Django settings (QINGTING_*) first, then the environment, then defaults.

A malformed value stops with a message naming the setting (settings fail loudly).
"""
from __future__ import annotations

import os

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULTS = {
    "QINGTING_PORTAL_EXPECTED_REPLY": "我们将在 1 个工作日内与您联系",
    "QINGTING_PORTAL_PROFILE": "",            # industry profile shown first on the portal ("" → general)
    "QINGTING_PORTAL_DEPARTMENT": "",         # department code that receives portal complaints
    "QINGTING_PORTAL_MAX_FILES": 5,
    "QINGTING_PORTAL_MAX_FILE_BYTES": 5 * 1024 * 1024,
    "QINGTING_PORTAL_SUBMIT_PER_IP_HOUR": 10,
    "QINGTING_PORTAL_SUBMIT_PER_CONTACT_HOUR": 3,
    "QINGTING_PORTAL_LOOKUP_PER_IP": 20,      # status look-ups per IP per 15 minutes
    "QINGTING_PORTAL_LOOKUP_PER_CODE": 5,     # failed look-ups per tracking code per 15 minutes
    "QINGTING_SURVEY_UNSATISFIED": "reopen",  # reopen | flag
    "QINGTING_SURVEY_UNSATISFIED_STARS": 2,
    "QINGTING_REPEAT_WINDOW_DAYS": 30,
    "QINGTING_REPEAT_MIN_SIMILARITY": 0.2,
    "QINGTING_REPEAT_RAISE_LEVELS": 1,
    "QINGTING_REPEAT_PRIORITY_CAP": "P2",     # raising never goes above this (P1 stays P1)
    "QINGTING_RELATED_THRESHOLD": 0.5,
    "QINGTING_WEBHOOK_WINDOW_SECONDS": 300,
    "QINGTING_IMPORT_UPLOAD_MAX_BYTES": 200 * 1024 * 1024,
}


def get(name: str):
    default = DEFAULTS[name]
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name)
    if value is None or value == "":
        return default
    if isinstance(default, bool):
        return str(value).lower() in ("1", "true", "yes", "on")
    try:
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"{name}={value!r} is not a number") from None
    if name == "QINGTING_SURVEY_UNSATISFIED" and value not in ("reopen", "flag"):
        raise ImproperlyConfigured(f"{name}={value!r}: use reopen or flag")
    if name == "QINGTING_REPEAT_PRIORITY_CAP" and value not in ("P1", "P2", "P3", "P4"):
        raise ImproperlyConfigured(f"{name}={value!r}: use P1–P4")
    return value
