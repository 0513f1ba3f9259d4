"""Keeping the analytics projection current: facts and daily rollups.

Definitions (also in docs/analytics.md):
- a complaint counts on the local (Asia/Shanghai) day it was received (`received_at`);
- first response time = from `received_at` to the earliest of the first outbound message
  (`message.sent`) and the first `step.advanced` event (leaving 受理投诉);
- resolution time = from `received_at` to `closed_at`, for complaints closed now;
- repeat complaint = linked as "repeat" by intake, or the same customer complained
  within the 180 days before;
- malicious flag = triage nature `suspected_malicious`.

The complaint hooks call `refresh_fact` inside the complaint's transaction: one read of
the old fact, one upsert of the new one, and one (or two, when a dimension changed)
upserts of rollup deltas. Changes that run no hook (manual escalation, assignment,
messages) bump `Complaint.updated_at`; `sync_changed()` (a periodic job) picks them up.
"""
from __future__ import annotations

import datetime as dt
import logging
import re

from django.apps import apps
from django.db import connection, transaction
from django.db.models import F, Min, Window
from django.db.models.functions import Lag
from django.utils import timezone

from .models import ROLLUP_KEYS, ROLLUP_MEASURES, ComplaintFact, DailyRollup

log = logging.getLogger(__name__)

REPEAT_WINDOW = dt.timedelta(days=180)
FIRST_RESPONSE_KINDS = ("message.sent", "step.advanced")
FACT_FIELDS = ("day", "department_id", "category_id", "category1_id", "channel", "priority", "profile_id",
               "assignee_id", "brand", "series", "product", "business_category", "closed", "closed_day",
               "first_response_s", "resolution_s", "reopened", "escalated", "malicious", "repeat", "emotion",
               "persona", "root_cause_key", "source_updated_at")

_category_parent: dict[int, int] = {}
_WS = re.compile(r"\s+")
_TRAIL = re.compile(r"[。.，,；;！!？?\s]+$")


def category_level1(category_id: int | None) -> int:
    if not category_id:
        return 0
    if category_id not in _category_parent:
        from qingting.complaints.models import Category

        _category_parent.clear()
        _category_parent.update({pk: (parent or pk) for pk, parent in Category.objects.values_list("id", "parent_id")})
    return _category_parent.get(category_id, category_id)


def local_day(moment: dt.datetime | None) -> dt.date | None:
    if moment is None:
        return None
    return timezone.localtime(moment).date()


def root_cause_key(text: str) -> str:
    text = _WS.sub(" ", (text or "").strip())
    return _TRAIL.sub("", text)[:60]


def _s(value, limit: int) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def about_dims(about) -> dict:
    about = about if isinstance(about, dict) else {}
    return {"brand": _s(about.get("brand") or about.get("shop") or about.get("store"), 50),
            "series": _s(about.get("series"), 50),
            "product": _s(about.get("vehicle_model") or about.get("product") or about.get("product_name"), 100),
            "business_category": _s(about.get("business_category"), 32)}


def triage_dims(triage) -> dict:
    triage = triage if isinstance(triage, dict) else {}
    nature = triage.get("nature") if isinstance(triage.get("nature"), dict) else {}
    emotion = triage.get("emotion") if isinstance(triage.get("emotion"), dict) else {}
    personas = triage.get("personas") if isinstance(triage.get("personas"), list) else []
    persona = personas[0].get("code") if personas and isinstance(personas[0], dict) else ""
    return {"malicious": nature.get("code") == "suspected_malicious",
            "emotion": _s(emotion.get("code"), 24), "persona": _s(persona, 24)}


def _seconds(start, end) -> int | None:
    if start is None or end is None:
        return None
    return max(0, int((end - start).total_seconds()))


def fact_values(*, received_at, department_id, category_id, channel, priority, profile_id, assignee_id, about,
                closed_at, reopen_count, escalation_level, triage, root_cause, first_response_at, repeat,
                updated_at) -> dict:
    values = {
        "day": local_day(received_at), "department_id": department_id or 0, "category_id": category_id or 0,
        "category1_id": category_level1(category_id), "channel": channel, "priority": priority,
        "profile_id": profile_id or 0, "assignee_id": assignee_id or 0, "closed": closed_at is not None,
        "closed_day": local_day(closed_at), "first_response_s": _seconds(received_at, first_response_at),
        "resolution_s": _seconds(received_at, closed_at), "reopened": (reopen_count or 0) > 0,
        "escalated": (escalation_level or 0) > 0, "repeat": bool(repeat),
        "root_cause_key": root_cause_key(root_cause) if closed_at is not None else "",
        "source_updated_at": updated_at,
    }
    values.update(about_dims(about))
    values.update(triage_dims(triage))
    return values


