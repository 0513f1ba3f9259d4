"""Reply checker evaluation: ROC AUC on the labelled set, score distributions on the
government message/reply data (../shared/data/gov_messages_with_replies_half.csv).

Usage: .venv/bin/python bench/reply_checker_eval.py [--data DIR] [--show-misses]
Prints its figures and the machine it ran on.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from qingting.coaching.checker import check_reply  # noqa: E402

LABELLED = ROOT / "tests" / "coaching" / "replies_labelled.toml"
BARE_MARKERS = ("收悉", "已转", "转交", "已收到", "收到", "交办", "移交", "已阅")


def roc_auc(pos: list[float], neg: list[float]) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    if not pos or not neg:
        return float("nan")
    wins = 0.0
    for p in pos:
        for n in neg:
            wins += 1.0 if p > n else 0.5 if p == n else 0.0
    return wins / (len(pos) * len(neg))


def describe(scores: list[int]) -> str:
    s = sorted(scores)
    q = lambda f: s[min(len(s) - 1, int(f * len(s)))]  # noqa: E731
    return (f"n={len(s):4d} mean={statistics.mean(s):5.1f} median={statistics.median(s):5.1f} "
            f"p10={q(0.1):3d} p25={q(0.25):3d} p75={q(0.75):3d} p90={q(0.9):3d}")


def labelled(show_misses: bool) -> None:
    items = tomllib.loads(LABELLED.read_text(encoding="utf-8"))["reply"]
    by = {"good": [], "bad": []}
    missed = 0
    for it in items:
        r = check_reply(it["text"], context=it.get("context"))
        by[it["label"]].append(r.score)
        lacking = [c for c in it.get("expect", []) if c not in r.codes]
        if lacking or (it["label"] == "good" and r.score < 70):
            missed += 1
            if show_misses:
                print(f"  miss {it['id']} score={r.score} lacking={lacking} got={r.codes}")
    for lang in ("zh", "en"):
        pos = [check_reply(i["text"], context=i.get("context")).score for i in items
               if i["label"] == "good" and i["id"].startswith(lang)]
        neg = [check_reply(i["text"], context=i.get("context")).score for i in items
               if i["label"] == "bad" and i["id"].startswith(lang)]
        print(f"labelled {lang}: good {len(pos)} bad {len(neg)}  ROC AUC = {roc_auc(pos, neg):.3f}")
    print(f"labelled all: good {len(by['good'])} bad {len(by['bad'])}  "
          f"ROC AUC = {roc_auc(by['good'], by['bad']):.3f}")
    print(f"  good scores: {describe(by['good'])}")
    print(f"  bad scores:  {describe(by['bad'])}")
    print(f"  items with an expected finding missing (or good < 70): {missed}/{len(items)}")


def gov(data_dir: Path) -> None:
    path = data_dir / "gov_messages_with_replies_half.csv"
    if not path.exists():
        print(f"gov data: {path} not found, skipped")
        return
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    t0 = time.perf_counter()
    scored = [(r["答复意见"], check_reply(r["答复意见"]).score) for r in rows]
    elapsed = time.perf_counter() - t0
    # groups defined WITHOUT the checker: length and the stock phrases of a bare reply
    bare = [s for t, s in scored if len(t) < 60 and any(m in t for m in BARE_MARKERS)]
    short_other = [s for t, s in scored if len(t) < 60 and not any(m in t for m in BARE_MARKERS)]
    complete = [s for t, s in scored if len(t) >= 200]
    middle = [s for t, s in scored if 60 <= len(t) < 200]
    print(f"gov replies: {len(rows)} checked in {elapsed:.2f} s "
          f"({1000 * elapsed / max(1, len(rows)):.2f} ms/reply)")
    print(f"  bare (<60 chars, 收悉/已转/收到…):  {describe(bare)}")
    print(f"  short other (<60 chars):          {describe(short_other)}")
    print(f"  60–199 chars:                     {describe(middle)}")
    print(f"  complete (>=200 chars):           {describe(complete)}")
    print(f"  ROC AUC complete vs bare = {roc_auc(complete, bare):.3f}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--show-misses", action="store_true")
    args = ap.parse_args(argv)
    print(f"machine: nproc={os.cpu_count()} python={platform.python_version()} {platform.machine()}")
    labelled(args.show_misses)
    gov(Path(args.data))
    t0 = time.perf_counter()
    check_reply("您好，" * 350_000)  # ~1 MB of text
    print(f"1 MB reply: {time.perf_counter() - t0:.3f} s")


if __name__ == "__main__":
    main()
