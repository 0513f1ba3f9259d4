"""Early-warning detector: bursts fire, normal volume does not, decisions are causal."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _synth import START, background, burst, merge, run  # noqa: E402

from qingting.crisis.detection import (  # noqa: E402
    Complaint, Detector, Thresholds, ThresholdsError, bb_tail_score, load_profiles,
    load_thresholds, text_terms)


def det() -> Detector:
    return Detector(load_thresholds())


def test_synthetic_burst_fires_on_its_group_the_same_day():
    alerts = run(det(), merge(background(30), burst(20, 6)))
    hits = [a for a in alerts if a.key.endswith("problem\x1e刹车")]
    assert hits, [a.label for a in alerts]
    a = hits[0]
    assert a.label == "丙品牌 · 丙B · 刹车"
    assert dict(a.group.fields) == {"brand": "丙品牌", "series": "丙B", "problem": "刹车"}
    assert a.fired_at.date() == (START + timedelta(days=20)).date()
    assert a.count >= 3 and a.baseline < 1 and a.score >= 4
    assert set(a.ids) <= {f"burst{i}" for i in range(6)}
    assert a.sample_texts and "刹车片" in a.keywords


def test_stable_volume_does_not_fire():
    total = sum(len(run(det(), background(40, seed=seed))) for seed in range(5))
    # 200 days of random but stable volume over 40+ groups: at most a stray alert
    assert total <= 2


def test_a_rise_of_every_group_does_not_fire_everywhere():
    bg = background(30, seed=1)
    rise = background(1, per_day=120, seed=7, start=START + timedelta(days=30), id_prefix="rise")
    before = run(det(), bg)
    alerts = run(det(), merge(bg, rise))
    on_rise_day = [a for a in alerts if a.fired_at >= START + timedelta(days=30)]
    # 4× the volume on one day (3·15): 4 brands, 10 series, 5 problems, 60+ groups watched
    assert len(on_rise_day) <= 1, [a.label for a in on_rise_day]
    assert len(alerts) - len(on_rise_day) == len(before)


def test_a_quiet_day_does_not_make_every_group_a_burst():
    bg = background(30, seed=3)
    quiet_day = [c for c in background(1, per_day=4, seed=9, start=START + timedelta(days=30), id_prefix="q")]
    alerts = run(det(), merge(bg, quiet_day))
    assert not [a for a in alerts if a.fired_at >= START + timedelta(days=30)]


def test_causal_future_complaints_never_change_earlier_alerts():
    stream = merge(background(35, seed=2), burst(18, 5), burst(25, 8, brand="甲品牌", series="甲A",
                                                            problem="自燃", id_prefix="fire"))
    full = run(det(), stream)
    cut = START + timedelta(days=22)
    prefix = run(det(), [c for c in stream if c.received_at < cut])
    early = [a.to_dict() for a in full if a.fired_at < cut]
    assert early == [a.to_dict() for a in prefix if a.fired_at < cut]
    assert any(a.fired_at >= cut and "自燃" in a.label for a in full)


def test_no_refire_until_the_group_grows_by_the_factor():
    t = replace(load_thresholds(), refire_growth=2.0)
    d = Detector(t)
    first = run(d, merge(background(21, seed=4), burst(20, 5)))
    mine = [a for a in first if a.key.endswith("problem\x1e刹车")]
    assert len(mine) == 1 and not mine[0].refire
    alerted_at = mine[0].episode_count
    more = burst(21, 2 * alerted_at + 2, id_prefix="more", hour=10)
    again = []
    for i, c in enumerate(more):
        got = [a for a in d.add(c) if a.key == mine[0].key]
        if got:
            again.append((i, got[0]))
    assert again, "the group doubled without a second alert"
    i, a = again[0]
    assert a.refire and a.episode_count >= 2 * alerted_at
    assert alerted_at + i + 1 >= 2 * alerted_at  # not before the growth factor was reached


def price_cut_wave() -> list[Complaint]:
    """Owners of seven different models complaining of a price cut on one day."""
    texts = ["刚买就降价，这是在割韭菜", "买车不到一个月降价6000，要求补偿差价",
             "买车四个月，降价一万五，希望补偿老车主", "半年降价两万，无视车主权益",
             "提车一个月就降价一万", "车还没提就降价了，太坑老车主", "新车俩月降价三万，要求补偿"]
    models = [("甲品牌", "甲A"), ("乙品牌", "乙B"), ("丙品牌", "丙C"), ("丁品牌", "丁A"),
              ("甲品牌", "甲C"), ("乙品牌", "乙A"), ("丙品牌", "丙A")]
    day = START + timedelta(days=24)
    return [Complaint(id=f"p{i}", received_at=day + timedelta(hours=9 + i), text=t,
                      about=(("brand", b), ("series", s)), problem=None, customer_id=f"cp{i}")
            for i, (t, (b, s)) in enumerate(zip(texts, models))]


def test_similar_texts_from_different_models_land_in_one_group():
    alerts = run(det(), merge(background(30, seed=5), price_cut_wave()))
    text_alerts = [a for a in alerts if a.group.kind == "text"]
    assert text_alerts, [a.label for a in alerts]
    a = text_alerts[0]
    assert a.keywords[0] == "降价" and a.label.startswith("相似投诉 · 降价")
    assert len({i for i in a.ids if i.startswith("p")}) >= 5


def test_same_customer_filing_repeatedly_is_not_a_burst():
    repeat = [replace(c, customer_id="same") for c in burst(20, 6)]
    alerts = run(det(), merge(background(30), repeat))
    assert not [a for a in alerts if "刹车" in a.label]


def test_signals_and_reach_raise_the_score():
    plain = run(det(), merge(background(30), burst(20, 4)))
    loud = run(det(), merge(background(30), burst(20, 4, signals=frozenset({"safety", "media"}),
                                                  reach={"shares": 5000})))
    # four complaints of a new group in a day is borderline without signals …
    assert not [a for a in plain if "刹车" in a.label]
    q = [a for a in loud if "刹车" in a.label]
    # … and an alert when they carry safety/media signals and social reach
    assert q and q[0].signals == frozenset({"safety", "media"}) and q[0].score >= 4 + 3


def test_state_round_trip_gives_the_same_alerts():
    stream = merge(background(30, seed=6), burst(22, 6), burst(27, 6, brand="丁品牌", series="丁B",
                                                             problem="漏油", id_prefix="oil"))
    whole = run(det(), stream)
    cut = START + timedelta(days=24, hours=12)
    d1 = det()
    part1 = run(d1, [c for c in stream if c.received_at < cut])
    state = json.loads(json.dumps(d1.to_state(), ensure_ascii=False))
    d2 = Detector.from_state(state, load_thresholds())
    part2 = run(d2, [c for c in stream if c.received_at >= cut])
    assert [a.to_dict() for a in whole] == [a.to_dict() for a in part1 + part2]
    assert len(whole) >= 2


def test_state_is_bounded_by_the_window_not_the_history():
    d = det()
    run(d, background(60, per_day=40, seed=8))
    d.tick(START + timedelta(days=61))
    # complaints kept: only the last long window; groups: those alive in the decayed history
    assert d.stats()["window_complaints"] <= 40 * 3 + 40
    assert d.stats()["groups"] < 400
    with pytest.raises(ValueError):
        Detector.from_state({"version": 999})


def test_late_and_odd_complaints_never_raise():
    d = det()
    run(d, background(10))
    late = Complaint(id="late", received_at=START + timedelta(days=1), text="x" * 200000)
    assert d.add(late) == []
    weird = Complaint(id="w", received_at=START + timedelta(days=10), text="\x00\ud7ff🙂" * 1000,
                      about=(("brand", ""), ("series", "s")), problem="")
    d.add(weird)
    with pytest.raises(ValueError):
        d.add(Complaint(id="naive", received_at=START.replace(tzinfo=None)))
    assert text_terms("") == set()
    assert "降价" in text_terms("刚买就降价了")
    assert "这次" not in text_terms("这次降价")   # function words never name a topic


def test_beta_binomial_tail():
    assert bb_tail_score(0, 10, 1, 9) == 0.0
    assert bb_tail_score(1, 10, 1, 9) == 0.0          # at the mean
    assert bb_tail_score(8, 10, 1, 99) > bb_tail_score(5, 10, 1, 99) > 2
    assert bb_tail_score(11, 10, 1, 9) == 50.0


def test_thresholds_file_profiles_and_errors(tmp_path):
    profiles = load_profiles()
    assert {"default", "automotive", "finance", "ecommerce"} <= set(profiles)
    assert profiles["finance"].signal_weights["regulator"] > profiles["default"].signal_weights["regulator"]
    assert profiles["ecommerce"].min_count == 5 and profiles["ecommerce"].window_hours == 24
    assert load_thresholds("no-such-profile") == profiles["default"]
    assert "问题" in profiles["default"].stop_terms
    bad = tmp_path / "t.toml"
    bad.write_text("[profiles.default]\nwindow_hours = 24\nmin_cout = 3\n", encoding="utf-8")
    with pytest.raises(ThresholdsError, match=r"t\.toml.*line 3.*min_cout"):
        load_profiles(bad)
    bad.write_text("[profiles.default]\nmin_ratio = 'high'\n", encoding="utf-8")
    with pytest.raises(ThresholdsError, match="min_ratio must be a number"):
        load_profiles(bad)
    with pytest.raises(ThresholdsError, match="overlap_suppress"):
        Thresholds.from_mapping({"overlap_suppress": 2})
    row = Thresholds.from_mapping({"min_count": 4, "signal_weights": {"safety": 3}})
    assert row.min_count == 4 and row.signal_weights["safety"] == 3.0 and "media" in row.signal_weights


def test_detection_and_replay_do_not_import_django():
    code = ("import sys\n"
            "import qingting.crisis.detection, qingting.crisis.replay, qingting.crisis.burst\n"
            "import qingting.crisis.alert_rules, qingting.crisis.groups, qingting.crisis.textsig\n"
            "import qingting.crisis.thresholds, qingting.crisis.tails\n"
            "qingting.crisis.detection.load_thresholds()\n"
            "qingting.crisis.detection.text_terms('刹车片异常磨损')\n"
            "print('django' in sys.modules)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_stored_terms_give_the_same_alerts_as_the_text():
    from qingting.crisis.textsig import raw_terms

    stream = merge(background(30, seed=5), price_cut_wave())
    from_text = run(det(), stream)
    stored = run(det(), [replace(c, terms=frozenset(raw_terms(c.text))) for c in stream])
    assert [a.to_dict() for a in stored] == [a.to_dict() for a in from_text]
    assert any(a.group.kind == "text" for a in from_text)
    no_terms = run(det(), [replace(c, terms=frozenset()) for c in stream])   # the stored terms are what counts
    assert not any(a.group.kind == "text" for a in no_terms)
