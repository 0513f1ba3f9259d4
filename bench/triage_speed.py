"""Triage speed: analyze() throughput with a trained model loaded (one core), model load
time, and training time on 10k complaints.

    .venv/bin/python bench/triage_speed.py [--data-dir ../shared/data] [--n 3000]

Texts: the car complaints of 100-300 characters (cycled).  Training on 10k uses 10,000
reviews of online_shopping_10_cats.csv labelled with their product domain (10 classes).
"""
from __future__ import annotations

import argparse
import csv
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from qingting.triage import analyze  # noqa: E402
from qingting.triage.model import load_active, save_model, train  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--n", type=int, default=3000)
    args = ap.parse_args(argv)
    data = Path(args.data_dir)
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
        pinned = True
    except (AttributeError, OSError):
        pinned = False
    print(f"machine: nproc={os.cpu_count()} python={platform.python_version()} {platform.platform()} pinned_to_one_core={pinned}")
    with open(data / "car_complaints_2024-01-29_to_2024-02-28.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    texts_all = [r["投诉简述"] for r in rows]
    labels_all = [r["投诉问题"] for r in rows]
    sample = [t for t in texts_all if 100 <= len(t) <= 300]
    print(f"texts of 100-300 chars: {len(sample)} (mean {sum(map(len, sample)) / len(sample):.0f} chars)")

    model = train(texts_all, labels_all, profile="auto4s")
    with tempfile.TemporaryDirectory() as d:
        save_model(model, d)
        load_s = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            loaded = load_active(d)
            load_s = min(load_s, time.perf_counter() - t0)
        print(f"model load: {load_s * 1000:.1f} ms wall, best of 3 ({len(loaded.features)} features, {len(loaded.labels)} classes, {loaded.config['name']})")
        batch = [sample[i % len(sample)] for i in range(args.n)]
        analyze(batch[0], model=loaded, profile="auto4s")  # warm caches (lexicon, OpenCC, rjieba)
        # CPU time of this process (time.process_time) as well as wall time: on a shared
        # machine the wall clock also counts time the process was not running.
        for label, mdl, to_dict in (("with model", loaded, False), ("lexicon only", "lexicon", False),
                                    ("model+to_dict", loaded, True)):
            best_cpu = best_wall = float("inf")
            for _ in range(3):
                c0, w0 = time.process_time(), time.perf_counter()
                for t in batch:
                    r = analyze(t, model=mdl, profile="auto4s")
                    if to_dict:
                        r.to_dict()
                best_cpu = min(best_cpu, time.process_time() - c0)
                best_wall = min(best_wall, time.perf_counter() - w0)
            print(f"analyze() {label:14s}: {args.n / best_cpu:,.0f} complaints/s per core (CPU time, {best_cpu / args.n * 1e6:.0f} µs each); "
                  f"wall clock {args.n / best_wall:,.0f}/s (best of 3)")

    shop = data / "online_shopping_10_cats.csv"
    with open(shop, encoding="utf-8", newline="") as f:
        srows = [r for r in csv.DictReader(f) if r["review"].strip()]
    random.Random(0).shuffle(srows)
    srows = srows[:10_000]
    lens = sorted(len(r["review"]) for r in srows)
    for feats in (() if os.environ.get("SKIP_TRAIN") else ("auto", "char12+lex")):
        t0, c0 = time.perf_counter(), time.process_time()
        m = train([r["review"] for r in srows], [r["cat"] for r in srows], features=feats)
        el, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(f"train on {len(srows):,} reviews (median {lens[len(lens) // 2]} chars, 10 classes), features={feats}: "
              f"{el:.1f} s wall, {cpu:.1f} s CPU (chosen {m.config['name']})")


if __name__ == "__main__":
    main()
