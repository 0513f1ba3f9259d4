"""The incrementally maintained facts and rollups equal a fresh count from the complaint rows."""
from __future__ import annotations

from collections import defaultdict

from django.apps import apps
from django.utils import timezone

from qingting.analytics import facts
from qingting.analytics.models import (
    ALL,
    ROLLUP_MEASURES,
    SLA_FIELDS,
    ComplaintFact,
    Rollup,
    Tally,
)
from qingting.complaints import services
from qingting.complaints.models import Complaint, Event

from .conftest import advance, make


def is_repeat_fresh(c) -> bool:
    """Same customer within 180 days before, or linked as a repeat by intake (when installed)."""
    if apps.is_installed("qingting.intake") and c.intake_links.filter(kind="repeat").exists():
        return True
    return Complaint.objects.filter(customer=c.customer, received_at__lt=c.received_at,
                                    received_at__gte=c.received_at - facts.REPEAT_WINDOW).exists()


def fresh_sla_csat(c) -> dict:
    """The complaint's deadline counts by kind group and state, and its survey stars, from sla/intake rows."""
    out = dict.fromkeys(SLA_FIELDS, 0)
    if apps.is_installed("qingting.sla"):
        for d in c.deadlines.all():
            group = {"first_response": "frt", "resolution": "res"}.get(d.kind, "oth")
            out[f"sla_{group}_{d.state if d.state in ('met', 'breached') else 'open'}"] += 1
    stars = 0
    if apps.is_installed("qingting.intake"):
        from qingting.intake.models import SatisfactionSurvey

        stars = SatisfactionSurvey.objects.filter(complaint=c).values_list("stars", flat=True).first() or 0
    out.update({f"csat_{i}": int(stars == i) for i in range(1, 6)})
    return out


def fresh_rollups() -> dict:
    """Recompute rollups (all four grouping sets) straight from Complaint, Event, Deadline and Survey rows."""
    out = defaultdict(lambda: dict.fromkeys(ROLLUP_MEASURES, 0))
    for c in Complaint.objects.select_related("category").all():
        other = fresh_sla_csat(c)
        first = Event.objects.filter(complaint=c, kind__in=("message.sent", "step.advanced")).order_by("at").first()
        earlier = is_repeat_fresh(c)
        day = timezone.localtime(c.received_at).date()
        dims = (c.department_id or 0, c.category_id or 0)
        for key in (("d", day, *dims, c.channel, c.priority), ("d", day, *dims, ALL, ALL),
                    ("m", day.replace(day=1), *dims, c.channel, c.priority), ("m", day.replace(day=1), *dims, ALL, ALL)):
            m = out[key]
            m["n"] += 1
            m["closed"] += c.closed_at is not None
            m["reopened"] += c.reopen_count > 0
            m["escalated"] += c.escalation_level > 0
            m["malicious"] += (c.triage or {}).get("nature", {}).get("code") == "suspected_malicious"
            m["repeat"] += earlier
            if first is not None:
                m["frt_n"] += 1
                m["frt_sum"] += int((first.at - c.received_at).total_seconds())
            if c.closed_at is not None:
                m["res_n"] += 1
                m["res_sum"] += int((c.closed_at - c.received_at).total_seconds())
            for k, v in other.items():
                m[k] += v
    return {k: v for k, v in out.items()}


def fresh_tallies() -> dict:
    """Recompute the monthly tallies straight from Complaint and Event rows."""
    out = defaultdict(int)
    for c in Complaint.objects.all():
        first = Event.objects.filter(complaint=c, kind__in=("message.sent", "step.advanced")).order_by("at").first()
        month = timezone.localtime(c.received_at).date().replace(day=1)
        dept = c.department_id or 0
        about, triage = c.about or {}, c.triage or {}
        for kind, value in (("series", about.get("series", "")), ("brand", about.get("brand", "")),
                            ("product", about.get("vehicle_model") or about.get("product") or "")):
            if value:
                out[(kind, month, dept, 0, value)] += 1
        out[("emotion", month, dept, 0, (triage.get("emotion") or {}).get("code", ""))] += 1
        personas = triage.get("personas") or []
        out[("persona", month, dept, 0, personas[0]["code"] if personas else "")] += 1
        if first is not None:
            out[("frt", month, dept, 0, facts.duration_bucket(int((first.at - c.received_at).total_seconds())))] += 1
        if c.closed_at is not None:
            res = int((c.closed_at - c.received_at).total_seconds())
            out[("res", month, dept, 0, facts.duration_bucket(res))] += 1
            if c.root_cause.strip():
                out[("root", month, dept, 0, facts.root_cause_key(c.root_cause))] += 1
            if c.assignee_id:
                cm = timezone.localtime(c.closed_at).date().replace(day=1)
                out[("handled", cm, dept, c.assignee_id, "")] += 1
                if c.reopen_count > 0:
                    out[("hreopen", cm, dept, c.assignee_id, "")] += 1
                out[("hres", cm, dept, c.assignee_id, facts.duration_bucket(res))] += 1
                stars = next((i for i in range(1, 6) if fresh_sla_csat(c)[f"csat_{i}"]), 0)
                if stars:
                    out[("hstars", cm, dept, c.assignee_id, str(stars))] += 1
    return dict(out)


