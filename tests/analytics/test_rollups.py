"""The incrementally maintained facts and rollups equal a fresh count from the complaint rows."""
from __future__ import annotations

from collections import defaultdict

from django.apps import apps
from django.utils import timezone

from qingting.analytics import facts
from qingting.analytics.models import ROLLUP_MEASURES, ComplaintFact, DailyRollup
from qingting.complaints import services
from qingting.complaints.models import Complaint, Event

from .conftest import advance, make


def is_repeat_fresh(c) -> bool:
    """Same customer within 180 days before, or linked as a repeat by intake (when installed)."""
    if apps.is_installed("qingting.intake") and c.intake_links.filter(kind="repeat").exists():
        return True
    return Complaint.objects.filter(customer=c.customer, received_at__lt=c.received_at,
                                    received_at__gte=c.received_at - facts.REPEAT_WINDOW).exists()


def fresh_rollups() -> dict:
    """Recompute rollups straight from Complaint and Event rows (not from the fact table)."""
    out = defaultdict(lambda: dict.fromkeys(ROLLUP_MEASURES, 0))
    for c in Complaint.objects.select_related("category").all():
        first = Event.objects.filter(complaint=c, kind__in=("message.sent", "step.advanced")).order_by("at").first()
        earlier = is_repeat_fresh(c)
        key = (timezone.localtime(c.received_at).date(), c.department_id or 0, c.category_id or 0, c.channel, c.priority)
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
    return {k: v for k, v in out.items()}


def stored_rollups() -> dict:
    out = {}
    for r in DailyRollup.objects.all():
        if r.n == 0 and not any(getattr(r, m) for m in ROLLUP_MEASURES):
            continue
        out[(r.day, r.department_id, r.category_id, r.channel, r.priority)] = {m: getattr(r, m) for m in ROLLUP_MEASURES}
    return out


def test_rollups_follow_creates_transitions_updates(history):
    assert ComplaintFact.objects.count() == Complaint.objects.count() == 7
    expected = fresh_rollups()
    assert stored_rollups() == expected
    # the history did move things: a reopen, a department+category change, closures, a repeat customer
    assert sum(v["reopened"] for v in expected.values()) == 1
    assert sum(v["closed"] for v in expected.values()) == 2
    assert sum(v["repeat"] for v in expected.values()) >= 1
    assert sum(v["frt_n"] for v in expected.values()) >= 4


def test_rebuild_equals_incremental_and_fresh(history):
    before = stored_rollups()
    facts_before = {f["complaint_id"]: f for f in ComplaintFact.objects.values()}
    facts.rebuild()
    assert stored_rollups() == before == fresh_rollups()
    facts_after = {f["complaint_id"]: f for f in ComplaintFact.objects.values()}
    assert facts_after == facts_before


def test_hookless_changes_are_picked_up_by_sync(history, people):
    c = history[2]
    services.escalate_complaint(c.number, actor=people["manager"], reason="客户情绪激动")
    services.add_message(c.number, actor=people["manager"], body="您好，我们已安排专人处理。")
    fact = ComplaintFact.objects.get(pk=c.pk)  # the services' update hooks ran at commit time
    assert fact.escalated is True and fact.first_response_s is not None
    assert stored_rollups() == fresh_rollups()
    # a change made without the services (a data fix in SQL) is picked up by the sync job
    from django.utils import timezone

    from qingting.complaints.models import Complaint
    Complaint.objects.filter(pk=c.pk).update(escalation_level=0, escalated_to=None, updated_at=timezone.now())
    assert facts.sync_changed() >= 1
    assert ComplaintFact.objects.get(pk=c.pk).escalated is False
    assert stored_rollups() == fresh_rollups()
    assert facts.sync_changed() == 0  # nothing left to do


def test_moving_a_complaint_moves_its_rollup_row(people):
    m = people["manager"]
    c = make(m, dept="store-a", category="pq_engine")
    services.update_complaint(c.number, actor=m, changes={"department": "store-b"})
    rows = {(r.department_id, r.n) for r in DailyRollup.objects.all()}
    assert (c.department.pk, 0) in rows or all(r.department_id != c.department_id or r.n == 0
                                               for r in DailyRollup.objects.all())
    c.refresh_from_db()
    assert DailyRollup.objects.get(department_id=c.department_id).n == 1
    advance(c, m)
    r = DailyRollup.objects.get(department_id=c.department_id)
    assert (r.n, r.closed, r.res_n) == (1, 1, 1)