def first_response_at(complaint_id: int):
    from qingting.complaints.models import Event

    return Event.objects.filter(complaint_id=complaint_id, kind__in=FIRST_RESPONSE_KINDS).aggregate(m=Min("at"))["m"]


def is_repeat(complaint) -> bool:
    from qingting.complaints.models import Complaint

    if _linked_as_repeat(complaint.pk):
        return True
    earlier = Complaint.objects.filter(customer_id=complaint.customer_id,
                                       received_at__gte=complaint.received_at - REPEAT_WINDOW,
                                       received_at__lte=complaint.received_at).exclude(pk=complaint.pk)
    earlier = earlier.exclude(received_at=complaint.received_at, pk__gt=complaint.pk)
    return earlier.exists()


def _repeat_link_model():
    """intake's ComplaintLink, if that app is installed (read defensively)."""
    if not apps.is_installed("qingting.intake"):
        return None
    try:
        return apps.get_model("intake", "ComplaintLink")
    except LookupError:
        return None


def _linked_as_repeat(complaint_id: int) -> bool:
    model = _repeat_link_model()
    if model is None:
        return False
    try:
        from django.db.models import Q

        fks = [f.name for f in model._meta.fields
               if f.is_relation and f.related_model is not None and f.related_model._meta.label == "complaints.Complaint"]
        if not fks:
            return False
        q = Q()
        for name in fks[:1]:  # the complaint that repeats an earlier one
            q |= Q(**{f"{name}_id": complaint_id})
        return model.objects.filter(q, kind="repeat").exists()
    except Exception:  # an unexpected shape must never break the complaint's transaction
        log.exception("reading intake ComplaintLink failed")
        return False


def repeat_link_ids(ids) -> set[int]:
    model = _repeat_link_model()
    if model is None:
        return set()
    try:
        fks = [f.name for f in model._meta.fields
               if f.is_relation and f.related_model is not None and f.related_model._meta.label == "complaints.Complaint"]
        if not fks:
            return set()
        col = f"{fks[0]}_id"
        return set(model.objects.filter(kind="repeat", **{f"{col}__in": list(ids)}).values_list(col, flat=True))
    except Exception:
        log.exception("reading intake ComplaintLink failed")
        return set()


def compute_fact(complaint, *, old: dict | None = None, fresh: bool = False) -> dict:
    """The fact row for `complaint`; reuses the old row's first response and repeat flag unless fresh."""
    frt_at = None
    if old is not None and old.get("first_response_s") is not None and not fresh:
        frt_at = complaint.received_at + dt.timedelta(seconds=old["first_response_s"])
    elif complaint.pk:
        frt_at = first_response_at(complaint.pk)
    repeat = old["repeat"] if (old is not None and not fresh) else is_repeat(complaint)
    return fact_values(received_at=complaint.received_at, department_id=complaint.department_id,
                       category_id=complaint.category_id, channel=complaint.channel, priority=complaint.priority,
                       profile_id=complaint.profile_id, assignee_id=complaint.assignee_id, about=complaint.about,
                       closed_at=complaint.closed_at, reopen_count=complaint.reopen_count,
                       escalation_level=complaint.escalation_level, triage=complaint.triage,
                       root_cause=complaint.root_cause, first_response_at=frt_at, repeat=repeat,
                       updated_at=complaint.updated_at)


# ------------------------------------------------------------------ rollup arithmetic

