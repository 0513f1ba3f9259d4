"""Repeat (same customer) and possibly-related (different customers) detection."""
from __future__ import annotations

import numpy as np
import pytest

from qingting.complaints import services
from qingting.complaints.models import Event
from qingting.intake import duplicates
from qingting.intake.models import ComplaintLink, SimilarityBand, SimilaritySignature

TEXT = "我在贵店购买的新车发动机异响严重，多次维修都没有解决，4S店态度敷衍，要求退车并赔偿损失。"


# Signatures and band keys are stored: computing them differently would silently stop new
# complaints from meeting the old ones. Computed by the first implementation (np.unique, `% p`,
# one blake2b call per band); every later one must give exactly these numbers.
PINNED = [
    ("车辆行驶中发动机故障灯亮，4S店检测后说是正常现象，要求退车并赔偿损失",
     [52959431, 20828316, 212716698, 120296865, 194744420, 307880241, 19437289, 318178535, 242508868, 386305442,
      74575155, 163428172, 95735275, 133868492, 273071409, 90151819, 121939927, 50052183, 378143960, 191279364,
      41431884, 51422027, 1380073506, 45398300, 451853678, 133799164, 63944554, 43024554, 247237162, 35662066,
      9050979, 107139554, 375319855, 192398114, 58506521, 144276095, 211652940, 137447717, 19627309, 23640046,
      245741103, 102024021, 200393482, 198051247, 290983561, 20783651, 161276771, 32212084, 89769707, 99268951,
      164521243, 16311161, 13588507, 32831332, 374586904, 241205712, 50289041, 85941794, 221131017, 11866167],
     [-558157551465052230, -9137118447231333778, 1995207141087819259, 2786380619983501269, -817276950386728463,
      186855368222899655, 1933348826618964189, -5513105125051656301, 7837389986569940694, 5394029352963325208,
      6484610663734661107, -2386767479009496184]),
    ("My CARD was charged twice ($1,250.00) — ＡＢＣ① refund please!",
     [17426377, 223271988, 408323691, 8802004, 41919745, 117213443, 68865727, 10018704, 21001646, 36168930,
      15148480, 107365458, 153383457, 295341855, 98787576, 37199827, 68689479, 61393812, 23218158, 32118748,
      32772146, 212775768, 20493867, 77627177, 248063501, 148231, 9580740, 86081218, 1970755, 63239440,
      15052092, 215003917, 33968767, 174428482, 235670897, 315654082, 65498047, 21723060, 54188628, 112706585,
      43230960, 52882037, 129980873, 272274496, 20602206, 65781763, 103140183, 42606736, 95679844, 61253442,
      29788055, 10541764, 136117656, 32011942, 233668675, 1812468, 87940203, 29421338, 191079449, 58862655],
     [-8048528342034597643, 8945886164185715415, -764899891246711332, -1098031090788078709, 5022413485898465256,
      2982935300764516029, 2120494498224739702, -8666295972428946980, 8262636397018637347, 6521213909463190341,
      -3216727068268529717, 9169389972843307949]),
]


@pytest.mark.parametrize("text,sig,keys", PINNED)
def test_full_signature_and_band_keys_are_pinned(text, sig, keys):
    got = duplicates.signature(text)
    assert got.dtype == np.uint32 and got.tolist() == sig
    assert duplicates.band_keys(got) == keys


def test_shingle_hashes_are_pinned():
    h = duplicates.shingle_hashes("发动机异响，异响")
    assert h.dtype == np.uint64 and h.tolist() == [66466395, 347355842, 495710881, 2793676188, 4149994318]
    assert duplicates.shingle_hashes("abab").tolist() == [117890336, 1885009754], "sorted, each hash once"
    assert len(duplicates.shingle_hashes("ab")) == 0 and len(duplicates.shingle_hashes("")) == 0
    assert duplicates.signature("哈哈哈哈哈哈哈哈") is None, "one distinct 3-gram"
    assert duplicates.shingle_hashes("\ud800发动机\udfff异响").tolist() == duplicates.shingle_hashes("发动机异响").tolist()


