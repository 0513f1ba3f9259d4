"""Triage at creation: the snapshot with evidence is stored, denormalised for queues, and
re-run on edit or on demand; agents' category decisions become training labels."""
import pytest

from qingting.complaints import services
from qingting.complaints.models import ComplaintFlag, Event, TrainingLabel

from ..conftest import COMPLAINT

pytestmark = pytest.mark.django_db

SAFETY = {**COMPLAINT, "subject": "刹车失灵", "description": "新车刹车失灵差点出事故，不解决我就找媒体曝光！",
          "profile": "auto4s"}


def test_created_complaint_carries_triage_with_evidence(api_for):
    api = api_for("agent")
    status, c = api.post("/api/v1/complaints", SAFETY)
    assert status == 201
    t = c["triage"]
    assert t["priority"]["code"] == "P1" and c["priority"] == "P1"  # no priority given: triage decides
    signals = {s["code"]: s for s in t["signals"]}
    assert {"safety", "media"} <= set(signals)
    ev = signals["safety"]["evidence"][0]
    text = f"{SAFETY['subject']}\n{SAFETY['description']}"
    assert text[ev["start"]:ev["end"]] == ev["text"]
    assert c["category"]["code"] in {"product_quality", "pq_brake"}


def test_given_priority_wins_over_triage(api_for):
    status, c = api_for("agent").post("/api/v1/complaints", {**SAFETY, "priority": "P3"})
    assert status == 201 and c["priority"] == "P3" and c["triage"]["priority"]["code"] == "P1"


def test_queue_filters_by_signal_persona_emotion_and_sorts_by_priority(api_for):
    api = api_for("agent")
    api.post("/api/v1/complaints", {**COMPLAINT, "subject": "咨询保养价格", "description": "想问一下保养多少钱", "priority": "P4"})
    _, urgent = api.post("/api/v1/complaints", SAFETY)
    items = api.get("/api/v1/complaints?signal=safety")[1]["items"]
    assert [i["number"] for i in items] == [urgent["number"]]
    assert api.get("/api/v1/complaints?persona=influential")[1]["items"][0]["number"] == urgent["number"]
    emotion = urgent["triage"]["emotion"]["code"]
    assert urgent["number"] in [i["number"] for i in api.get(f"/api/v1/complaints?emotion={emotion}")[1]["items"]]
    api.post("/api/v1/complaints", {**COMPLAINT, "subject": "再问保养", "description": "保养周期", "priority": "P4"})
    page = api.get("/api/v1/complaints?sort=priority&limit=1")[1]
    assert page["items"][0]["priority"] == "P1"
    second = api.get(f"/api/v1/complaints?sort=priority&limit=5&cursor={page['next']}")[1]["items"]
    priorities = [page["items"][0]["priority"]] + [i["priority"] for i in second]
    assert len(priorities) == 3 and priorities == sorted(priorities)  # most urgent first, nothing lost
    assert priorities[-2:] == ["P4", "P4"]
    assert api.get("/api/v1/complaints?sort=sideways")[0] == 422
    assert api.get("/api/v1/complaints?signal=<script>")[0] == 422


def test_editing_the_text_reruns_triage_and_flags(new_complaint, people):
    c = new_complaint(subject="咨询", description="想了解一下营业时间")
    assert not ComplaintFlag.objects.filter(complaint=c, kind="signal", code="safety").exists()
    services.update_complaint(c.number, actor=people["agent"], changes={"description": "车辆起火冒烟，司机受伤！"})
    c.refresh_from_db()
    assert ComplaintFlag.objects.filter(complaint=c, kind="signal", code="safety").exists()
    assert any(s["code"] == "safety" for s in c.triage["signals"])


def test_rerun_on_demand_is_on_the_timeline(api_for):
    api = api_for("agent")
    _, c = api.post("/api/v1/complaints", SAFETY)
    status, out = api.post(f"/api/v1/complaints/{c['number']}/triage")
    assert status == 200
    assert Event.objects.filter(complaint__number=c["number"], kind="triage.analyzed", after__on_demand=True).exists()
    assert api_for("auditor").post(f"/api/v1/complaints/{c['number']}/triage")[0] == 403


def test_correcting_the_category_records_a_training_label(new_complaint, people):
    c = new_complaint()
    services.update_complaint(c.number, actor=people["agent"], changes={"category": "sa_rude"})
    label = TrainingLabel.objects.get(complaint=c)
    assert label.category.code == "sa_rude" and label.actor == people["agent"]


def test_triage_failure_never_blocks_registration(new_complaint, monkeypatch):
    import qingting.triage

    def boom(*a, **k):
        raise RuntimeError("model exploded")

    monkeypatch.setattr(qingting.triage, "analyze", boom)
    c = new_complaint()
    assert c.pk and c.triage == {} and c.priority == "P3"


def test_detail_page_highlights_the_evidence_escaped(client, people, new_complaint):
    c = new_complaint(subject="刹车失灵", description="<b>刹车失灵</b>差点出事故，我要找媒体曝光！", profile="auto4s")
    client.force_login(people["agent"])
    html = client.get(f"/complaints/{c.number}/").content.decode()
    assert '<mark class="ev-signal" title="危机信号：人身安全/健康' in html and "刹车失灵</mark>" in html
    assert "&lt;b&gt;" in html and "<b>刹车失灵" not in html
    queue = client.get("/complaints/?sort=priority&signal=safety").content.decode()
    assert c.number in queue


