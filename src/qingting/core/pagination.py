"""Keyset pagination: a cursor names the last row seen by (received_at, id), newest first."""
from __future__ import annotations

import base64
import datetime as dt
import json

from django.db.models import Q

from .errors import Invalid


def encode_cursor(when: dt.datetime, pk: int) -> str:
    raw = json.dumps([when.isoformat(), pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        when, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
        when = dt.datetime.fromisoformat(when)
        if when.tzinfo is None or not isinstance(pk, int):
            raise ValueError
        return when, pk
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError, base64.binascii.Error):
        raise Invalid("分页游标无效", "The pagination cursor is invalid", code="bad_cursor",
                      fields={"cursor": "invalid"}) from None


def keyset_page(queryset, *, cursor: str | None, limit: int, time_field: str = "received_at"):
    """Return (rows, next_cursor) for a queryset ordered newest first by (time_field, id)."""
    qs = queryset.order_by(f"-{time_field}", "-id")
    if cursor:
        when, pk = decode_cursor(cursor)
        qs = qs.filter(Q(**{f"{time_field}__lt": when}) | Q(**{time_field: when, "id__lt": pk}))
    rows = list(qs[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(getattr(last, time_field), last.id)
    return rows, next_cursor


def priority_keyset_page(queryset, *, cursor: str | None, limit: int):
    """Most urgent first: (priority ascending, received_at descending, id descending), keyset-paged."""
    qs = queryset.order_by("priority", "-received_at", "-id")
    if cursor:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            prio, when, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
            when = dt.datetime.fromisoformat(when)
            if not isinstance(prio, str) or not isinstance(pk, int) or when.tzinfo is None:
                raise ValueError
        except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError, base64.binascii.Error):
            raise Invalid("分页游标无效", "The pagination cursor is invalid", code="bad_cursor",
                          fields={"cursor": "invalid"}) from None
        qs = qs.filter(Q(priority__gt=prio) | Q(priority=prio, received_at__lt=when)
                       | Q(priority=prio, received_at=when, id__lt=pk))
    rows = list(qs[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        raw = json.dumps([last.priority, last.received_at.isoformat(), last.id]).encode()
        next_cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return rows, next_cursor
