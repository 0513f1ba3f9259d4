import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from qingting.coaching.checker import (
    check_reply, find_personal_data, luhn_ok, parse_chinese_number, valid_id_number,
)
from qingting.coaching.rules import RulesError, build_ruleset, parse_rules

HERE = Path(__file__).resolve().parent

GOOD_ZH = ("王先生您好，车辆维修比约定晚了两天，耽误了您的出行，非常抱歉，换作是我也会着急。"
           "经核实，是配件物流延误。我们已为您安排代步车，维修将在本周五下午5点前完成，"
           "完工后服务顾问会致电您，电话 0571-88886666。")


def spans_text(text, finding):
    return [text[s:e] for s, e in finding.spans]


def by_code(result, code):
    return next(f for f in result.findings if f.code == code)


def test_complete_reply_scores_high_without_findings():
    r = check_reply(GOOD_ZH, context={"fault": True})
    assert r.score == 100, r.codes
    assert r.lang == "zh"
    for sig in ("feel", "apology", "action", "time", "contact", "explain"):
        assert r.has(sig), sig


def test_bare_acknowledgement_scores_far_below_complete():
    bare = check_reply("网友：您好！您的留言已收悉，已转相关部门调查处理。")
    assert "bare_ack" in bare.codes
    assert {"missing_action", "missing_time", "missing_contact"} <= set(bare.codes)
    assert bare.score <= 20 < 80 <= check_reply(GOOD_ZH).score


def test_bare_ack_phrase_inside_a_substantive_reply_is_not_flagged():
    text = "您的留言已收悉。经调查，该店确有占道经营，执法队员已当场责令其整改，并将每周巡查两次。"
    r = check_reply(text)
    assert "bare_ack" not in r.codes
    assert r.has("action") and r.has("explain")


def test_blame_span_points_at_the_blaming_words():
    text = "您好，经检测，这是您自己操作不当造成的，不属于质量问题。"
    f = by_code(check_reply(text), "blame")
    assert f.severity == "error"
    assert any("您自己" in t for t in spans_text(text, f))
    assert f.message_zh and f.message_en


def test_arguing_and_flat_refusal():
    r = check_reply("您说的不对，我们没有任何过错，按规定不予退款。")
    assert {"argue", "flat_refusal"} <= set(r.codes)


def test_refusal_with_an_alternative_is_not_a_flat_refusal():
    r = check_reply("拆封商品不能退货，但我们可以为您免费换一件同款，明天就能发出。")
    assert "flat_refusal" not in r.codes


def test_overpromise_and_negated_guarantee():
    assert "overpromise" in check_reply("我保证以后绝对不会再出现这种问题。").codes
    assert "overpromise" not in check_reply("我们无法保证结果，但会在3天内给您检测报告。").codes
    assert "overpromise" in check_reply("I guarantee this will never happen again.").codes
    assert "overpromise" not in check_reply("We can't guarantee the outcome, but we will call you by Friday.").codes


def test_amount_above_the_approval_limit():
    text = "非常抱歉，我们将补偿您3000元，三个工作日内到账。"
    r = check_reply(text, context={"approval_limit": 500})
    f = by_code(r, "amount_over_limit")
    assert spans_text(text, f) == ["3000元"]
    assert "amount_over_limit" not in check_reply(text, context={"approval_limit": 5000}).codes
    assert "amount_over_limit" not in check_reply(text).codes  # no limit known
    assert "amount_over_limit" in check_reply("我们补偿您一万五千元", context={"approval_limit": 5000}).codes
    assert "amount_over_limit" in check_reply("We will refund you $2,500 today.", lang="en",
                                              context={"approval_limit": 100}).codes


def test_apology_depends_on_fault():
    text = "理解您的心情。经核实，我们已为您安排维修，明天下午5点前完成，电话 0571-88886666。"
    at_fault = check_reply(text, context={"fault": True})
    not_at_fault = check_reply(text, context={"fault": False})
    unknown = check_reply(text)
    assert by_code(at_fault, "missing_apology").severity == "warning"
    assert "missing_apology" not in not_at_fault.codes
    assert by_code(unknown, "missing_apology").severity == "info"
    assert at_fault.score < unknown.score < not_at_fault.score or unknown.score <= not_at_fault.score


def test_personal_data_with_checksums():
    text = "车主手机13812345678，身份证110101199003077571，卡号6222020200112233446，邮箱 a.b@example.com"
    kinds = [k for k, _, _ in find_personal_data(text)]
    assert kinds == ["mobile", "id_number", "bank_card", "email"]
    # wrong check digit / failed Luhn / masked numbers are not flagged
    assert find_personal_data("身份证110101199003077578 卡号6222020200112233445 手机138****5678") == []
    r = check_reply(text, context={"public": True})
    assert by_code(r, "personal_data").penalty > by_code(check_reply(text, context={"public": False}), "personal_data").penalty


def test_checksum_helpers():
    assert valid_id_number("11010519491231002X")
    assert not valid_id_number("110105194912310021")
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert parse_chinese_number("一万五千") == 15000
    assert parse_chinese_number("两千") == 2000
    assert parse_chinese_number("五百") == 500
    assert parse_chinese_number("十") == 10


