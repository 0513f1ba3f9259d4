from qingting.triage.normalize import detect_language, normalize


def test_traditional_and_taiwan_vocabulary_become_simplified():
    n = normalize("車機軟體當機，記憶體不足")
    assert "软件" in n.text and "内存" in n.text and "车机" in n.text


def test_full_width_folded_and_offsets_kept():
    src = "电话：１３８１２３４５６７８！！"
    n = normalize(src)
    assert "13812345678" in n.text and n.text.endswith("!!")
    i = n.text.index("138")
    a, b = n.to_original(i, i + 11)
    assert src[a:b] == "１３８１２３４５６７８"


def test_html_residue_and_whitespace_removed_with_mapping():
    src = "<p>刹车&nbsp;&nbsp;失灵</p>\n\n\n<br/>我要  投诉&amp;曝光"
    n = normalize(src)
    assert "<" not in n.text and "&nbsp;" not in n.text and "  " not in n.text
    assert "投诉&曝光" in n.text
    i = n.text.index("失灵")
    a, b = n.to_original(i, i + 2)
    assert src[a:b] == "失灵"
    i = n.text.index("&")
    a, b = n.to_original(i, i + 1)
    assert src[a:b] == "&amp;"


def test_length_changing_conversion_maps_inside_segment():
    src = "我的記憶體壞了，請處理"
    n = normalize(src)
    i = n.text.index("处理")
    a, b = n.to_original(i, i + 2)
    assert src[a:b] == "處理"


def test_text_after_a_nul_character_is_kept_and_converted():
    """OpenCC stops at a NUL character; the text after it must still be converted, kept
    and read (it used to be dropped from the normalised text)."""
    from qingting.triage import analyze

    src = "车辆\x00刹车失灵，臺灣的車\x00記憶體"
    n = normalize(src)
    assert n.text == "车辆\x00刹车失灵,台湾的车\x00内存"
    i = n.text.index("刹车失灵")
    assert n.to_original(i, i + 4) == (3, 7)
    i = n.text.index("台湾")
    assert src[slice(*n.to_original(i, i + 2))] == "臺灣"
    t = analyze("车辆\x00刹车失灵")
    assert "safety" in t.signal_codes
    ev = t.signals[0].evidence[0]
    assert ev.text == "刹车失灵" and (ev.start, ev.end) == (3, 7)


def test_truncation_is_reported():
    n = normalize("长" * 50, max_chars=10)
    assert n.truncated and n.original_length == 50 and len(n.text) == 10


def test_language_detection():
    assert detect_language("发动机异响，4S店不处理") == "zh"
    assert detect_language("I was charged a late fee twice and nobody answers") == "en"
    assert detect_language("我的 credit card 被 charged 了 late fee twice, bank says nothing") == "mixed"
    assert detect_language("😀😀 123") == "unknown"


def test_opencc_is_skipped_only_when_it_would_change_nothing():
    """normalize() skips OpenCC when unchanged() says so: then OpenCC must indeed return
    the text as it is (checked on real complaints and on texts holding every listed
    phrase and traditional characters)."""
    import csv
    import random

    from _triage_helpers import shared_data
    from qingting.triage.opencc_skip import PHRASES_FILE, unchanged
    from qingting.triage.normalize import _opencc

    conv = _opencc()
    phrases = PHRASES_FILE.read_text(encoding="utf-8").splitlines()[1:]
    with open(shared_data("car_complaints_2024-01-29_to_2024-02-28.csv"), encoding="utf-8", newline="") as f:
        texts = [r["投诉简述"] for r in csv.DictReader(f)]
    rnd = random.Random(3)
    texts += [rnd.choice(texts)[:40] + p + rnd.choice(texts)[:40] for p in phrases]
    texts += ["臺灣的車", "回覆", "我的滑鼠壞了", "使用者", "A肝", "重覆投诉", "一般的投诉", "刹车\x00失灵", "\x01\x02"]
    skipped = 0
    for t in texts:
        if unchanged(t, conv):
            skipped += 1
            assert conv.convert(t) == t, t
    assert skipped > len(texts) // 3  # the shortcut is taken for most simplified texts
    assert not unchanged("回覆", conv) and not unchanged("臺灣", conv) and unchanged("一般的投诉", conv)


def test_converting_only_the_pieces_that_may_change_equals_converting_everything():
    """normalize() converts only the pieces (runs of characters that phrases hold or that
    change) around a character or phrase OpenCC may change: the result must be OpenCC's
    on the whole text."""
    import csv
    import random

    from _triage_helpers import shared_data
    from qingting.triage.normalize import _opencc, fold_width
    from qingting.triage.opencc_skip import PHRASES_FILE, convert_pieces, spots

    conv = _opencc()
    phrases = PHRASES_FILE.read_text(encoding="utf-8").splitlines()[1:]
    with open(shared_data("car_complaints_2024-01-29_to_2024-02-28.csv"), encoding="utf-8", newline="") as f:
        texts = [fold_width(r["投诉简述"]) for r in csv.DictReader(f)]
    rnd = random.Random(5)
    texts += [rnd.choice(texts)[:30] + p + "，" + rnd.choice(texts)[:30] + p[::-1] for p in phrases]
    texts += ["臺灣的車機軟體當機，記憶體不足。請處理！", "什么，么？", "我的滑鼠壞了 使用者回覆:", "乾隆。乾燥、幹部"]
    pieced = 0
    for t in texts:
        got = convert_pieces(t, conv)
        assert got == conv.convert(t), t
        pieced += got is not t and len(spots(t, conv)) > 0
    assert pieced > 50  # the shortcut was taken


def test_opencc_phrase_list_matches_the_installed_opencc():
    """The shipped phrase list is what the installed OpenCC's dictionaries give."""
    import json
    from pathlib import Path

    import opencc
    import pytest

    from qingting.triage.opencc_skip import (PHRASE_CHARS_FILE, PHRASES_FILE, dictionary_keys, generate,
                                             phrase_characters)

    if not (Path(opencc.__file__).parent / "clib" / "bin" / "opencc_dict").exists():
        pytest.skip("opencc_dict tool not installed")
    keys = dictionary_keys()
    lines = PHRASES_FILE.read_text(encoding="utf-8").splitlines()
    assert generate(keys) == lines[1:]
    # The characters of the phrases (normalize() converts piece by piece between others).
    lines = PHRASE_CHARS_FILE.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0].lstrip("# "))["opencc"] == opencc.__version__
    assert lines[1:] == [phrase_characters(keys)] and "么" in lines[1] and "，" not in lines[1]
