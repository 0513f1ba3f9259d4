"""Outside the tests the complaint hooks only queue the fact; the background drain computes it."""
from __future__ import annotations

import pytest

from qingting.analytics import facts
from qingting.analytics.models import ALL, SLA_FIELDS, ComplaintFact, FactQueue, Rollup, Tally
from qingting.complaints import services
from qingting.intake.actors import system_user
from qingting.intake.importer import mapping as mapping_mod
from qingting.intake.importer.engine import run_import
from tests.conftest import shared_data

from .conftest import make
from .test_rollups import _without, fresh_rollups, fresh_tallies, stored_rollups, stored_tallies


@pytest.fixture
def queued(settings):
    settings.QINGTING_ANALYTICS_INLINE = False


def test_hooks_queue_and_the_drain_equals_a_fresh_count(queued, history, people):
    # registering, moving and editing complaints wrote no fact: one queue row per complaint
    assert ComplaintFact.objects.count() == 0
    assert FactQueue.objects.count() == 7
    assert facts.drain_queue(batch=2) == 7  # the back-dated one and its later repeat in two batches
    assert not FactQueue.objects.exists()
    # (the history holds a back-dated complaint that makes its customer's later one a repeat)
    assert _without(stored_rollups(), SLA_FIELDS) == _without(fresh_rollups(), SLA_FIELDS)
    facts.sync_changed()
    assert stored_rollups() == fresh_rollups()
    assert stored_tallies() == fresh_tallies()
    assert facts.drain_queue() == 0

    c = history[4]
    services.update_complaint(c.number, actor=people["manager"], changes={"priority": "P1"})
    assert list(FactQueue.objects.values_list("complaint_id", flat=True)) == [c.pk]
    assert ComplaintFact.objects.get(pk=c.pk).priority == "P3"
    assert facts.drain_queue() == 1
    assert ComplaintFact.objects.get(pk=c.pk).priority == "P1"
    assert stored_rollups() == fresh_rollups()


def test_the_drain_is_kicked_once_the_complaint_is_committed(queued, people, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        c = make(people["manager"])
    assert facts.DRAIN.kick in callbacks
    assert FactQueue.objects.filter(complaint_id=c.pk).exists()


@pytest.mark.data
def test_an_import_queues_its_complaints_and_one_drain_counts_them_all(queued, db):
    report = run_import(shared_data("car_complaints_2024-01-29_to_2024-02-28.csv"),
                        mapping_mod.get_mapping("car-complaints"), actor=system_user("import"), workers=0)
    assert report.imported > 900
    assert ComplaintFact.objects.count() == 0 and FactQueue.objects.count() == report.imported
    assert facts.drain_queue(batch=500) == report.imported
    assert ComplaintFact.objects.count() == report.imported
    assert sum(Rollup.objects.filter(grain="d", channel=ALL).values_list("n", flat=True)) == report.imported
    assert sum(Tally.objects.filter(kind="emotion").values_list("n", flat=True)) == report.imported


def test_facts_take_the_triage_dimensions_from_the_complaint_columns(queued, people):
    """The fact's emotion, persona and suspected-malicious come from the columns the queues
    filter on (copied out of the snapshot when triage runs), without parsing the snapshot."""
    from qingting.complaints.models import Complaint

    c = make(people["agent"], subject="你们这是欺诈！我已经向12315投诉，还要找媒体曝光！！")
    Complaint.objects.filter(pk=c.pk).update(emotion="anxiety", persona="prepared", suspected_malicious=True,
                                             triage={})
    assert facts.drain_queue() == 1
    fact = ComplaintFact.objects.get(pk=c.pk)
    assert (fact.emotion, fact.persona, fact.malicious) == ("anxiety", "prepared", True)
    Complaint.objects.filter(pk=c.pk).update(persona="", suspected_malicious=False)
    c.refresh_from_db()
    assert facts.refresh_fact(c, fresh=True)
    fact.refresh_from_db()
    assert (fact.emotion, fact.persona, fact.malicious) == ("anxiety", "", False)
