"""Property tests: analyze() and mask_text() never raise and stay consistent on any text."""
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qingting.triage import analyze, find_pii, mask_text

CJKISH = st.text(alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF), max_size=300)
COMPLAINTY = st.lists(st.sampled_from(["刹车失灵", "！！", "曝光", "<p>", "&amp;", "１３８", "13812345678", "記憶體", " ", "\n",
                                        "骗子", "12315", "不", "没有", "😀", "İ", "ß", "\x00", "\ud800"]), max_size=40).map("".join)


def check(t, text):
    d = t.to_dict()
    json.dumps(d, ensure_ascii=False)
    assert d["priority"]["code"] in ("P1", "P2", "P3", "P4")
    assert 0.0 <= d["emotion"]["intensity"] <= 1.0
    assert d["personas"]
    for group in [d["category"]["evidence"], d["emotion"]["evidence"]] + [p["evidence"] for p in d["personas"]] + [s["evidence"] for s in d["signals"]]:
        for e in group:
            if e["start"] is not None:
                assert 0 <= e["start"] <= e["end"] <= len(text)
    for p in d["pii"]:
        assert 0 <= p["start"] < p["end"] <= len(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CJKISH)
def test_any_unicode_string(text):
    check(analyze(text), text)
    assert isinstance(mask_text(text), str)


@settings(max_examples=150, deadline=None)
@given(COMPLAINTY, st.sampled_from(["auto4s", "finance", "general", None, "???"]), st.integers(-5, 50))
def test_complaint_like_fragments(text, profile, repeat):
    check(analyze(text, profile=profile, repeat_count=repeat), text)
    masked = mask_text(text)
    assert len(masked) == len(text)
    assert not any(s.kind == "mobile" for s in find_pii(masked))


def test_empty_and_only_emoji_and_non_strings():
    for text in ["", "   ", "😀😡🔥" * 10, "\u200b\u200b"]:
        t = analyze(text)
        assert t.priority.code == "P4" and t.signals == ()
    for value in [None, b"\xff\xfe\xe5\x88\xb9", 12345, ["x"]]:
        assert analyze(value).priority.code in ("P1", "P2", "P3", "P4")


def test_one_megabyte_text_is_bounded_and_truncated():
    import time

    text = ("我的车高速上刹车失灵了！！！" * 80_000)[:1_000_000]
    t0 = time.perf_counter()
    t = analyze(text)
    assert time.perf_counter() - t0 < 5
    assert t.truncated and t.text_length == 1_000_000 and "safety" in t.signal_codes
    assert mask_text(text) == text  # nothing personal in it, whole text returned
    dense = ("电话13812345678，邮箱a@b.cn；" * 50_000)[:1_000_000]
    t0 = time.perf_counter()
    masked = mask_text(dense)
    assert time.perf_counter() - t0 < 10 and "13812345678" not in masked and len(masked) == len(dense)
