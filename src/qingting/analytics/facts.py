"""Keeping the analytics projection current: facts and daily rollups.

Definitions (also in docs/analytics.md):
- a complaint counts on the local (Asia/Shanghai) day it was received (`received_at`);
- first response time = from `received_at` to the earliest of the first outbound message
  (`message.sent`) and the first `step.advanced` event (leaving 受理投诉);
- resolution time = from `received_at` to `closed_at`, for complaints closed now;
- repeat complaint = linked as "repeat" by intake, or the same customer complained
  within the 180 days before;
- malicious flag = triage nature `suspected_malicious`.

The complaint hooks only queue the complaint (`FactQueue`, one upsert in the complaint's
transaction); after the commit `drain_queue()` runs in the background (a Celery task with a
broker, a coalescing thread without one; the periodic job `analytics.drain` as a safety
net) and calls `refresh_fact` per complaint: one read of the old fact, one upsert of the
new one, and one (or two, when a dimension changed) upserts of rollup deltas. So the
dashboard follows within about a second and registering a complaint does not wait for it.
`QINGTING_ANALYTICS_INLINE = True` refreshes inside the complaint's transaction instead
(the tests, for determinism). Changes that run no hook (manual escalation, assignment,
messages) bump `Complaint.updated_at`; `sync_changed()` (a periodic job) picks them up.
"""
from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections import Counter

from django.apps import apps
from django.db import connection, transaction
from django.db.models import F, Min, Window
from django.db.models.functions import Lag
from django.utils import timezone

from qingting.core import background
from qingting.core.db import in_ids

from .models import (
    ALL,
    GRAIN_DAY,
    GRAIN_MONTH,
    ROLLUP_KEYS,
    ROLLUP_MEASURES,
    SLA_FIELDS,
    ComplaintFact,
    FactQueue,
    Rollup,
    SyncMark,
    Tally,
)

log = logging.getLogger(__name__)

REPEAT_WINDOW = dt.timedelta(days=180)
FIRST_RESPONSE_KINDS = ("message.sent", "step.advanced")
FACT_FIELDS = ("day", "department_id", "category_id", "category1_id", "channel", "priority", "profile_id",
               "assignee_id", "brand", "series", "product", "business_category", "closed", "closed_day",
               "first_response_s", "resolution_s", "reopened", "escalated", "malicious", "repeat", "emotion",
               "persona", "root_cause_key", *SLA_FIELDS, "csat_stars", "source_updated_at")

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


def triage_dims(emotion, persona, suspected_malicious) -> dict:
    """From the complaint's columns copied out of its triage snapshot (`triage_link.triage_columns`):
    they come with the row, while parsing the snapshot took ≈ 50 µs a complaint (orjson, 2,000
    stored snapshots of imported complaints)."""
    return {"malicious": bool(suspected_malicious), "emotion": _s(emotion, 24), "persona": _s(persona, 24)}


def _seconds(start, end) -> int | None:
    if start is None or end is None:
        return None
    return max(0, int((end - start).total_seconds()))


def fact_values(*, received_at, department_id, category_id, channel, priority, profile_id, assignee_id, about,
                closed_at, reopen_count, escalation_level, emotion, persona, suspected_malicious, root_cause,
                first_response_at, repeat, updated_at, sla: dict | None = None, stars: int = 0) -> dict:
    values = {
        "day": local_day(received_at), "department_id": department_id or 0, "category_id": category_id or 0,
        "category1_id": category_level1(category_id), "channel": channel, "priority": priority,
        "profile_id": profile_id or 0, "assignee_id": assignee_id or 0, "closed": closed_at is not None,
        "closed_day": local_day(closed_at), "first_response_s": _seconds(received_at, first_response_at),
        "resolution_s": _seconds(received_at, closed_at), "reopened": (reopen_count or 0) > 0,
        "escalated": (escalation_level or 0) > 0, "repeat": bool(repeat),
        "root_cause_key": root_cause_key(root_cause) if closed_at is not None else "",
        "source_updated_at": updated_at, "csat_stars": stars if stars in (1, 2, 3, 4, 5) else 0,
    }
    values.update(dict.fromkeys(SLA_FIELDS, 0))
    values.update(sla or {})
    values.update(about_dims(about))
    values.update(triage_dims(emotion, persona, suspected_malicious))
    return values


