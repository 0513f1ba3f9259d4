"""Precision and recall per triage signal on the labelled sets.

  tests/triage/signals_labelled.jsonl  — 160 sentences written for Qingting with expected labels
  tests/triage/signals_real_car.jsonl  — 50 real car complaints (text read from ../shared/data by
                                         complaint number) labelled by hand; the lexicon was tuned on them
  tests/triage/signals_real_car_holdout.jsonl — 28 more, labelled after tuning (held out)

    .venv/bin/python bench/triage_signals_eval.py [--mistakes]
"""
from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from qingting.triage.signal_eval import GROUPS, load_cases, score  # noqa: E402


def show(title, res, mistakes):
    print(f"\n== {title} (n={res['n']})")
    print(f"   {'group':10s} {'label':16s} {'tp':>4s} {'fp':>4s} {'fn':>4s} {'precision':>9s} {'recall':>7s}")
    for g in GROUPS:
        for label, c in sorted(res["counts"][g].items()):
            print(f"   {g:10s} {label:16s} {c['tp']:4d} {c['fp']:4d} {c['fn']:4d} {c['precision']:9.2f} {c['recall']:7.2f}")
    if mistakes:
        for m in res["mistakes"]:
            print(f"   - {m['id']} {m['group']}: missed {m['missed']} extra {m['extra']}")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--mistakes", action="store_true")
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    args = ap.parse_args(argv)
    print(f"machine: nproc={os.cpu_count()} python={platform.python_version()}")
    written = load_cases(ROOT / "tests" / "triage" / "signals_labelled.jsonl")
    show("written sentences", score(written), args.mistakes)
    real = load_cases(ROOT / "tests" / "triage" / "signals_real_car.jsonl")
    path = Path(args.data_dir) / "car_complaints_2024-01-29_to_2024-02-28.csv"
    if not path.exists():
        print(f"\n(real complaints skipped: {path} not found)")
        return
    with open(path, encoding="utf-8", newline="") as f:
        by_number = {r["投诉编号"]: r["投诉简述"] for r in csv.DictReader(f)}
    texts = [by_number[c["number"]] for c in real]
    show("real car complaints labelled by hand (development set: the lexicon was tuned on it)",
         score(real, texts, profile="auto4s"), args.mistakes)
    held = load_cases(ROOT / "tests" / "triage" / "signals_real_car_holdout.jsonl")
    texts = [by_number[c["number"]] for c in held]
    show("real car complaints labelled by hand (HELD OUT: labelled after tuning, never tuned on)",
         score(held, texts, profile="auto4s"), args.mistakes)


if __name__ == "__main__":
    main()
