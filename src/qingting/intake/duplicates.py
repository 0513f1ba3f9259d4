"""Repeat (same customer, similar matter) and near-duplicate (different customers) detection.

Similarity works on characters, so it needs no dictionary and suits Chinese: the text is
normalised (NFKC, lower case, only CJK letters and digits/latin kept), cut into character
3-grams, and summarised by a 60-value MinHash signature. Locality-sensitive hashing
splits the signature into 12 bands of 5 values; two texts whose Jaccard similarity is
about 0.6 or more share at least one band with high probability. Band keys live in
`SimilarityBand` (indexed), so checking a new complaint is 12 index look-ups plus a
signature comparison for the few candidates — independent of how many complaints exist.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import struct

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from qingting.core.text import nfkc

from . import conf

NUM_PERM = 60
BANDS = 12
ROWS = NUM_PERM // BANDS
SHINGLE = 3
MIN_SHINGLES = 4
MAX_TEXT = 5000
PER_BAND_LIMIT = 200
_PRIME = np.uint64(4294967311)
_rng = np.random.RandomState(20240106)
_A = _rng.randint(1, 2**31 - 1, size=NUM_PERM).astype(np.uint64)
_B = _rng.randint(0, 2**31 - 1, size=NUM_PERM).astype(np.uint64)
_A_COL, _B_COL = _A[:, None], _B[:, None]
# The characters similarity looks at: digits, latin letters (after lower()), CJK ideographs.
_KEEP_RANGES = (("0", "9"), ("a", "z"), ("\u3400", "\u4dbf"), ("\u4e00", "\u9fff"))
_KEEP = re.compile("[^" + "".join(f"{lo}-{hi}" for lo, hi in _KEEP_RANGES) + "]+")
# The same set as a table over all code points: shingle_hashes filters the code point array
# with one look-up instead of running _KEEP over the string.
_KEPT = np.zeros(0x110000, dtype=bool)
for _lo, _hi in _KEEP_RANGES:
    _KEPT[ord(_lo):ord(_hi) + 1] = True


def _normalised(text: str) -> str:
    return nfkc(text or "")[:MAX_TEXT].lower()


def clean(text: str) -> str:
    return _KEEP.sub("", _normalised(text))


def shingles(text: str) -> set[str]:
    s = clean(text)
    if len(s) < SHINGLE:
        return {s} if s else set()
    return {s[i:i + SHINGLE] for i in range(len(s) - SHINGLE + 1)}


def jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / len(sa | sb)


_MUL = np.uint64(1_000_003)
_MIX = np.uint64(0xBF58476D1CE4E5B9)
_LOW32 = np.uint64(0xFFFFFFFF)
_SHIFT_29, _SHIFT_32 = np.uint64(29), np.uint64(32)


def shingle_hashes(text: str) -> np.ndarray:
    """Stable 32-bit hashes of the character 3-grams (vectorised: code points, not Python strings).

    Sorted, distinct, uint64. The values are stored (signatures, band keys): any change must
    leave them bit-identical (tests/intake/test_duplicates.py pins them). Written with in-place
    operations because each numpy call on these small arrays costs about a microsecond.
    """
    # "surrogatepass": a lone surrogate becomes its code point, which _KEPT drops like _KEEP does
    cps = np.frombuffer(_normalised(text).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    cps = cps[_KEPT[cps]]  # == clean(text)
    if len(cps) < SHINGLE:
        return np.empty(0, dtype=np.uint64)
    # c0*M*M + c1*M + c2 (mod 2**64) in Horner form; dtype= so numpy 1.x does not compute in uint32
    h = np.multiply(cps[:-2], _MUL, dtype=np.uint64)
    h += cps[1:-1]
    h *= _MUL
    h += cps[2:]
    h ^= h >> _SHIFT_29
    h *= _MIX
    h ^= h >> _SHIFT_32
    h &= _LOW32
    # np.unique, several times faster on a few hundred values: sort, keep the first of each run
    h.sort()
    first = np.empty(len(h), dtype=bool)
    first[0] = True
    np.not_equal(h[1:], h[:-1], out=first[1:])
    return h[first]


def signature(text: str) -> np.ndarray | None:
    """The MinHash signature (uint32[60]) of a text, or None when it is too short to compare.

    Value i is min over the hashes h of ((a_i*h + b_i) mod p), truncated to 32 bits.
    """
    h = shingle_hashes(text)
    if len(h) < MIN_SHINGLES:
        return None
    x = _A_COL * h  # a < 2**31, h < 2**32, b < 2**31: a*h + b < 2**63, no overflow
    x += _B_COL
    # x % p as x - (x // p) * p: the same number for unsigned x, but numpy divides by a scalar
    # with a multiplication (libdivide) while % uses the much slower hardware division
    q = x // _PRIME
    q *= _PRIME
    x -= q
    # the residue is < p = 2**32 + 15; the cast keeps its low 32 bits, as `& 0xFFFFFFFF` would
    return x.min(axis=1).astype(np.uint32)


_BAND_BYTES = ROWS * 4
# a blake2b state that has already absorbed the band number, copied for each signature
_BAND_HASHERS = [(hashlib.blake2b(bytes([b]), digest_size=8).copy, b * _BAND_BYTES) for b in range(BANDS)]
_UNPACK_KEYS = struct.Struct(f">{BANDS}q").unpack


def band_keys(sig: np.ndarray) -> list[int]:
    """One signed 64-bit key per band: blake2b of the band number and the band's ROWS values."""
    raw = sig.astype("<u4", copy=False).tobytes()
    digests = []
    for copy, start in _BAND_HASHERS:
        h = copy()
        h.update(raw[start:start + _BAND_BYTES])
        digests.append(h.digest())
    # each key: the 8-byte digest read as a big-endian signed integer
    return list(_UNPACK_KEYS(b"".join(digests)))


