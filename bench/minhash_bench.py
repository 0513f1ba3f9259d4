"""CPU time per call of duplicates.shingle_hashes / signature / band_keys on the car complaints.

    QINGTING_DATA_DIR=/tmp/qt-bench PYTHONPATH=src .venv/bin/python bench/minhash_bench.py [--against main]

Pinned to one core, time.process_time, best of 3 rounds over the texts of
../shared/data/car_complaints_*.csv (column 投诉简述). With --against REV, the module as it is
at git revision REV is loaded too, checked to give identical outputs on these texts, and timed
interleaved with the current one (the machine is noisy: compare within one run).
"""
from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "car_complaints_2024-01-29_to_2024-02-28.csv"
MODULE = "src/qingting/intake/duplicates.py"


def load_revision(rev: str) -> types.ModuleType:
    source = subprocess.run(["git", "show", f"{rev}:{MODULE}"], cwd=ROOT, check=True, capture_output=True,
                            text=True).stdout
    mod = types.ModuleType(f"duplicates_{rev}")
    mod.__package__ = "qingting.intake"  # for its relative imports
    exec(compile(source, f"{rev}:{MODULE}", "exec"), mod.__dict__)
    return mod


def per_call_us(fn, items) -> float:
    start = time.process_time()
    for item in items:
        fn(item)
    return (time.process_time() - start) / len(items) * 1e6


def cases(mod, texts, sigs):
    def both(text):
        sig = mod.signature(text)
        return None if sig is None else mod.band_keys(sig)
    return {"shingle_hashes": (mod.shingle_hashes, texts), "signature": (mod.signature, texts),
            "band_keys": (mod.band_keys, sigs), "signature+band_keys": (both, texts)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--against", help="a git revision to compare with, e.g. main")
    args = ap.parse_args()
    os.sched_setaffinity(0, {0})
    sys.path.insert(0, str(ROOT / "src"))
    from qingting.intake import duplicates

    with open(DATA, encoding="utf-8") as fh:
        texts = [row["投诉简述"] for row in csv.DictReader(fh)]
    sigs = [s for s in map(duplicates.signature, texts) if s is not None]
    mods = {"current": duplicates}
    if args.against:
        old = load_revision(args.against)
        for text in texts:
            a, b = old.signature(text), duplicates.signature(text)
            assert np.array_equal(old.shingle_hashes(text), duplicates.shingle_hashes(text))
            assert (a is None and b is None) or (np.array_equal(a, b) and old.band_keys(a) == duplicates.band_keys(b))
        print(f"{len(texts)} texts: identical outputs")
        mods = {args.against: old, **mods}
    print(f"{len(texts)} texts, mean {np.mean([len(t) for t in texts]):.0f} chars; µs per call, best of 3")
    best = {name: {} for name in mods}
    for _ in range(3):
        for name, mod in mods.items():  # interleaved
            for case, (fn, items) in cases(mod, texts, sigs).items():
                us = per_call_us(fn, items)
                best[name][case] = min(us, best[name].get(case, us))
    for case in best["current"]:
        print(f"{case:20s} " + "  ".join(f"{name} {best[name][case]:6.1f}" for name in mods))


if __name__ == "__main__":
    main()
