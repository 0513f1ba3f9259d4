"""Per-signal precision/recall on the labelled sets must stay above sensible floors.

The floors sit a little under today's figures (bench/triage_signals_eval.py prints them),
so a lexicon edit that breaks a signal fails here."""
import csv
from pathlib import Path

import pytest
from _triage_helpers import shared_data

from qingting.triage.signal_eval import load_cases, score

HERE = Path(__file__).parent


def floors_ok(res, floors, min_support=5):
    bad = []
    for group, labels in res["counts"].items():
        for label, c in labels.items():
            support = c["tp"] + c["fn"]
            p_floor, r_floor = floors.get(label, floors["*"])
            if support >= min_support and c["recall"] < r_floor:
                bad.append(f"{group}.{label} recall {c['recall']:.2f} < {r_floor}")
            if c["tp"] + c["fp"] >= min_support and c["precision"] < p_floor:
                bad.append(f"{group}.{label} precision {c['precision']:.2f} < {p_floor}")
    return bad


def test_written_set_is_large_and_well_formed():
    cases = load_cases(HERE / "signals_labelled.jsonl")
    assert len(cases) >= 150
    assert len({c["id"] for c in cases}) == len(cases)
    allowed = {"id", "text", "signals", "personas", "malicious", "pii", "note"}
    for c in cases:
        assert set(c) <= allowed, c["id"]


def test_written_sentences_precision_recall():
    res = score(load_cases(HERE / "signals_labelled.jsonl"))
    bad = floors_ok(res, {"*": (0.8, 0.7)})
    assert not bad, bad


def _real(name):
    path = shared_data("car_complaints_2024-01-29_to_2024-02-28.csv")
    with open(path, encoding="utf-8", newline="") as f:
        by_number = {r["投诉编号"]: r["投诉简述"] for r in csv.DictReader(f)}
    cases = load_cases(HERE / name)
    return cases, [by_number[c["number"]] for c in cases]


def test_real_complaints_precision_recall():
    cases, texts = _real("signals_real_car.jsonl")
    assert len(cases) == 50
    res = score(cases, texts, profile="auto4s")
    bad = floors_ok(res, {"*": (0.6, 0.6)}, min_support=4)
    assert not bad, bad


def test_real_held_out_complaints_overall():
    cases, texts = _real("signals_real_car_holdout.jsonl")
    res = score(cases, texts, profile="auto4s")
    c = res["counts"]["signals"]
    tp = sum(v["tp"] for v in c.values())
    fp = sum(v["fp"] for v in c.values())
    fn = sum(v["fn"] for v in c.values())
    assert tp / (tp + fp) >= 0.7 and tp / (tp + fn) >= 0.4, (tp, fp, fn)