def stored_rollups() -> dict:
    out = {}
    for r in Rollup.objects.all():
        if r.n == 0 and not any(getattr(r, m) for m in ROLLUP_MEASURES):
            continue
        out[(r.grain, r.day, r.department_id, r.category_id, r.channel, r.priority)] = \
            {m: getattr(r, m) for m in ROLLUP_MEASURES}
    return out


def stored_tallies() -> dict:
    return {(t.kind, t.month, t.department_id, t.assignee_id, t.key): t.n for t in Tally.objects.all() if t.n}


def _without(rollups: dict, fields) -> dict:
    return {k: {m: v for m, v in ms.items() if m not in fields} for k, ms in rollups.items()}


def test_rollups_follow_creates_transitions_updates(history):
    assert ComplaintFact.objects.count() == Complaint.objects.count() == 7
    expected = fresh_rollups()
    # the complaint hooks keep every count; deadline states the SLA app sets after our hook ran are
    # picked up by the sync job (it reads deadlines changed since its last run)
    assert _without(stored_rollups(), SLA_FIELDS) == _without(expected, SLA_FIELDS)
    facts.sync_changed()
    assert stored_rollups() == expected
    assert stored_tallies() == fresh_tallies()
    expected = {k: v for k, v in expected.items() if k[0] == "d" and k[4] != ALL}  # one grouping set
    # the history did move things: a reopen, a department+category change, closures, a repeat customer
    assert sum(v["reopened"] for v in expected.values()) == 1
    assert sum(v["closed"] for v in expected.values()) == 2
    assert sum(v["repeat"] for v in expected.values()) >= 1
    assert sum(v["frt_n"] for v in expected.values()) >= 4


def test_rebuild_equals_incremental_and_fresh(history):
    before = stored_rollups()
    facts_before = {f["complaint_id"]: f for f in ComplaintFact.objects.values()}
    tallies_before = stored_tallies()
    facts.rebuild()
    assert stored_rollups() == before == fresh_rollups()
    assert stored_tallies() == tallies_before == fresh_tallies()
    facts_after = {f["complaint_id"]: f for f in ComplaintFact.objects.values()}
    assert facts_after == facts_before


def test_hookless_changes_are_picked_up_by_sync(history, people):
    c = history[2]
    services.escalate_complaint(c.number, actor=people["manager"], reason="客户情绪激动")
    services.add_message(c.number, actor=people["manager"], body="您好，我们已安排专人处理。")
    fact = ComplaintFact.objects.get(pk=c.pk)  # the services' update hooks ran at commit time
    assert fact.escalated is True and fact.first_response_s is not None
    facts.sync_changed()
    assert stored_rollups() == fresh_rollups()
    assert stored_tallies() == fresh_tallies()
    # a change made without the services (a data fix in SQL) is picked up by the sync job
    from django.utils import timezone

    from qingting.complaints.models import Complaint
    Complaint.objects.filter(pk=c.pk).update(escalation_level=0, escalated_to=None, updated_at=timezone.now())
    assert facts.sync_changed() >= 1
    assert ComplaintFact.objects.get(pk=c.pk).escalated is False
    assert stored_rollups() == fresh_rollups()
    assert stored_tallies() == fresh_tallies()
    assert facts.sync_changed() == 0  # nothing left to do


def test_moving_a_complaint_moves_its_rollup_row(people):
    m = people["manager"]
    c = make(m, dept="store-a", category="pq_engine")
    old_dept = c.department_id
    services.update_complaint(c.number, actor=m, changes={"department": "store-b"})
    c.refresh_from_db()
    assert c.department_id != old_dept
    # all four grouping sets moved: nothing left on the old department, one complaint on the new one
    assert all(r.n == 0 for r in Rollup.objects.filter(department_id=old_dept))
    assert sorted((r.grain, r.channel == ALL, r.n) for r in Rollup.objects.filter(department_id=c.department_id)) == \
        [("d", False, 1), ("d", True, 1), ("m", False, 1), ("m", True, 1)]
    assert not Tally.objects.filter(department_id=old_dept, n__gt=0).exists()
    advance(c, m)
    for r in Rollup.objects.filter(department_id=c.department_id):
        assert (r.n, r.closed, r.res_n) == (1, 1, 1)
    assert Tally.objects.get(kind="res", department_id=c.department_id).n == 1
    assert stored_rollups() == fresh_rollups()
    assert stored_tallies() == fresh_tallies()