def test_jargon_penalty_is_capped():
    r = check_reply("您的工单已流转，系统显示节点在后台，风控规则走流程，SLA和KPI。")
    f = by_code(r, "jargon")
    assert f.severity == "info" and f.penalty == 12


def test_english_reply():
    good = ("I'm sorry your parcel was late; I understand how frustrating that is. We found it went to the "
            "wrong depot. We have dispatched a new one that will arrive tomorrow before noon. "
            "Call us on 800-555-0123 if anything else comes up.")
    r = check_reply(good, context={"fault": True})
    assert r.lang == "en" and r.score >= 90, r.codes
    bad = check_reply("You should have read the manual. We cannot refund.")
    assert {"blame", "flat_refusal"} <= set(bad.codes) and bad.score < 30


@pytest.mark.parametrize("value", [None, "", "   \n ", 12345, b"bytes", "\x00\ud800", "？" * 10, "😀" * 5])
def test_never_raises_on_odd_input(value):
    r = check_reply(value)
    assert 0 <= r.score <= 100
    assert isinstance(r.to_dict(), dict)


def test_empty_reply():
    r = check_reply("")
    assert r.score == 0 and r.codes == ["empty"]


def test_huge_input_is_truncated_not_slow():
    r = check_reply("您好，" * 350_000)  # ~1 MB
    assert r.truncated and "truncated" in r.codes


def test_spans_are_valid_for_fullwidth_text():
    text = "ＯＫ，您好！留言已收悉。"
    r = check_reply(text)
    f = by_code(r, "bare_ack")
    assert spans_text(text, f) == ["已收悉"]


def test_shipped_rules_validate():
    for lang in ("zh", "en"):
        rs = build_ruleset(lang)
        assert {"feel", "apology", "action", "time", "contact", "bare_ack", "blame"} <= set(rs.signals)


def test_invalid_rules_name_file_key_and_line(tmp_path):
    bad = tmp_path / "extra.toml"
    bad.write_text('[meta]\nlang = "zh"\n\n[signals.feel]\npatterns = ["(unclosed"]\n', encoding="utf-8")
    with pytest.raises(RulesError) as exc:
        build_ruleset("zh", (str(bad),))
    msg = str(exc.value)
    assert "extra.toml" in msg and "signals.feel.patterns[0]" in msg and "line 5" in msg
    with pytest.raises(RulesError, match="severity"):
        parse_rules('[meta]\nlang="zh"\n[signals.x]\npatterns=["a"]\n[[rules]]\ncode="x"\nkind="risk"\n'
                    'signals=["x"]\nseverity="fatal"\npenalty=1\nmessage_zh="a"\nmessage_en="b"\n', "r.toml")
    with pytest.raises(RulesError, match="not valid TOML.*line"):
        parse_rules("[meta\nlang=", "broken.toml")
    with pytest.raises(RulesError, match="unknown signal 'nope'"):
        p = tmp_path / "ref.toml"
        p.write_text('[meta]\nlang="zh"\n[[rules]]\ncode="y"\nkind="risk"\nsignals=["nope"]\nseverity="info"\n'
                     'penalty=1\nmessage_zh="a"\nmessage_en="b"\n', encoding="utf-8")
        build_ruleset("zh", (str(p),))


def test_admin_extension_adds_a_pattern(tmp_path):
    extra = tmp_path / "mine.toml"
    extra.write_text('[meta]\nlang = "zh"\n[signals.jargon]\npatterns = ["OTA包"]\n', encoding="utf-8")
    r = check_reply("请升级OTA包。", context={"rules": (str(extra),)})
    assert "jargon" in r.codes
    assert "jargon" not in check_reply("请升级OTA包。").codes


def _load_labelled():
    return tomllib.loads((HERE / "replies_labelled.toml").read_text(encoding="utf-8"))["reply"]


def test_labelled_set_is_big_and_balanced():
    items = _load_labelled()
    assert len(items) >= 100
    assert len({i["id"] for i in items}) == len(items)
    assert sum(i["label"] == "good" for i in items) >= 40
    assert sum(i["label"] == "bad" for i in items) >= 40


def test_labelled_expected_findings():
    misses = []
    for it in _load_labelled():
        r = check_reply(it["text"], context=it.get("context"))
        lacking = [c for c in it["expect"] if c not in r.codes]
        if lacking:
            misses.append((it["id"], lacking, r.codes))
        if it["label"] == "good" and any(f.severity == "error" for f in r.findings):
            misses.append((it["id"], "error finding on a good reply", r.codes))
    assert len(misses) <= 3, misses


def test_labelled_roc_auc():
    good, bad = [], []
    for it in _load_labelled():
        s = check_reply(it["text"], context=it.get("context")).score
        (good if it["label"] == "good" else bad).append(s)
    wins = sum(1.0 if g > b else 0.5 if g == b else 0.0 for g in good for b in bad)
    assert wins / (len(good) * len(bad)) >= 0.9


def test_purity_fresh_interpreter():
    code = ("import sys; import qingting.coaching.checker as c; c.check_reply('您好'); "
            "assert 'django' not in sys.modules, 'django imported'")
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