def test_administrator_lexicon_extends_triage(db, settings, tmp_path, new_complaint, people):
    from django.core.exceptions import ValidationError

    from qingting.complaints import triage_link
    from qingting.complaints.models import TriageLexicon

    settings.DATA_DIR = tmp_path
    bad = TriageLexicon(name="broken", content='[[rule]]\nid = "x"\nsignal = "crisis"\nlabel = "safety"\nterms = 5\n')
    with pytest.raises(ValidationError):
        bad.full_clean()
    rule = ('[meta]\nlang = "zh"\n\n[[rule]]\nid = "crisis.safety.local"\nsignal = "crisis"\nlabel = "safety"\nweight = 1.5\n'
            'terms = ["电梯困人"]\n')
    lexicon = TriageLexicon(name="local-safety", content=rule)
    lexicon.full_clean()
    lexicon.save()
    before = new_complaint(subject="物业投诉", description="小区电梯困人半小时没人管")
    assert not any(s["code"] == "safety" for s in before.triage.get("signals", []))
    triage_link.write_lexicons()
    after = new_complaint(subject="物业投诉", description="小区电梯困人半小时没人管")
    assert any(s["code"] == "safety" for s in after.triage["signals"])
    TriageLexicon.objects.all().delete()
    triage_link.write_lexicons()
    assert not list((tmp_path / "triage" / "lexicons").glob("*.toml"))


def test_a_subject_made_from_the_description_is_not_read_twice(api_for):
    from qingting.complaints.triage_link import triage_text

    desc = "新车刹车失灵！！差点出事故\n4S店一直推脱"
    assert triage_text("新车刹车失灵！！差点出事故", desc) == (desc, None)
    assert triage_text("新车刹车失灵…", desc) == (desc, None)  # the first line cut short
    assert triage_text("刹车问题", desc) == (f"刹车问题\n{desc}", "刹车问题")

    api = api_for("agent")
    _, derived = api.post("/api/v1/complaints", {**SAFETY, "subject": "新车刹车失灵！！差点出事故", "description": desc})
    _, titled = api.post("/api/v1/complaints", {**SAFETY, "subject": "刹车问题", "description": desc})
    safety = {s["code"]: s for s in derived["triage"]["signals"]}["safety"]
    assert [e["text"] for e in safety["evidence"]].count("刹车失灵") == 1  # not once more from the subject
    assert derived["triage"]["text_length"] == len(desc)
    assert titled["triage"]["text_length"] == len("刹车问题") + 1 + len(desc)


def test_highlight_offsets_follow_the_text_the_snapshot_was_computed_on(db):
    from qingting.complaints.highlight import evidence_segments

    desc = "刹车失灵，很危险"
    ev = {"signals": [{"code": "safety", "zh": "人身安全", "evidence": [{"start": 0, "end": 4}]}],
          "text_length": len(desc)}
    assert evidence_segments(ev, "刹车失灵", desc)[0] == {"text": "刹车失灵", "label": "危机信号：人身安全", "css": "signal"}
    # a snapshot computed on "subject + newline + description" (a distinct subject, or an older snapshot)
    old = {"signals": [{"code": "safety", "zh": "人身安全", "evidence": [{"start": 5, "end": 9}]}],
           "text_length": len("刹车失灵") + 1 + len(desc)}
    assert evidence_segments(old, "刹车失灵", desc)[0] == {"text": "刹车失灵", "label": "危机信号：人身安全", "css": "signal"}


def test_ordinary_customers_have_no_persona_flag_and_are_found_by_the_column(api_for):
    """"ordinary" (triage found no difficult-customer type) is said by the persona column, not by
    a flag row per complaint; the queue's persona filter finds such complaints by the column."""
    api = api_for("agent")
    _, calm = api.post("/api/v1/complaints", {**COMPLAINT, "subject": "咨询保养价格", "description": "想问一下保养多少钱"})
    _, urgent = api.post("/api/v1/complaints", SAFETY)
    assert [p["code"] for p in calm["triage"]["personas"]] == ["ordinary"]
    assert not ComplaintFlag.objects.filter(complaint__number=calm["number"], kind="persona").exists()
    assert ComplaintFlag.objects.filter(complaint__number=urgent["number"], kind="persona", code="influential").exists()
    assert [i["number"] for i in api.get("/api/v1/complaints?persona=ordinary")[1]["items"]] == [calm["number"]]
    assert [i["number"] for i in api.get("/api/v1/complaints?persona=influential")[1]["items"]] == [urgent["number"]]


@pytest.mark.django_db(transaction=True)
def test_migration_drops_ordinary_persona_flags_and_back(new_complaint):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    calm = new_complaint(subject="咨询", description="想了解一下营业时间")
    loud = new_complaint(subject="刹车失灵", description="新车刹车失灵差点出事故，不解决我就找媒体曝光！")
    flags = lambda: set(ComplaintFlag.objects.filter(kind="persona").values_list("complaint_id", "code"))  # noqa: E731
    assert calm.persona == "ordinary" and (calm.pk, "ordinary") not in flags() and (loud.pk, "influential") in flags()
    executor = MigrationExecutor(connection)
    executor.migrate([("complaints", "0011_partial_contact_and_escalation_indexes")])  # back: a row per ordinary one
    assert (calm.pk, "ordinary") in flags() and (loud.pk, "ordinary") not in flags()
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert (calm.pk, "ordinary") not in flags() and (loud.pk, "influential") in flags()