SLA_GROUP_OF = {"first_response": "frt", "resolution": "res"}


def _sla_field(kind: str, state: str) -> str:
    group = SLA_GROUP_OF.get(kind, "oth")
    return f"sla_{group}_{state if state in ('met', 'breached') else 'open'}"


def _deadline_model():
    if not apps.is_installed("qingting.sla"):
        return None
    try:
        return apps.get_model("sla", "Deadline")
    except LookupError:
        return None


def _survey_model():
    if not apps.is_installed("qingting.intake"):
        return None
    try:
        return apps.get_model("intake", "SatisfactionSurvey")
    except LookupError:
        return None


def sla_counts(complaint_ids) -> dict[int, dict]:
    """{complaint id: {sla_<group>_<state>: n}} from qingting.sla's deadlines (empty when not installed)."""
    model = _deadline_model()
    out: dict[int, dict] = {}
    if model is None:
        return out
    for cid, kind, state in model.objects.filter(complaint_id__in=in_ids(complaint_ids)).values_list("complaint_id", "kind",
                                                                                              "state"):
        row = out.setdefault(cid, {})
        field = _sla_field(kind, state)
        row[field] = row.get(field, 0) + 1
    return out


def survey_stars(complaint_ids) -> dict[int, int]:
    model = _survey_model()
    if model is None:
        return {}
    return dict(model.objects.filter(complaint_id__in=in_ids(complaint_ids)).values_list("complaint_id", "stars"))


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
        return set(model.objects.filter(kind="repeat", **{f"{col}__in": in_ids(ids)}).values_list(col, flat=True))
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
                       escalation_level=complaint.escalation_level, emotion=complaint.emotion,
                       persona=complaint.persona, suspected_malicious=complaint.suspected_malicious,
                       root_cause=complaint.root_cause, first_response_at=frt_at, repeat=repeat,
                       updated_at=complaint.updated_at, sla=sla_counts([complaint.pk]).get(complaint.pk),
                       stars=survey_stars([complaint.pk]).get(complaint.pk, 0))


# ------------------------------------------------------------------ rollup arithmetic

HIST_RATIO = 1.05  # duration histogram buckets grow by 5 %: a percentile read from them is within ±2.5 %
TALLY_KEYS = ("kind", "month", "department_id", "assignee_id", "key")
_LOG_RATIO = math.log(HIST_RATIO)


def duration_bucket(seconds: int) -> str:
    """Histogram bucket of a duration (a sortable string key): 0 for 0 s, else ⌊ln s / ln 1.05⌋ + 1."""
    if seconds is None or seconds <= 0:
        return "0000"
    return f"{int(math.log(seconds) / _LOG_RATIO) + 1:04d}"


def bucket_value(key: str) -> float:
    """The representative duration of a bucket (its geometric middle)."""
    b = int(key)
    if b <= 0:
        return 0.0
    return HIST_RATIO ** (b - 1) * math.sqrt(HIST_RATIO)


def _measures(fact: dict) -> dict:
    frt, res = fact.get("first_response_s"), fact.get("resolution_s")
    return {"n": 1, "closed": int(bool(fact["closed"])), "reopened": int(bool(fact["reopened"])),
            "escalated": int(bool(fact["escalated"])), "malicious": int(bool(fact["malicious"])),
            "repeat": int(bool(fact["repeat"])), "frt_n": int(frt is not None), "frt_sum": frt or 0,
            "res_n": int(res is not None), "res_sum": res or 0,
            **{f: fact.get(f) or 0 for f in SLA_FIELDS},
            **{f"csat_{i}": int(fact.get("csat_stars") == i) for i in range(1, 6)}}


def rollup_keys(fact: dict) -> list[tuple]:
    """The four rollup rows a fact adds to: day and month, each full (channel, priority) and lite (ALL)."""
    day = fact["day"]
    month = day.replace(day=1)
    d, c = fact["department_id"], fact["category_id"]
    ch, pr = fact["channel"], fact["priority"]
    return [(GRAIN_DAY, day, d, c, ch, pr), (GRAIN_DAY, day, d, c, ALL, ALL),
            (GRAIN_MONTH, month, d, c, ch, pr), (GRAIN_MONTH, month, d, c, ALL, ALL)]


