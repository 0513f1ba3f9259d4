import pytest

from qingting.coaching.checker import check_reply
from qingting.coaching.drafts import (
    PERSONAS, STEPS, TemplatesError, guidance_card, load_templates, make_draft, parse_templates,
    pick_template, self_care_tips,
)

FACTS = {"customer_name": "王先生", "product": "轿车", "issue": "维修延误", "finding": "配件物流延误",
         "action": "安排代步车并加急维修", "due": "明天下午5点", "hotline": "400-800-1234",
         "agent_name": "李明", "org_name": "某某4S店", "options": "免费保养一次或赠送延保一年",
         "compensation": "不用额外花钱", "survey_link": "https://example.test/s/1"}


def test_every_step_drafts_without_placeholders_when_facts_are_complete():
    for step in STEPS:
        d = make_draft(step, facts=FACTS)
        assert d.missing == [] and "【" not in d.text and "{" not in d.text, (step, d.text)


def test_missing_facts_leave_visible_placeholders():
    d = make_draft("act", facts={"customer_name": "王先生"})
    assert "【处理时限】" in d.text and "due" in d.missing
    assert make_draft("act", facts=None).missing  # no crash without facts
    assert make_draft("no_such_step", facts={"x": object()}).step == "accept"


def test_persona_emotion_and_channel_pick_templates():
    _, templates = load_templates()
    assert pick_template(templates, "soothe", persona="emotional", emotion="anger").id == "soothe.emotional"
    assert pick_template(templates, "soothe", persona="ordinary", emotion="anger").id == "soothe.anger"
    assert pick_template(templates, "negotiate", persona="stubborn").id == "negotiate.stubborn"
    assert pick_template(templates, "accept", channel="social").id == "accept.social"
    assert pick_template(templates, "apologize", channel="letter").id == "apologize.letter"


def test_filled_act_draft_passes_the_checker():
    d = make_draft("act", channel="phone", facts=FACTS)
    r = check_reply(d.text, context={"fault": False})
    assert r.score >= 80, (d.text, r.codes)
    assert not any(f.severity == "error" for f in r.findings)


def test_guidance_cards_cover_every_persona_with_headline():
    for p in PERSONAS:
        card = guidance_card(p)
        assert card["headline_zh"] == "先处理心情，再处理事情"
        assert card["signs_zh"] and card["advice_zh"]
    assert guidance_card("unknown")["persona"] == "ordinary"
    assert len(self_care_tips("zh")) >= 5
    assert make_draft("soothe", persona="influential").card["persona"] == "influential"


def test_invalid_template_file_is_named():
    raw = '[placeholders]\na = "A"\n\n[[templates]]\nid = "x"\nstep = "bogus"\ntext = "{a}"\n'
    with pytest.raises(TemplatesError, match=r"t\.toml, line 5: templates\[0\]\.step"):
        parse_templates(raw, "t.toml")
    raw = '[placeholders]\na = "A"\n[[templates]]\nid = "x"\nstep = "accept"\ntext = "{zzz}"\n'
    with pytest.raises(TemplatesError, match="unknown fact"):
        parse_templates(raw, "t.toml")
