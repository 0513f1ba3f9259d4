"""Extension points other apps register in their AppConfig.ready().

The complaint services call these inside their transaction, after the change and its
event are written, so a deadline or a hotspot link commits (or rolls back) together
with the complaint. A hook that has side effects outside the database (mail, webhooks)
must hand them to `transaction.on_commit`.
"""
from __future__ import annotations

from typing import Callable

# fn(complaint, actor) -> None
on_created: list[Callable] = []
# fn(complaint, old_step, new_step, actor, transition_kind) -> None
on_step_changed: list[Callable] = []
# fn(complaint, changes: dict[field, (old, new)], actor) -> None
on_updated: list[Callable] = []
# fn(complaint_ids: list[int]) -> None: complaints written in bulk as closed history (the import),
# which run no `created` hook (no deadlines or escalation for the past); derived data follows.
on_imported: list[Callable] = []
# fn(complaint, actor, extra: dict) -> extra dict merged into the API output
output_extras: list[Callable] = []
# fn(request, complaint) -> None or {"template", "context", "column": "main"|"side"|"top", "order", "css": [...]}
# Panels other apps add to the complaint page (deadlines, resolution, similar cases, reply editor …).
detail_panels: list[Callable] = []
# fn(queryset) -> queryset: annotations for the workbench queues, applied after filtering
# (e.g. the SLA app adds `next_due_at`, shown as the 剩余时限 column). Only installed apps
# register, so complaints/ never imports them.
queue_annotations: list[Callable] = []


def register(kind: str, fn: Callable) -> Callable:
    target = {"created": on_created, "step_changed": on_step_changed, "updated": on_updated,
              "imported": on_imported, "output": output_extras, "panel": detail_panels, "queue": queue_annotations}[kind]
    if fn not in target:
        target.append(fn)
    return fn
