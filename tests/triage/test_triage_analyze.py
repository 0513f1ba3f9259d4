import json

import pytest

from qingting.triage import analyze, set_active_model


@pytest.fixture(autouse=True)
def _no_model():
    set_active_model(None)
    yield
    set_active_model(None)


def codes(labels):
    return {x.code for x in labels}


def test_safety_is_p1_with_evidence_in_original_text():
    text = "我的車在高速上突然熄火，差點出車禍！"
    t = analyze(text, profile="auto4s")
    assert "safety" in codes(t.signals)
    assert t.priority.code == "P1" and "人身安全" in t.priority.reason
    ev = next(s for s in t.signals if s.code == "safety").evidence
    assert ev and all(text[e.start:e.end] == e.text for e in ev)
    assert any(e.text in ("差點出車禍", "突然熄火", "高速上突然熄火") for e in ev)


def test_negated_safety_term_does_not_fire():
    t = analyze("车辆停放时发现漆面划痕，没有起火也没有人受伤，只是希望补漆。", profile="auto4s")
    assert "safety" not in codes(t.signals)
    assert t.priority.code in ("P3", "P4")


def test_calm_factual_complaint_is_low_priority():
    t = analyze("车机系统没有升级更新，没有carplay等互联功能，希望厂家安排升级。", profile="auto4s")
    assert t.signals == ()
    assert t.emotion.code == "calm"
    assert codes(t.personas) == {"ordinary"}
    assert t.priority.code == "P4"
    assert t.category.choice.level2 == "electrical" and t.category.choice.level1 == "product_quality"


def test_extortion_is_flagged_never_rejected():
    t = analyze("不给我赔5万块钱，我就把视频发到抖音上让你们上热搜！", profile="catering")
    assert t.nature.code == "suspected_malicious"
    assert t.nature.action == "supervisor_review"
    assert "extortion" in codes(t.nature.reasons)
    assert "media" in codes(t.signals)


def test_excessive_demand_and_mass_copy():
    assert analyze("这点小事你们必须赔偿我精神损失费100万").nature.code == "suspected_malicious"
    t = analyze("商品有问题，请处理", duplicate_count=5)
    assert "mass_copy" in codes(t.nature.reasons)


def test_personas_from_the_seed_types():
    t = analyze("我是律师，根据消费者权益保护法第二十四条和三包规定，你们必须退车，我有录音为证。", profile="auto4s")
    got = codes(t.personas)
    assert {"prepared", "influential", "stubborn"} <= got
    t = analyze("我是你们的老客户，每年在你们店消费几十万，我开车二十年了，你们懂不懂车？", profile="auto4s")
    assert "self_important" in codes(t.personas)
    t = analyze("我投诉不是为了自己，是不想其他消费者再上当受骗，国产品牌更要争气。")
    assert "righteous" in codes(t.personas)


def test_regulator_group_legal_repeat():
    t = analyze("我们车主群里几十个车主都是这个问题，已经向12315和市场监管局投诉，准备集体起诉。")
    assert {"group", "regulator", "legal"} <= codes(t.signals)
    assert t.priority.code == "P1"
    t = analyze("这是我第三次投诉了，问题至今未解决。")
    assert "repeat" in codes(t.signals)
    t = analyze("维修进度怎么样了", repeat_count=2)
    assert "repeat" in codes(t.signals)
    assert any(e.source == "context" for s in t.signals for e in s.evidence)


def test_emotion_intensity_rises_with_insults_and_exclamations():
    calm = analyze("请帮忙查询一下退款进度，谢谢。")
    angry = analyze("你们这些骗子！！！垃圾服务，态度极差，气死我了！！！")
    assert calm.emotion.code == "calm" and calm.emotion.intensity < 0.3
    assert angry.emotion.code == "anger" and angry.emotion.intensity > 0.8
    assert "emotional" in codes(angry.personas)


def test_advice_card_headed_by_principle():
    t = analyze("气死我了！！！你们太欺负人了！！")
    assert t.advice["header"] == "先处理心情，再处理事情"
    card = next(c for c in t.advice["cards"] if c["code"] == "emotional")
    assert any("宣泄" in tip for tip in card["tips"])


def test_english_complaint():
    t = analyze("I have called them multiple times!!! They are harassing me and I will contact my attorney and file with the CFPB.",
                profile="finance")
    assert t.language == "en"
    assert {"legal", "regulator", "repeat"} <= codes(t.signals)
    assert t.emotion.code == "anger"


def test_pii_spans_in_result_use_original_offsets_without_the_digits():
    text = "张先生 手机：１３８１２３４５６７８，请回电"
    d = analyze(text).to_dict()
    (p,) = d["pii"]
    assert p["kind"] == "mobile" and text[p["start"]:p["end"]] == "１３８１２３４５６７８"
    assert "text" not in p  # the snapshot must not duplicate personal data


def test_to_dict_is_json_and_has_stable_keys():
    d = analyze("服务态度恶劣，乱收费", profile="auto4s", channel="phone", subject="投诉4S店").to_dict()
    json.dumps(d, ensure_ascii=False)
    assert {"model_version", "lexicon_version", "language", "category", "nature", "emotion", "personas",
            "signals", "priority", "pii", "advice", "notes", "truncated"} <= d.keys()
    assert d["category"]["level1"]["zh"] and len(d["category"]["alternatives"]) <= 2
    assert d["model_version"] == "lexicon"


def test_channel_context_and_unknown_profile():
    t = analyze("问题一直没处理", channel="regulator", profile="nope")
    assert "regulator" in codes(t.signals)
    assert any("unknown profile" in n for n in t.notes)


def test_huge_input_truncated_with_note():
    t = analyze("刹车失灵！" + "啊" * 1_000_000)
    assert t.truncated and any("truncated" in n for n in t.notes)
    assert "safety" in codes(t.signals)


def test_subject_is_analysed_and_text_offsets_unchanged():
    text = "车子高速上刹车失灵"
    t = analyze(text, subject="我要找记者曝光")
    assert {"safety", "media"} <= codes(t.signals)
    ev = next(s for s in t.signals if s.code == "safety").evidence[0]
    assert text[ev.start:ev.end] == ev.text
    media = next(s for s in t.signals if s.code == "media").evidence[0]
    assert media.start > len(text)