def test_code_point_table_keeps_what_clean_keeps():
    """shingle_hashes filters code points with a table, clean() with a regex: the same characters."""
    every = "".join(map(chr, range(0x110000)))
    assert duplicates._KEEP.sub("", every) == "".join(map(chr, np.flatnonzero(duplicates._KEPT)))


def test_minhash_residue_is_x_mod_p_at_the_extremes():
    """signature() computes x % p as x - (x // p) * p; check it against Python integers where
    a*h + b is largest and around multiples of p."""
    p = int(duplicates._PRIME)
    h = np.array([0, 1, 15, 2**31, 2**32 - 16, 2**32 - 15, 2**32 - 1], dtype=np.uint64)
    x = duplicates._A_COL * h + duplicates._B_COL
    got = x - x // duplicates._PRIME * duplicates._PRIME
    want = [[(int(a) * int(v) + int(b)) % p for v in h] for a, b in zip(duplicates._A, duplicates._B, strict=True)]
    assert got.tolist() == want
    assert int(x.max()) < 2**63


def _reference_signature(text):
    """The definition with Python integers: 3-gram hashes of clean(text), then MinHash."""
    s, m, mask = duplicates.clean(text), 1_000_003, 2**64 - 1
    hashes = set()
    for i in range(len(s) - 2):
        v = (ord(s[i]) * m * m + ord(s[i + 1]) * m + ord(s[i + 2])) & mask
        v ^= v >> 29
        v = (v * 0xBF58476D1CE4E5B9) & mask
        v ^= v >> 32
        hashes.add(v & 0xFFFFFFFF)
    if len(hashes) < duplicates.MIN_SHINGLES:
        return sorted(hashes), None
    p = int(duplicates._PRIME)
    return sorted(hashes), [min((int(a) * v + int(b)) % p for v in hashes) & 0xFFFFFFFF
                            for a, b in zip(duplicates._A, duplicates._B, strict=True)]


@pytest.mark.parametrize("text", [TEXT, PINNED[1][0], "ab", "abab", "哈哈哈哈哈", "Ⅻ①②③ｘｙｚ 12 34", "发动机异响" * 1100])
def test_vectorised_hashes_match_the_definition(text):
    hashes, sig = _reference_signature(text)
    assert duplicates.shingle_hashes(text).tolist() == hashes
    got = duplicates.signature(text)
    assert (got is None and sig is None) or got.tolist() == sig

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


@pytest.mark.django_db(transaction=True)
def test_band_key_migration_both_ways_keeps_the_index():
    """intake 0002 turns the surrogate id into the (band_key, complaint_id) key and back;
    the bands survive both ways and keep finding the indexed complaint."""
    from django.db import IntegrityError, connection, transaction
    from django.db.migrations.executor import MigrationExecutor
    from django.utils import timezone

    complaint_id = 424242  # the index has no foreign keys: no complaint row needed
    assert duplicates.index_complaints([(complaint_id, 7, timezone.now(), TEXT)]) == 1
    keys = sorted(SimilarityBand.objects.filter(complaint_id=complaint_id).values_list("band_key", flat=True))
    assert len(keys) == duplicates.BANDS
    executor = MigrationExecutor(connection)
    executor.migrate([("intake", "0001_initial")])
    with connection.cursor() as cur:
        cur.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM intake_similarityband WHERE complaint_id = %s",
                    [complaint_id])
        assert cur.fetchone() == (duplicates.BANDS, duplicates.BANDS)
        cur.execute("INSERT INTO intake_similarityband (band_key, complaint_id) VALUES (%s, %s)", [keys[0], complaint_id])
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())  # the row written twice is dropped
    assert sorted(SimilarityBand.objects.filter(complaint_id=complaint_id).values_list("band_key", flat=True)) == keys
    refused = (IntegrityError,)
    if connection.vendor == "postgresql":  # COPY runs on psycopg's cursor, outside Django's error wrapping
        import psycopg

        refused += (psycopg.IntegrityError,)
    with pytest.raises(refused), transaction.atomic():
        duplicates.insert_index([], [(complaint_id, keys[:1])])
    assert duplicates.candidates(keys) == {complaint_id: duplicates.BANDS}
