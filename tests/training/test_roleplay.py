import os
import subprocess
import sys

import pytest

from qingting.training.engine import (
    PERSONAS, ScenarioError, Session, classify_turn, load_scenario, load_scenarios, parse_scenario, run_script,
)
from qingting.training.quiz import grade_quiz, load_quiz

GOOD = [
    "{name}，您先别急，我非常理解您的心情，换作是我也会着急，给您添麻烦了，真的非常抱歉。",
    "为了尽快帮您解决，请问具体是什么时候发生的？您手上有相关的单据或照片吗？",
    "经核实，情况确实如您所说。我们可以为您免费处理，同时为您提供一次补偿，您看这样可以吗？",
    "我们明天下午5点前完成，我是专员李明，电话 400-800-1234，有任何问题随时找我。",
    "感谢您的理解，处理完成后我们会在3天内回访您，确认您满意。",
]
BAD = [
    "这是您自己的问题，您应该早点看清楚。",
    "您说的不对，我们没有任何责任。",
    "按规定不予退款，我也没有办法。",
]


def test_at_least_twelve_scenarios_cover_every_difficult_type_in_two_industries():
    scenarios = load_scenarios()
    assert len(scenarios) >= 12
    for persona in PERSONAS:
        if persona == "ordinary":
            continue
        industries = {s.industry for s in scenarios.values() if s.persona == persona}
        assert len(industries) >= 2, persona


@pytest.mark.parametrize("sid", sorted(load_scenarios()))
def test_good_and_bad_trainees_end_differently_in_every_scenario(sid):
    sc = load_scenarios()[sid]
    good = run_script(sc, GOOD, seed=3)
    bad = run_script(sc, BAD, seed=3)
    assert good.outcome == "agreement", good.transcript
    assert bad.outcome == "escalation", bad.transcript
    assert good.score >= 80 and bad.score <= 40 and good.score - bad.score >= 50
    assert bad.principles["no_argue"] < good.principles["no_argue"]
    assert any(f["principle"] == "no_argue" for f in bad.feedback)
    # the escalation shows the scenario's escalation line
    assert bad.transcript[-1]["branch"] == sc.escalation_branch


def test_deterministic_for_a_seed_and_replayable():
    sc = load_scenarios()["auto4s_emotional"]
    lines = ["嗯。", "我们会处理的。", "理解您的心情。", "请问是哪天送修的？", "嗯。", "好的。"]
    a = Session.replay(sc, 11, lines).result()
    b = Session.replay(sc, 11, lines).result()
    assert a.transcript == b.transcript and a.score == b.score


def test_turn_limit_ends_the_session():
    sc = load_scenarios()["auto4s_stubborn"]
    r = run_script(sc, ["嗯。", "我们会研究一下。", "理解您。", "请问还有什么要补充的？"], seed=0)
    assert r.outcome in ("turn_limit", "escalation")
    assert r.turns <= sc.turn_limit


def test_explaining_before_acknowledging_angers_the_emotional_customer():
    sc = load_scenarios()["restaurant_emotional"]
    s = Session(sc, 0)
    t = s.reply("根据规定，我们的食材都是合格的，经检测没有问题。")
    assert t.anger >= sc.anger and any("先处理心情" in n for n in t.notes)


def test_classify_turn_uses_checker_signals():
    sigs, risks = classify_turn("非常理解您的心情，真的很抱歉。请问是哪天买的？我们明天下午5点前为您换新，电话 400-800-1234。")
    assert {"acknowledged", "apologised", "asked", "offered", "committed", "contact"} <= set(sigs)
    sigs, risks = classify_turn("是您自己操作不当，我们不予退款。")
    assert "blamed" in sigs and "refused" in sigs and "blame" in risks
    sigs, _ = classify_turn("我们补偿您5000元。", approval_limit=500)
    assert "overpromised" in sigs


def test_invalid_scenario_names_file_and_line(tmp_path):
    raw = ('id = "x"\ntitle_zh = "t"\nindustry = "i"\npersona = "grumpy"\ncustomer_name = "c"\n'
           'background_zh = "b"\nopening = "o"\n[mood]\nanger = 50\ntrust = 50\n[branches]\n')
    with pytest.raises(ScenarioError, match=r"bad\.toml, line 4: persona"):
        parse_scenario(raw, "bad.toml")
    raw2 = raw.replace('"grumpy"', '"emotional"').replace("anger = 50", "anger = 500")
    with pytest.raises(ScenarioError, match=r"line 9: mood\.anger"):
        parse_scenario(raw2, "bad.toml")
    raw3 = raw.replace('"grumpy"', '"emotional"') + 'calms_down = ["a"]\n'
    with pytest.raises(ScenarioError, match="branches.still_upset: missing"):
        parse_scenario(raw3, "bad.toml")
    p = tmp_path / "broken.toml"
    p.write_text('id = "x"\nmood = [1,,2]\nz = 1\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"broken\.toml: not valid TOML.*line 2"):
        load_scenario(p)


def test_ended_session_refuses_more_turns():
    sc = load_scenarios()["auto4s_emotional"]
    s = Session(sc, 0)
    while not s.done:
        s.reply(BAD[0])
    with pytest.raises(RuntimeError):
        s.reply("再说一句")


def test_quiz_grading():
    qs = load_quiz()
    assert len(qs) >= 10
    perfect = {q["id"]: (sorted(q["answer_set"]) if q["multiple"] else next(iter(q["answer_set"]))) for q in qs}
    assert grade_quiz(perfect)["score"] == 100
    assert grade_quiz({})["score"] == 0
    r = grade_quiz({"q_three_f": 0, "q_five_to": [0, 1]})
    assert r["correct"] == 1 and r["by_principle"]["three_f"] == 100 and r["by_principle"]["five_to"] == 0
    assert grade_quiz("garbage")["score"] == 0


@pytest.mark.parametrize("module", ["qingting.coaching.checker", "qingting.coaching.drafts",
                                    "qingting.training.engine", "qingting.training.quiz"])
def test_pure_modules_do_not_import_django(module):
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    code = f"import sys, {module}; assert 'django' not in sys.modules, 'django imported by {module}'"
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