def contribution(fact: dict) -> tuple[tuple, int, dict]:
    key = tuple(fact[k] for k in ROLLUP_KEYS)
    frt, res = fact.get("first_response_s"), fact.get("resolution_s")
    measures = {"n": 1, "closed": int(bool(fact["closed"])), "reopened": int(bool(fact["reopened"])),
                "escalated": int(bool(fact["escalated"])), "malicious": int(bool(fact["malicious"])),
                "repeat": int(bool(fact["repeat"])), "frt_n": int(frt is not None), "frt_sum": frt or 0,
                "res_n": int(res is not None), "res_sum": res or 0}
    return key, fact["category1_id"], measures


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _add_to_rollup(key: tuple, category1_id: int, delta: dict) -> None:
    if not any(delta.values()):
        return
    table = _table(DailyRollup)
    cols = [*ROLLUP_KEYS, "category1_id", *ROLLUP_MEASURES]
    params = [*key, category1_id, *(delta[m] for m in ROLLUP_MEASURES)]
    updates = ", ".join(f"{m} = {table}.{m} + excluded.{m}" for m in ROLLUP_MEASURES)
    sql = (f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) "
           f"ON CONFLICT ({', '.join(ROLLUP_KEYS)}) DO UPDATE SET {updates}, category1_id = excluded.category1_id")
    with connection.cursor() as cur:
        cur.execute(sql, params)


def _upsert_fact(complaint_id: int, fact: dict) -> None:
    table = _table(ComplaintFact)
    cols = ["complaint_id", *FACT_FIELDS]
    updates = ", ".join(f"{c} = excluded.{c}" for c in FACT_FIELDS)
    sql = (f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) "
           f"ON CONFLICT (complaint_id) DO UPDATE SET {updates}")
    with connection.cursor() as cur:
        cur.execute(sql, [complaint_id, *(fact[c] for c in FACT_FIELDS)])


def _comparable(fact: dict) -> dict:
    return {k: v for k, v in fact.items() if k != "source_updated_at"}


def refresh_fact(complaint, *, fresh: bool = False) -> None:
    """Recompute one complaint's fact and move its rollup contribution (inside the caller's transaction)."""
    old = ComplaintFact.objects.filter(pk=complaint.pk).values(*FACT_FIELDS).first()
    new = compute_fact(complaint, old=old, fresh=fresh)
    if old is not None and _comparable(old) == _comparable(new):
        if old["source_updated_at"] != new["source_updated_at"]:
            ComplaintFact.objects.filter(pk=complaint.pk).update(source_updated_at=new["source_updated_at"])
        return
    _upsert_fact(complaint.pk, new)
    new_key, new_c1, new_m = contribution(new)
    if old is None:
        _add_to_rollup(new_key, new_c1, new_m)
        return
    old_key, _old_c1, old_m = contribution(old)
    if old_key == new_key:
        _add_to_rollup(new_key, new_c1, {m: new_m[m] - old_m[m] for m in ROLLUP_MEASURES})
    else:
        _add_to_rollup(old_key, _old_c1, {m: -old_m[m] for m in ROLLUP_MEASURES})
        _add_to_rollup(new_key, new_c1, new_m)


# ------------------------------------------------------------------ hooks

def on_created(complaint, actor) -> None:
    refresh_fact(complaint)
    # A back-dated complaint can make a later one of the same customer a repeat.
    from qingting.complaints.models import Complaint

    later = (Complaint.objects.filter(customer_id=complaint.customer_id, received_at__gte=complaint.received_at,
                                      received_at__lte=complaint.received_at + REPEAT_WINDOW,
                                      analytics_fact__repeat=False)
             .exclude(pk=complaint.pk).exclude(received_at=complaint.received_at, pk__lt=complaint.pk))
    for other in later[:50]:
        refresh_fact(other, fresh=True)


def on_step_changed(complaint, old_step, new_step, actor, transition_kind) -> None:
    refresh_fact(complaint)


def on_updated(complaint, changes, actor) -> None:
    refresh_fact(complaint)


# ------------------------------------------------------------------ periodic sync and full rebuild

def sync_changed(limit: int = 5000) -> int:
    """Refresh facts of complaints changed without a hook (escalation, assignment, messages). Periodic job."""
    from qingting.complaints.models import Complaint

    stale = (Complaint.objects.filter(analytics_fact__isnull=True) |
             Complaint.objects.filter(updated_at__gt=F("analytics_fact__source_updated_at")))
    ids = list(stale.values_list("id", flat=True)[:limit])
    for pk in ids:
        with transaction.atomic():
            c = Complaint.objects.select_for_update().filter(pk=pk).first()
            if c is not None:
                refresh_fact(c, fresh=True)
    return len(ids)


