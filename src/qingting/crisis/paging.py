"""Paging people through `qingting.notify` when that app is installed; otherwise the intent is
logged (the crisis timeline records it either way). Call inside the action's transaction:
notify writes outbox rows and sends after commit."""
from __future__ import annotations

import logging
from types import SimpleNamespace

from django.apps import apps

log = logging.getLogger(__name__)


def page(event: str, *, title: str, text: str, users, detail: dict | None = None) -> list[int]:
    users = [u for u in users if u is not None]
    if apps.is_installed("qingting.notify"):
        try:
            from qingting.notify.services import notify
        except ImportError:  # pragma: no cover - notify half-installed
            notify = None
        if notify is not None:
            try:
                from django.db import transaction

                # not about one complaint: no number, no department (team endpoints of every department)
                subject = SimpleNamespace(number="", department_id=None, department=None)
                with transaction.atomic():  # a savepoint: a failure here leaves the caller's transaction usable
                    return notify(event, complaint=subject, title=title, text=text, users=users, detail=detail or {})
            except Exception:  # paging must never undo the crisis action
                log.exception("crisis paging through notify failed: %s", event)
                return []
    log.info("crisis paging (notify not installed) %s to %s: %s", event, [u.username for u in users], title)
    return []