def contribution(fact: dict) -> dict[tuple, tuple[int, dict]]:
    """{rollup key: (category1_id, measures)} of one fact."""
    measures = _measures(fact)
    return {key: (fact["category1_id"], measures) for key in rollup_keys(fact)}


def tally_contribution(fact: dict) -> Counter:
    """{(kind, month, department_id, assignee_id, key): n} of one fact (see models.Tally)."""
    out: Counter = Counter()
    month = fact["day"].replace(day=1)
    dept = fact["department_id"]
    for kind in ("series", "product", "brand"):
        if fact[kind]:
            out[(kind, month, dept, 0, fact[kind])] += 1
    out[("emotion", month, dept, 0, fact["emotion"] or "")] += 1
    out[("persona", month, dept, 0, fact["persona"] or "")] += 1
    if fact["closed"] and fact["root_cause_key"]:
        out[("root", month, dept, 0, fact["root_cause_key"])] += 1
    if fact.get("first_response_s") is not None:
        out[("frt", month, dept, 0, duration_bucket(fact["first_response_s"]))] += 1
    if fact.get("resolution_s") is not None:
        out[("res", month, dept, 0, duration_bucket(fact["resolution_s"]))] += 1
    if fact["closed"] and fact["assignee_id"] and fact.get("closed_day"):
        cm, a = fact["closed_day"].replace(day=1), fact["assignee_id"]
        out[("handled", cm, dept, a, "")] += 1
        if fact["reopened"]:
            out[("hreopen", cm, dept, a, "")] += 1
        if fact.get("resolution_s") is not None:
            out[("hres", cm, dept, a, duration_bucket(fact["resolution_s"]))] += 1
        if fact.get("csat_stars"):
            out[("hstars", cm, dept, a, str(fact["csat_stars"]))] += 1
    return out


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _rollup_delta(old: dict | None, new: dict) -> dict[tuple, tuple[int, dict]]:
    delta: dict[tuple, tuple[int, dict]] = {}
    for key, (c1, m) in contribution(new).items():
        delta[key] = (c1, dict(m))
    if old is not None:
        for key, (c1, m) in contribution(old).items():
            cur = delta.setdefault(key, (c1, dict.fromkeys(ROLLUP_MEASURES, 0)))[1]
            for k in ROLLUP_MEASURES:
                cur[k] -= m[k]
    return {k: v for k, v in delta.items() if any(v[1].values())}