def _repeat_ids() -> set[int]:
    from qingting.complaints.models import Complaint

    rows = Complaint.objects.annotate(prev=Window(Lag("received_at"), partition_by=[F("customer_id")],
                                                  order_by=[F("received_at").asc(), F("id").asc()]))
    out = set()
    for pk, received, prev in rows.values_list("id", "received_at", "prev").iterator(chunk_size=20000):
        if prev is not None and received - prev <= REPEAT_WINDOW:
            out.add(pk)
    return out


def rebuild(*, batch: int = 5000, progress=None) -> int:
    """Recompute every fact and the rollups from the complaints (`qingting analytics-rebuild`)."""
    from qingting.complaints.models import Complaint, Event

    _category_parent.clear()
    repeats = _repeat_ids()
    total = 0
    with transaction.atomic():
        with connection.cursor() as cur:
            if connection.vendor == "postgresql":
                cur.execute(f"TRUNCATE {_table(DailyRollup)}, {_table(ComplaintFact)}")
            else:
                cur.execute(f"DELETE FROM {_table(DailyRollup)}")
                cur.execute(f"DELETE FROM {_table(ComplaintFact)}")
        last_id = 0
        fields = ("id", "received_at", "department_id", "category_id", "channel", "priority", "profile_id",
                  "assignee_id", "about", "closed_at", "reopen_count", "escalation_level", "triage", "root_cause",
                  "updated_at")
        while True:
            rows = list(Complaint.objects.filter(id__gt=last_id).order_by("id").values_list(*fields)[:batch])
            if not rows:
                break
            lo, hi = rows[0][0], rows[-1][0]
            firsts = dict(Event.objects.filter(complaint_id__gte=lo, complaint_id__lte=hi, kind__in=FIRST_RESPONSE_KINDS)
                          .values("complaint_id").annotate(m=Min("at")).values_list("complaint_id", "m"))
            links = repeat_link_ids([r[0] for r in rows])
            values = []
            for (pk, received, dept, cat, channel, prio, prof, assignee, about, closed_at, reopen, esc, triage, root,
                 updated) in rows:
                f = fact_values(received_at=received, department_id=dept, category_id=cat, channel=channel,
                                priority=prio, profile_id=prof, assignee_id=assignee, about=about, closed_at=closed_at,
                                reopen_count=reopen, escalation_level=esc, triage=triage, root_cause=root,
                                first_response_at=firsts.get(pk), repeat=pk in repeats or pk in links,
                                updated_at=updated)
                values.append((pk, *(f[c] for c in FACT_FIELDS)))
            _insert_facts(values)
            total += len(rows)
            last_id = hi
            if progress:
                progress(total)
        rebuild_rollups_from_facts()
    return total


def _insert_facts(values: list[tuple]) -> None:
    """Bulk insert fact rows: COPY on PostgreSQL (fast at a million rows), executemany elsewhere."""
    cols = ["complaint_id", *FACT_FIELDS]
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        with connection.connection.cursor() as cur:
            with cur.copy(f"COPY {_table(ComplaintFact)} ({', '.join(cols)}) FROM STDIN") as cp:
                for row in values:
                    cp.write_row(row)
        return
    sql = f"INSERT INTO {_table(ComplaintFact)} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"
    with connection.cursor() as cur:
        cur.executemany(sql, values)


def rebuild_rollups_from_facts() -> None:
    table, facts = _table(DailyRollup), _table(ComplaintFact)
    keys = ", ".join(ROLLUP_KEYS)
    bool_sum = "SUM(CASE WHEN {c} THEN 1 ELSE 0 END)"
    select = ", ".join([
        keys, "MAX(category1_id)", "COUNT(*)", *(bool_sum.format(c=c) for c in ("closed", "reopened", "escalated",
                                                                            "malicious", "repeat")),
        "COUNT(first_response_s)", "COALESCE(SUM(first_response_s), 0)", "COUNT(resolution_s)",
        "COALESCE(SUM(resolution_s), 0)"])
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {table}")
        cur.execute(f"INSERT INTO {table} ({keys}, category1_id, {', '.join(ROLLUP_MEASURES)}) "
                    f"SELECT {select} FROM {facts} GROUP BY {keys}")
