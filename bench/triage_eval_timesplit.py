"""Time-split evaluation of the triage category model on the real data.

Split A (the reference): train on the earlier 75 % of complaints (by date; the cut
falls on a day boundary), test on the later ones — how a deployed model meets new
complaints.  Split B (a check that choices hold): train on the first 50 %, test on the
next 25 %.  Also prints a plain TF-IDF(char 1-3) + LinearSVC baseline on the same
splits, and the lexicon-only cold start.

    .venv/bin/python bench/triage_eval_timesplit.py [--data-dir ../shared/data] [--json] [--split A|B|both]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from qingting.triage import analyze  # noqa: E402
from qingting.triage.model import evaluate, train  # noqa: E402


def _date(s: str) -> str:
    s = s.strip().replace("/", "-")
    y, m, d = (s.split(" ")[0].split("-") + ["1", "1"])[:3]
    return f"{int(y):04d}-{int(m):02d}-{int(d):02d}"


SPLITS = {"A": (0.75, 1.0), "B": (0.5, 0.75)}  # (train up to, test up to) as shares of the rows by date


def load(data_dir: Path, which: str, split: str = "A"):
    if which == "car":
        path = data_dir / "car_complaints_2024-01-29_to_2024-02-28.csv"
        text, label, date = "投诉简述", "投诉问题", "投诉日期"
    else:
        path = data_dir / "cfpb_complaints_before_2019-07.csv"
        text, label, date = "Consumer complaint narrative", "Product", "Date received"
    with open(path, encoding="utf-8", newline="") as f:
        rows = [(_date(r[date]), r[text], r[label]) for r in csv.DictReader(f) if r[text].strip() and r[label].strip()]
    rows.sort(key=lambda r: r[0])  # stable: same-day rows keep file order
    a, b = SPLITS[split]
    cut = rows[int(len(rows) * a)][0]
    end = rows[int(len(rows) * b)][0] if b < 1 else None
    train_rows = [r for r in rows if r[0] < cut]
    test_rows = [r for r in rows if r[0] >= cut and (end is None or r[0] < end)]
    return train_rows, test_rows, cut


def baseline(train_rows, test_rows):
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.svm import LinearSVC

    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    X = vec.fit_transform([r[1] for r in train_rows])
    clf = LinearSVC().fit(X, [r[2] for r in train_rows])
    S = clf.decision_function(vec.transform([r[1] for r in test_rows]))
    y = [r[2] for r in test_rows]
    pred = clf.classes_[S.argmax(1)]
    top3 = np.argsort(-S, axis=1)[:, :3]
    return {"accuracy": accuracy_score(y, pred), "macro_f1": f1_score(y, pred, average="macro", zero_division=0),
            "top3_accuracy": float(np.mean([y[i] in clf.classes_[top3[i]] for i in range(len(y))]))}


def lexicon_only(test_rows, profile):
    """Cold start: level-2 of the lexicon rules (auto4s profile names = the car labels)."""
    from sklearn.metrics import accuracy_score, f1_score

    y, pred, hit3 = [], [], 0
    for _, text, label in test_rows:
        t = analyze(text, profile=profile, model="lexicon")
        names = [c.level2_zh for c in (t.category.choice, *t.category.alternatives)]
        y.append(label)
        pred.append(names[0] or "其他原因")
        hit3 += label in names
    return {"accuracy": accuracy_score(y, pred), "macro_f1": f1_score(y, pred, average="macro", zero_division=0),
            "top3_accuracy": hit3 / len(y)}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--features", default="auto")
    ap.add_argument("--split", choices=("A", "B", "both"), default="both")
    args = ap.parse_args(argv)
    data_dir = Path(args.data_dir)
    report = {"machine": {"nproc": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}}
    runs = [(which, profile, split) for split in (("A", "B") if args.split == "both" else (args.split,))
            for which, profile in (("car", "auto4s"), ("cfpb", "finance"))]
    for which, profile, split in runs:
        train_rows, test_rows, cut = load(data_dir, which, split)
        t0 = time.perf_counter()
        model = train([r[1] for r in train_rows], [r[2] for r in train_rows], profile=profile, features=args.features)
        train_s = time.perf_counter() - t0
        res = evaluate(model, [r[1] for r in test_rows], [r[2] for r in test_rows])
        entry = {"split": split, "train_n": len(train_rows), "test_n": len(test_rows), "cut_date": cut,
                 "train_dates": f"{train_rows[0][0]}..{train_rows[-1][0]}", "test_dates": f"{test_rows[0][0]}..{test_rows[-1][0]}",
                 "chosen_features": model.config.get("name"), "selection": model.metrics.get("selection"),
                 "train_seconds": round(train_s, 2),
                 "model": {k: round(res[k], 4) for k in ("accuracy", "macro_f1", "top3_accuracy")},
                 "baseline_char13_linearsvc": {k: round(v, 4) for k, v in baseline(train_rows, test_rows).items()},
                 "per_class": res["per_class"]}
        if which == "car":
            entry["lexicon_cold_start"] = {k: round(v, 4) for k, v in lexicon_only(test_rows, profile).items()}
        report[which if split == "A" else f"{which}_{split}"] = entry
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
        return
    m = report["machine"]
    print(f"machine: nproc={m['nproc']} python={m['python']} {m['platform']}")
    for key in (which if split == "A" else f"{which}_{split}" for which, _, split in runs):
        e = report[key]
        print(f"\n== {key} (split {e['split']}): train {e['train_n']} ({e['train_dates']}), test {e['test_n']} ({e['test_dates']})")
        print(f"   features chosen: {e['chosen_features']}  selection (time-ordered validation windows inside train): {e['selection']}")
        print(f"   train time: {e['train_seconds']} s")
        for k in ("model", "baseline_char13_linearsvc", "lexicon_cold_start"):
            if k in e:
                r = e[k]
                print(f"   {k:28s} accuracy={r['accuracy']:.3f} macro_f1={r['macro_f1']:.3f} top3={r['top3_accuracy']:.3f}")
        print("   per class (precision/recall/support):")
        for c, v in sorted(e["per_class"].items(), key=lambda kv: -kv[1]["support"]):
            print(f"     {c[:40]:40s} P={v['precision']:.2f} R={v['recall']:.2f} n={v['support']}")


if __name__ == "__main__":
    main()