def _upsert_add(model, keys: tuple, cols: list[str], rows: list[tuple], update: str) -> None:
    """Upsert many rows: `INSERT … ON CONFLICT (keys) DO UPDATE SET update`. PostgreSQL takes every
    column as one array (`unnest`: a short statement, whatever the number of rows); SQLite takes
    rows of VALUES, in chunks under its limit on statement parameters."""
    if not rows:
        return
    table = _table(model)
    head = f"INSERT INTO {table} ({', '.join(cols)}) "
    tail = f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {update}"
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            types = [model._meta.get_field(c).db_type(connection) for c in cols]
            arrays = ", ".join(f"%s::{t}[]" for t in types)
            cur.execute(f"{head}SELECT * FROM unnest({arrays}){tail}", [list(col) for col in zip(*rows)])
            return
        per = max(1, 30000 // len(cols))
        mark = f"({', '.join(['%s'] * len(cols))})"
        for i in range(0, len(rows), per):
            part = rows[i:i + per]
            cur.execute(f"{head}VALUES {', '.join([mark] * len(part))}{tail}", [v for r in part for v in r])


def _apply_rollup_delta(delta: dict[tuple, tuple[int, dict]]) -> None:
    table = _table(Rollup)
    rows = [(*key, c1, *(m[k] for k in ROLLUP_MEASURES)) for key, (c1, m) in delta.items()]
    updates = ", ".join(f"{m} = {table}.{m} + excluded.{m}" for m in ROLLUP_MEASURES)
    _upsert_add(Rollup, ROLLUP_KEYS, [*ROLLUP_KEYS, "category1_id", *ROLLUP_MEASURES], rows,
                f"{updates}, category1_id = excluded.category1_id")


def _apply_tally_delta(delta: Counter) -> None:
    rows = [(*key, n) for key, n in delta.items() if n]
    _upsert_add(Tally, TALLY_KEYS, [*TALLY_KEYS, "n"], rows, f"n = {_table(Tally)}.n + excluded.n")


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


def refresh_fact(complaint, *, fresh: bool = False) -> bool:
    """Recompute one complaint's fact and move its rollup and tally contributions (in the caller's transaction).

    Returns whether anything the dashboard counts changed."""
    old = ComplaintFact.objects.filter(pk=complaint.pk).values(*FACT_FIELDS).first()
    new = compute_fact(complaint, old=old, fresh=fresh)
    if old is not None and _comparable(old) == _comparable(new):
        if old["source_updated_at"] != new["source_updated_at"]:
            ComplaintFact.objects.filter(pk=complaint.pk).update(source_updated_at=new["source_updated_at"])
        return False
    _upsert_fact(complaint.pk, new)
    _apply_rollup_delta(_rollup_delta(old, new))
    tally = tally_contribution(new)
    if old is not None:
        tally.subtract(tally_contribution(old))
    _apply_tally_delta(tally)
    bump_version()
    return True


VERSION_KEY = "analytics:data-version"


def bump_version() -> None:
    """Invalidate cached dashboard payloads: now, and again when the complaint's transaction commits
    (a payload computed in between, from the old data, must not outlive the commit)."""
    def bump():
        from django.core.cache import cache

        try:
            if cache.add(VERSION_KEY, 1, timeout=None):
                return
            cache.incr(VERSION_KEY)
        except Exception:
            log.warning("analytics cache version bump failed", exc_info=True)

    bump()
    transaction.on_commit(bump)


def data_version() -> int:
    from django.core.cache import cache

    try:
        return int(cache.get(VERSION_KEY) or 0)
    except Exception:
        log.warning("analytics cache version read failed", exc_info=True)
        return 0


# ------------------------------------------------------------------ hooks

def _inline() -> bool:
    from django.conf import settings

    return bool(getattr(settings, "QINGTING_ANALYTICS_INLINE", False))


def queue(complaint_ids: list[int]) -> None:
    """Queue complaints' facts for the background refresh (in the caller's transaction)."""
    table = _table(FactQueue)
    now = timezone.now()
    with connection.cursor() as cur:
        for i in range(0, len(complaint_ids), 1000):
            part = complaint_ids[i:i + 1000]
            cur.execute(f"INSERT INTO {table} (complaint_id, queued_at) VALUES {', '.join(['(%s, %s)'] * len(part))} "
                        f"ON CONFLICT (complaint_id) DO NOTHING", [v for pk in part for v in (pk, now)])
    transaction.on_commit(DRAIN.kick)


def on_created(complaint, actor) -> None:
    if _inline():
        add_facts([complaint.pk])
    else:
        queue([complaint.pk])


def on_step_changed(complaint, old_step, new_step, actor, transition_kind) -> None:
    if _inline():
        refresh_fact(complaint)
    else:
        queue([complaint.pk])


def on_updated(complaint, changes, actor) -> None:
    if _inline():
        refresh_fact(complaint)
    else:
        queue([complaint.pk])


def on_imported(complaint_ids) -> None:
    if _inline():
        add_facts(complaint_ids)
    else:
        queue(complaint_ids)


def _claim(batch: int) -> list[int]:
    """Take up to `batch` queued complaints off the queue (committed at once; on PostgreSQL several
    drains never take the same rows). A crash after the claim loses nothing that `sync_changed`
    would not find: the complaint's fact is missing or older than the complaint."""
    table = _table(FactQueue)
    with transaction.atomic(), connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(f"DELETE FROM {table} WHERE complaint_id IN (SELECT complaint_id FROM {table} "
                        f"ORDER BY queued_at LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING complaint_id", [batch])
            return sorted(pk for (pk,) in cur.fetchall())
        ids = list(FactQueue.objects.order_by("queued_at").values_list("complaint_id", flat=True)[:batch])
        FactQueue.objects.filter(complaint_id__in=ids).delete()
        return sorted(ids)


def drain_queue(batch: int = 5000, limit: int | None = None) -> int:
    """Compute the facts of queued complaints, `batch` per transaction, until the queue is empty (or
    `limit` were done): new complaints together (`add_facts`), changed ones one by one. Complaint
    rows are locked in id order, as the hooks' transactions hold them: no deadlock. Returns how many.

    The queue is short in daily work; after a bulk import it holds every imported complaint. Each
    batch upserts the rollup rows its complaints touch, so fewer, larger batches do less: 20k
    imported complaints took 630–648 µs each in batches of 1,000, 322–363 µs in batches of 5,000
    (whose rows then stay locked 1.6–1.8 s, while their facts are computed)."""
    from qingting.complaints.models import Complaint

    done = 0
    while limit is None or done < limit:
        claimed = _claim(batch)
        if not claimed:
            break
        with transaction.atomic():
            locked = list(Complaint.objects.select_for_update().filter(pk__in=in_ids(claimed)).order_by("pk")
                          .values_list("pk", flat=True))
            added = set(add_facts(locked))
            for c in Complaint.objects.filter(pk__in=[pk for pk in locked if pk not in added]):
                refresh_fact(c)
        done += len(claimed)
    return done


DRAIN = background.Coalesced("analytics-drain", drain_queue, task_name="qingting.analytics.drain")


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
    return len(ids) + sync_other_apps()


SYNC_OVERLAP = dt.timedelta(minutes=10)  # re-read a little before the mark: transactions commit late


def sync_other_apps(limit: int = 20000) -> int:
    """Refresh the facts of complaints whose SLA deadlines or survey changed since the last run.

    Deadline states change in the SLA sweep and surveys arrive without a complaint hook; the
    facts (and the rollups' SLA and satisfaction counts) follow within one sync period.
    """
    from qingting.complaints.models import Complaint

    now = timezone.now()
    mark = SyncMark.objects.filter(name="other_apps").values_list("at", flat=True).first()
    if mark is None:  # the rebuild read everything: start from now
        SyncMark.objects.update_or_create(name="other_apps", defaults={"at": now})
        return 0
    since = mark - SYNC_OVERLAP
    ids: set[int] = set()
    deadline, survey = _deadline_model(), _survey_model()
    if deadline is not None:
        ids |= set(deadline.objects.filter(updated_at__gt=since).values_list("complaint_id", flat=True)[:limit])
    if survey is not None:
        ids |= set(survey.objects.filter(created_at__gt=since).values_list("complaint_id", flat=True)[:limit])
    changed = 0
    for pk in sorted(ids):
        with transaction.atomic():
            c = Complaint.objects.select_for_update().filter(pk=pk).first()
            if c is not None:
                changed += refresh_fact(c)
    SyncMark.objects.update_or_create(name="other_apps", defaults={"at": now})
    return changed


def _repeat_ids() -> set[int]:
    from qingting.complaints.models import Complaint

    rows = Complaint.objects.annotate(prev=Window(Lag("received_at"), partition_by=[F("customer_id")],
                                                  order_by=[F("received_at").asc(), F("id").asc()]))
    out = set()
    for pk, received, prev in rows.values_list("id", "received_at", "prev").iterator(chunk_size=20000):
        if prev is not None and received - prev <= REPEAT_WINDOW:
            out.add(pk)
    return out


FACT_SOURCE = ("id", "received_at", "department_id", "category_id", "channel", "priority", "profile_id",
               "assignee_id", "about", "closed_at", "reopen_count", "escalation_level", "emotion", "persona",
               "suspected_malicious", "root_cause", "updated_at", "customer_id")
CUSTOMER = FACT_SOURCE.index("customer_id")


def _facts_of_rows(rows: list[tuple], events, repeats: set[int]) -> list[tuple[int, dict]]:
    """[(complaint id, fact)] of Complaint rows read as FACT_SOURCE; `events` holds their first responses."""
    ids = [r[0] for r in rows]
    firsts = dict(events.filter(kind__in=FIRST_RESPONSE_KINDS).values("complaint_id").annotate(m=Min("at"))
                  .values_list("complaint_id", "m"))
    slas, stars = sla_counts(ids), survey_stars(ids)
    out = []
    for (pk, received, dept, cat, channel, prio, prof, assignee, about, closed_at, reopen, esc, emotion, persona,
         malicious, root, updated, _customer) in rows:
        out.append((pk, fact_values(received_at=received, department_id=dept, category_id=cat, channel=channel,
                                    priority=prio, profile_id=prof, assignee_id=assignee, about=about,
                                    closed_at=closed_at, reopen_count=reopen, escalation_level=esc, emotion=emotion,
                                    persona=persona, suspected_malicious=malicious,
                                    root_cause=root, first_response_at=firsts.get(pk), repeat=pk in repeats,
                                    updated_at=updated, sla=slas.get(pk), stars=stars.get(pk, 0))))
    return out


def _repeats_around(rows: list[tuple]) -> tuple[set[int], set[int]]:
    """For new complaints (FACT_SOURCE rows): which of them repeat an earlier complaint of their customer
    within REPEAT_WINDOW, and which other complaints of those customers they make repeats (a
    back-dated complaint arriving late). One query over the customers' complaints in the window."""
    from qingting.complaints.models import Complaint

    new_ids = {r[0] for r in rows}
    by_customer: dict[int, list[tuple]] = {}
    for r in rows:
        by_customer.setdefault(r[CUSTOMER], []).append((r[1], r[0]))
    lo = min(r[1] for r in rows) - REPEAT_WINDOW
    hi = max(r[1] for r in rows) + REPEAT_WINDOW
    history: dict[int, list[tuple]] = {}
    for customer, received, pk in (Complaint.objects.filter(customer_id__in=in_ids(by_customer), received_at__gte=lo,
                                                            received_at__lte=hi)
                                   .values_list("customer_id", "received_at", "id")):
        history.setdefault(customer, []).append((received, pk))
    repeats, made_repeats = set(), set()
    for customer, news in by_customer.items():
        seen = sorted(history.get(customer, []))
        for received, pk in news:
            if any(received - REPEAT_WINDOW <= r and (r, p) < (received, pk) for r, p in seen):
                repeats.add(pk)
            made_repeats.update(p for r, p in seen
                                if p not in new_ids and (r, p) > (received, pk) and r - received <= REPEAT_WINDOW)
    return repeats, made_repeats


def add_facts(ids) -> list[int]:
    """Facts of complaints that have none yet, computed together: one read of the rows, their first
    responses, links, deadlines and surveys; one COPY of the facts; their rollup and tally
    contributions summed into one upsert each. The caller holds the complaint rows (or they are
    new). Returns the ids that got a fact."""
    from qingting.complaints.models import Complaint, Event

    rows = list(Complaint.objects.filter(pk__in=in_ids(ids), analytics_fact__isnull=True).order_by("id")
                .values_list(*FACT_SOURCE))
    if not rows:
        return []
    new_ids = [r[0] for r in rows]
    repeats, made_repeats = _repeats_around(rows)
    facts = _facts_of_rows(rows, Event.objects.filter(complaint_id__in=in_ids(new_ids)),
                           repeats | repeat_link_ids(new_ids))
    _insert_facts([(pk, *(f[c] for c in FACT_FIELDS)) for pk, f in facts])
    rollup: dict[tuple, tuple[int, dict]] = {}
    tally: Counter = Counter()
    for _, fact in facts:
        for key, (c1, m) in contribution(fact).items():
            total = rollup.setdefault(key, (c1, dict.fromkeys(ROLLUP_MEASURES, 0)))[1]
            for k in ROLLUP_MEASURES:
                total[k] += m[k]
        tally.update(tally_contribution(fact))
    _apply_rollup_delta(rollup)
    _apply_tally_delta(tally)
    for other in (Complaint.objects.select_for_update().filter(pk__in=made_repeats, analytics_fact__repeat=False)
                  .order_by("pk")):
        refresh_fact(other, fresh=True)
    bump_version()
    return new_ids


def rebuild(*, batch: int = 5000, progress=None) -> int:
    """Recompute every fact and the rollups from the complaints (`qingting analytics-rebuild`)."""
    from qingting.complaints.models import Complaint, Event

    _category_parent.clear()
    repeats = _repeat_ids()
    total = 0
    with transaction.atomic():
        with connection.cursor() as cur:
            if connection.vendor == "postgresql":
                cur.execute(f"TRUNCATE {_table(Rollup)}, {_table(Tally)}, {_table(ComplaintFact)}")
            else:
                cur.execute(f"DELETE FROM {_table(Rollup)}")
                cur.execute(f"DELETE FROM {_table(Tally)}")
                cur.execute(f"DELETE FROM {_table(ComplaintFact)}")
        last_id = 0
        while True:
            rows = list(Complaint.objects.filter(id__gt=last_id).order_by("id").values_list(*FACT_SOURCE)[:batch])
            if not rows:
                break
            lo, hi = rows[0][0], rows[-1][0]
            firsts = Event.objects.filter(complaint_id__gte=lo, complaint_id__lte=hi)
            facts = _facts_of_rows(rows, firsts, repeats | repeat_link_ids([r[0] for r in rows]))
            _insert_facts([(pk, *(f[c] for c in FACT_FIELDS)) for pk, f in facts])
            total += len(rows)
            last_id = hi
            if progress:
                progress(total)
        rebuild_rollups_from_facts()
        SyncMark.objects.update_or_create(name="other_apps", defaults={"at": timezone.now()})
    cluster_facts()
    return total


def cluster_facts() -> None:
    """PostgreSQL: rewrite the fact table in day order, so a period's facts sit on neighbouring pages.

    New facts arrive roughly in day order anyway; the rebuild inserts in complaint order,
    which an import or a back-dated load can scatter over the whole table."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cur:
        cur.execute(f"CLUSTER {_table(ComplaintFact)} USING fact_day_cover")
        # VACUUM sets the visibility map (index-only scans); it cannot run inside a transaction
        cur.execute(f"{'ANALYZE' if connection.in_atomic_block else 'VACUUM (ANALYZE)'} {_table(ComplaintFact)}")


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
    """Rollups (one INSERT … SELECT … GROUP BY per grouping set) and tallies, from the fact table."""
    table, facts = _table(Rollup), _table(ComplaintFact)
    bool_sum = "SUM(CASE WHEN {c} THEN 1 ELSE 0 END)"
    measures = ", ".join([
        "MAX(category1_id)", "COUNT(*)", *(bool_sum.format(c=c) for c in ("closed", "reopened", "escalated",
                                                                         "malicious", "repeat")),
        "COUNT(first_response_s)", "COALESCE(SUM(first_response_s), 0)", "COUNT(resolution_s)",
        "COALESCE(SUM(resolution_s), 0)", *(f"SUM({f})" for f in SLA_FIELDS),
        *(f"SUM(CASE WHEN csat_stars = {i} THEN 1 ELSE 0 END)" for i in range(1, 6))])
    month = "CAST(date_trunc('month', day) AS date)" if connection.vendor == "postgresql" else \
        "date(day, 'start of month')"
    cols = f"{', '.join(ROLLUP_KEYS)}, category1_id, {', '.join(ROLLUP_MEASURES)}"
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {table}")
        for grain, day_expr in ((GRAIN_DAY, "day"), (GRAIN_MONTH, month)):
            cur.execute(f"INSERT INTO {table} ({cols}) SELECT %s, {day_expr}, department_id, category_id, channel, "
                        f"priority, {measures} FROM {facts} GROUP BY {day_expr}, department_id, category_id, "
                        f"channel, priority", [grain])
            cur.execute(f"INSERT INTO {table} ({cols}) SELECT %s, {day_expr}, department_id, category_id, %s, %s, "
                        f"{measures} FROM {facts} GROUP BY {day_expr}, department_id, category_id",
                        [grain, ALL, ALL])
    rebuild_tallies_from_facts()


def rebuild_tallies_from_facts(chunk: int = 50000) -> None:
    """Tallies need the histogram bucket function, so they are summed here in Python (COPY on PostgreSQL)."""
    fields = ("day", "department_id", "assignee_id", "series", "product", "brand", "emotion", "persona", "closed",
              "root_cause_key", "first_response_s", "resolution_s", "closed_day", "reopened", "csat_stars")
    total: Counter = Counter()
    for row in ComplaintFact.objects.order_by().values_list(*fields).iterator(chunk_size=chunk):
        total.update(tally_contribution(dict(zip(fields, row))))
    table = _table(Tally)
    cols = [*TALLY_KEYS, "n"]
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {table}")
    rows = [(*k, n) for k, n in total.items() if n]
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        with connection.connection.cursor() as cur:
            with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)
        return
    with connection.cursor() as cur:
        cur.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})", rows)