def estimate(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    return float(np.count_nonzero(sig_a == sig_b)) / NUM_PERM


def text_of(complaint) -> str:
    return f"{complaint.subject}\n{complaint.description}"


# ------------------------------------------------------------------ the index

def index_rows(items) -> tuple[list, list]:
    """(complaint_id, customer_id, received_at, text) → ((complaint_id, band keys) per complaint,
    signature rows) as tuples."""
    bands, sigs = [], []
    for complaint_id, customer_id, received_at, text in items:
        sig = signature(text)
        if sig is None:
            continue
        sigs.append((complaint_id, customer_id, received_at, sig.tobytes()))
        bands.append((complaint_id, band_keys(sig)))
    return bands, sigs


def index_complaints(items) -> int:
    bands, sigs = index_rows(items)
    insert_index(sigs, bands)
    return len(sigs)


def insert_index(sigs: list[tuple], bands: list[tuple[int, list[int]]]) -> None:
    """sigs: (complaint_id, customer_id, received_at, signature bytes); bands: (complaint_id,
    its band keys) — a SimilarityBand row (band_key, complaint_id) per key."""
    from .importer import fastinsert
    from .models import SimilarityBand, SimilaritySignature

    fastinsert.insert_rows(SimilaritySignature, ["complaint_id", "customer_id", "received_at", "signature"], sigs)
    fastinsert.insert_keyed_rows(SimilarityBand, ["band_key", "complaint_id"], bands)


def candidates(keys: list[int], *, exclude_id: int | None = None, table: str = "intake_similarityband") -> dict[int, int]:
    """complaint_id → number of shared bands, at most PER_BAND_LIMIT newest per band."""
    if not keys:
        return {}
    part = f"SELECT * FROM (SELECT complaint_id FROM {table} WHERE band_key = %s ORDER BY complaint_id DESC LIMIT {PER_BAND_LIMIT}) b{{i}}"
    sql = " UNION ALL ".join(part.format(i=i) for i in range(len(keys)))
    counts: dict[int, int] = {}
    with connection.cursor() as cur:
        cur.execute(sql, list(keys))
        for (cid,) in cur.fetchall():
            if cid != exclude_id:
                counts[cid] = counts.get(cid, 0) + 1
    return counts


def similar_to(text: str, *, exclude_id: int | None = None, threshold: float | None = None, limit: int = 10,
               sig: np.ndarray | None = None) -> list[tuple[int, int, float]]:
    """[(complaint_id, customer_id, estimated similarity)] best first, above `threshold`."""
    from .models import SimilaritySignature

    threshold = conf.get("QINGTING_RELATED_THRESHOLD") if threshold is None else threshold
    sig = signature(text) if sig is None else sig
    if sig is None:
        return []
    counts = candidates(band_keys(sig), exclude_id=exclude_id)
    if not counts:
        return []
    top = sorted(counts, key=lambda c: -counts[c])[:100]
    out = []
    for row in SimilaritySignature.objects.filter(complaint_id__in=top).values_list("complaint_id", "customer_id",
                                                                                     "signature"):
        score = estimate(sig, np.frombuffer(bytes(row[2]), dtype=np.uint32))
        if score >= threshold:
            out.append((row[0], row[1], score))
    out.sort(key=lambda r: -r[2])
    return out[:limit]


# ------------------------------------------------------------------ the created hook

def _has_contact(customer) -> bool:
    return bool(customer.mobile or customer.email)


def _same_matter(a, b) -> bool:
    if a.category_id and b.category_id:
        if a.category_id == b.category_id:
            return True
        pa = a.category.parent_id or a.category_id
        pb = b.category.parent_id or b.category_id
        return pa == pb
    return False


def on_complaint_created(complaint, actor) -> None:
    """Runs inside create_complaint's transaction: link repeats and possibly related ones, index."""
    from qingting.complaints.models import Complaint
    from qingting.complaints.services import record_events

    from .models import ComplaintLink

    text = text_of(complaint)
    sig = signature(text)
    links = []
    if _has_contact(complaint.customer):
        since = complaint.received_at - dt.timedelta(days=conf.get("QINGTING_REPEAT_WINDOW_DAYS"))
        recent = (Complaint.objects.filter(customer_id=complaint.customer_id, received_at__gte=since)
                  .exclude(pk=complaint.pk).select_related("category").order_by("-received_at")[:20])
        min_sim = conf.get("QINGTING_REPEAT_MIN_SIMILARITY")
        for other in recent:
            score = jaccard(text, text_of(other))
            if _same_matter(complaint, other) or score >= min_sim:
                links.append(ComplaintLink(complaint=complaint, other=other, kind=ComplaintLink.Kind.REPEAT,
                                           similarity=round(score, 3)))
    if sig is not None:
        repeat_ids = {link.other_id for link in links}
        for cid, customer_id, score in similar_to(text, exclude_id=complaint.pk, sig=sig, limit=5):
            if customer_id != complaint.customer_id and cid not in repeat_ids:
                links.append(ComplaintLink(complaint=complaint, other_id=cid, kind=ComplaintLink.Kind.RELATED,
                                           similarity=round(score, 3)))
    if links:
        ComplaintLink.objects.bulk_create(links, ignore_conflicts=True)
        numbers = dict(Complaint.objects.filter(pk__in=[link.other_id for link in links]).values_list("pk", "number"))
        record_events(complaint, [{"kind": f"link.{link.kind}",
                                   "after": {"other": numbers.get(link.other_id), "similarity": link.similarity}}
                                  for link in links], actor=actor)
    if sig is not None:
        index_complaints([(complaint.pk, complaint.customer_id, complaint.received_at, text)])
    repeats = [link for link in links if link.kind == ComplaintLink.Kind.REPEAT]
    if repeats:
        number, count = complaint.number, len(repeats)
        transaction.on_commit(lambda: raise_priority_for_repeat(number, count))


PRIORITY_ORDER = ["P4", "P3", "P2", "P1"]


def raised_priority(current: str, levels: int, cap: str) -> str:
    idx = PRIORITY_ORDER.index(current) if current in PRIORITY_ORDER else 1
    cap_idx = PRIORITY_ORDER.index(cap)
    if idx >= cap_idx:
        return current
    return PRIORITY_ORDER[min(idx + levels, cap_idx)]


def raise_priority_for_repeat(number: str, repeat_count: int) -> str | None:
    """After commit: raise the repeat's priority by the configured rule (through update_complaint)."""
    from qingting.complaints.models import Complaint
    from qingting.complaints.services import update_complaint

    from .actors import system_user

    c = Complaint.objects.filter(number=number).only("priority", "closed_at").first()
    if c is None or c.closed_at is not None:
        return None
    new = raised_priority(c.priority, conf.get("QINGTING_REPEAT_RAISE_LEVELS"), conf.get("QINGTING_REPEAT_PRIORITY_CAP"))
    if new == c.priority:
        return None
    update_complaint(number, actor=system_user("intake"), changes={"priority": new})
    return new


# ------------------------------------------------------------------ reading links

def links_for(complaint, user=None) -> list[dict]:
    """Repeat and possibly-related links of a complaint (both directions), only complaints `user` may see."""
    from qingting.accounts import access
    from qingting.complaints.models import Complaint

    from .models import ComplaintLink

    rows = list(ComplaintLink.objects.filter(complaint=complaint).values_list("other_id", "kind", "similarity", "created_at"))
    rows += list(ComplaintLink.objects.filter(other=complaint).values_list("complaint_id", "kind", "similarity",
                                                                           "created_at"))
    if not rows:
        return []
    qs = Complaint.objects.filter(pk__in=[r[0] for r in rows])
    if user is not None:
        qs = access.complaints_for(user, qs)
    info = {c.pk: c for c in qs.select_related("step").only("number", "subject", "received_at", "priority",
                                                              "closed_at", "step__name")}
    labels = dict(ComplaintLink.Kind.choices)
    out, seen = [], set()
    for other_id, kind, sim, created in sorted(rows, key=lambda r: (r[1] != "repeat", -r[2])):
        c = info.get(other_id)
        if c is None or (other_id, kind) in seen:
            continue
        seen.add((other_id, kind))
        out.append({"kind": kind, "kind_name": labels.get(kind, kind), "number": c.number, "subject": c.subject,
                    "received_at": c.received_at, "priority": c.priority, "step": c.step.name,
                    "closed": c.closed_at is not None, "similarity": sim})
    return out


def repeat_count_since(days: int = 30) -> int:
    """How many repeat links were found in the last `days` days (for statistics)."""
    from .models import ComplaintLink

    return ComplaintLink.objects.filter(kind="repeat", created_at__gte=timezone.now() - dt.timedelta(days=days)).count()
