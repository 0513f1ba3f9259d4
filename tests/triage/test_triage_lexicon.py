import pytest

from qingting.triage import analyze
from qingting.triage.lexicon import LexiconError, build_lexicon, get_lexicon, reload_lexicon, validate_dir


def write(tmp_path, name, text):
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_builtin_lexicon_loads_with_every_profile():
    lex = get_lexicon()
    assert {"auto4s", "finance", "ecommerce", "catering", "medical", "general"} <= set(lex.profiles)
    assert set(lex.level1) == {"product_quality", "service_attitude", "after_sales", "customer_experience", "other"}
    assert lex.version


def test_extra_dir_adds_rule_and_category_terms(tmp_path):
    write(tmp_path, "local.toml", '''
[meta]
lang = "zh"
[[rule]]
id = "local.media.douyu"
signal = "crisis"
label = "media"
terms = ["斗鱼老铁群"]
''')
    write(tmp_path, "cats.toml", '''
[[profile.catering]]
code = "food_safety"
terms = ["螺丝钉"]
[[profile.catering]]
code = "delivery"
zh = "外卖配送"
parent = "customer_experience"
terms = ["骑手"]
''')
    base = analyze("我会在斗鱼老铁群说这件事")
    assert "media" not in {s.code for s in base.signals}
    t = analyze("我会在斗鱼老铁群说这件事", extra_dirs=[tmp_path])
    assert "media" in {s.code for s in t.signals}
    assert t.lexicon_version != base.lexicon_version
    t = analyze("菜里吃出一颗螺丝钉", profile="catering", extra_dirs=[tmp_path])
    assert t.category.choice.level2 == "food_safety"
    t = analyze("骑手把汤洒了", profile="catering", extra_dirs=[tmp_path])
    assert t.category.choice.level2 == "delivery" and t.category.choice.level2_zh == "外卖配送"


def test_extra_dir_from_environment_and_rule_disabled(tmp_path, monkeypatch):
    write(tmp_path, "off.toml", '''
[meta]
lang = "zh"
[[rule]]
id = "crisis.regulator.body"
enabled = false
''')
    monkeypatch.setenv("QINGTING_TRIAGE_EXTRA_DIR", str(tmp_path))
    reload_lexicon()
    try:
        assert "regulator" not in {s.code for s in analyze("我要打12315").signals}
    finally:
        monkeypatch.delenv("QINGTING_TRIAGE_EXTRA_DIR")
        reload_lexicon()
    assert "regulator" in {s.code for s in analyze("我要打12315").signals}


@pytest.mark.parametrize("body, message", [
    ('[meta]\nlang = "zh"\n[[rule]]\nid = "x.bad"\nsignal = "crisis"\nlabel = "volcano"\nterms = ["a"]\n', "key 'label'"),
    ('[meta]\nlang = "zh"\n[[rule]]\nid = "x.bad"\nsignal = "crisis"\nlabel = "media"\npatterns = ["(unclosed"]\n', "invalid regular expression"),
    ('[meta]\nlang = "fr"\n[[rule]]\nid = "x"\n', "meta.lang"),
    ('[meta]\nlang = "zh"\n[[rule]]\nid = "x.bad"\nsignal = "crisis"\nlabel = "media"\nterms = "notalist"\n', "key 'terms'"),
    ('[meta]\nlang = "zh"\n[[rule]]\nid = "x.bad"\nsignal = "crisis"\nlabel = "media"\nterm = ["typo"]\n', "unknown key"),
    ('[[profile.auto4s]]\ncode = "new"\nzh = "新"\nparent = "nowhere"\n', "key 'parent'"),
    ('this is = = not toml', "TOML syntax error"),
])
def test_bad_files_are_reported_with_file_line_and_key(tmp_path, body, message):
    write(tmp_path, "bad.toml", body)
    with pytest.raises(LexiconError) as exc:
        build_lexicon([tmp_path])
    assert message in str(exc.value) and "bad.toml" in str(exc.value)
    assert validate_dir(tmp_path) and "bad.toml" in validate_dir(tmp_path)[0]


def test_line_number_points_at_the_rule(tmp_path):
    write(tmp_path, "bad.toml", '[meta]\nlang = "zh"\n\n[[rule]]\nid = "ok.one"\nsignal = "crisis"\nlabel = "media"\nterms = ["x"]\n\n'
                                '[[rule]]\nid = "broken.two"\nsignal = "crisis"\nlabel = "nope"\nterms = ["y"]\n')
    with pytest.raises(LexiconError, match=r"bad\.toml:11: rule 'broken\.two'"):
        build_lexicon([tmp_path])


def test_missing_extra_dir_is_an_error(tmp_path):
    with pytest.raises(LexiconError, match="does not exist"):
        build_lexicon([tmp_path / "nope"])


def test_literal_gates_never_hide_a_match():
    """The matcher skips a pattern when a group of its derived literals is absent; that
    must never change the result."""
    import random
    import re

    from qingting.triage.lexicon import Matcher, _literal_gates

    lex = get_lexicon()
    m = lex.signal_matchers["zh"]
    ungated = Matcher(m.rules, "zh")
    ungated._patterns = [(r, p, frozenset()) for r, p, _ in ungated._patterns]
    pieces = ["不给", "我就", "曝光", "第三次", "投诉", "修了", "5次", "两个月了还没", "赔偿我", "100万", "媒体", "流媒体",
              "多人", "更多人", "好多车主", "!!", "???", "必须退", "《消费者权益保护法》", "第二十条", "我是", "工程师", "，", "。",
              "刹车", "突然", "失灵", "动力", "消失", "行驶中", "熄火", "同款车", "也", "都", "辆", "三", "个月", "一直", "没"]
    rnd = random.Random(7)
    for _ in range(400):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 8)))
        assert sorted(m.find(text), key=repr) == sorted(ungated.find(text), key=repr), text
    assert _literal_gates(re.compile("(?<!流)媒体")) == (("媒体",),)
    assert _literal_gates(re.compile("[^x]+")) == ()
    assert _literal_gates(re.compile("(刹车|制动).{0,4}(失灵|失效)")) == (("制动", "刹车"), ("失效", "失灵"))
    assert _literal_gates(re.compile("(?i)abc")) == ()
