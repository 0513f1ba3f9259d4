"""Repeat (same customer) and possibly-related (different customers) detection."""
from __future__ import annotations



from qingting.complaints import services
from qingting.complaints.models import Event
from qingting.intake import duplicates
from qingting.intake.models import ComplaintLink, SimilarityBand, SimilaritySignature

TEXT = "我在贵店购买的新车发动机异响严重，多次维修都没有解决，4S店态度敷衍，要求退车并赔偿损失。"


def test_signature_and_band_keys_are_stable_across_versions():
    """Signatures and band keys are stored: a change of how they are computed would silently stop
    new complaints from meeting the old ones. These values were computed by the first version."""
    sig = duplicates.signature("车辆行驶中发动机故障灯亮，4S店检测后说是正常现象，要求退车并赔偿损失")
    assert sig[:5].tolist() == [52959431, 20828316, 212716698, 120296865, 194744420]
    assert duplicates.band_keys(sig)[:3] == [-558157551465052230, -9137118447231333778, 1995207141087819259]
    assert len(duplicates.band_keys(sig)) == duplicates.BANDS


def create(actor, description, mobile, *, subject="发动机异响", priority="P3", category=None):
    c, _ = services.create_complaint(actor=actor, subject=subject, description=description, channel="phone",
                                     customer={"name": "客户", "mobile": mobile}, priority=priority, category=category)
    return c


def test_signature_similarity_on_chinese():
    a = duplicates.signature(TEXT)
    b = duplicates.signature(TEXT.replace("要求退车并赔偿损失", "要求退车"))
    c = duplicates.signature("手机屏幕碎了，快递包装破损，要求换货。")
    assert duplicates.estimate(a, b) > 0.6 > duplicates.estimate(a, c)
    assert duplicates.signature("好") is None, "too short to compare"
    assert duplicates.signature("ＡＢＣ发动机异响") is not None
    assert len(duplicates.band_keys(a)) == duplicates.BANDS


def test_repeat_from_same_customer_is_linked_and_raises_priority(people, django_capture_on_commit_callbacks):
    agent = people["agent"]
    first = create(agent, TEXT, "13800138000", category="pq_engine")
    with django_capture_on_commit_callbacks(execute=True):
        second = create(agent, "发动机还是响，上次说好的维修一直没人联系，再不处理我就去315投诉。", "13800138000",
                        category="pq_engine")
    link = ComplaintLink.objects.get(complaint=second, kind="repeat")
    assert link.other_id == first.pk
    second.refresh_from_db()
    assert second.priority == "P2", "a repeat goes up one level (capped at P2)"
    assert Event.objects.filter(complaint=second, kind="link.repeat").exists()
    assert Event.objects.filter(complaint=second, kind="complaint.updated", after__priority="P2").exists()
    links = duplicates.links_for(first, agent)
    assert links[0]["number"] == second.number and links[0]["kind_name"] == "重复投诉"


def test_unrelated_matter_from_same_customer_is_not_a_repeat(people):
    agent = people["agent"]
    create(agent, TEXT, "13800138000")
    other = create(agent, "营业厅排队两个小时没人办理，环境很差。", "13800138000", subject="排队太久")
    assert not ComplaintLink.objects.filter(complaint=other).exists()


def test_near_duplicate_from_other_customer_is_possibly_related(people):
    agent = people["agent"]
    first = create(agent, TEXT, "13800138000")
    second = create(agent, TEXT + "请尽快回复。", "13900139000")
    link = ComplaintLink.objects.get(complaint=second)
    assert link.kind == "related" and link.other_id == first.pk and link.similarity >= 0.5
    assert SimilaritySignature.objects.filter(complaint_id=second.pk).exists()
    assert SimilarityBand.objects.filter(complaint_id=second.pk).count() == duplicates.BANDS


def test_links_respect_visibility(people):
    first = create(people["agent"], TEXT, "13800138000")
    second = create(people["other_agent"], TEXT + "请尽快回复。", "13900139000")
    assert duplicates.links_for(second, people["other_agent"]) == [], "the other store's complaint stays hidden"
    assert [l["number"] for l in duplicates.links_for(second, people["manager"])] == [first.number]


def test_raised_priority_rule():
    assert duplicates.raised_priority("P4", 1, "P2") == "P3"
    assert duplicates.raised_priority("P3", 2, "P2") == "P2"
    assert duplicates.raised_priority("P1", 1, "P2") == "P1"


def test_links_snippet_renders(people):
    from django.template.loader import render_to_string

    first = create(people["agent"], TEXT, "13800138000")
    second = create(people["agent"], TEXT, "13800138000")
    html = render_to_string("intake/_links.html", {"links": duplicates.links_for(second, people["agent"])})
    assert first.number in html and "重复投诉" in html
