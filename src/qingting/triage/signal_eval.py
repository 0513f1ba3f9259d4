"""Precision/recall of triage signals on a labelled set (used by tests and bench)."""
from __future__ import annotations

import json
from pathlib import Path

from . import analyze

GROUPS = ("signals", "personas", "malicious", "pii")


def load_cases(path) -> list[dict]:
    cases = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                cases.append(json.loads(line))
            except ValueError as exc:
                raise ValueError(f"{path}:{n}: {exc}") from None
    return cases


def predicted(t) -> dict[str, set]:
    return {
        "signals": set(t.signal_codes),
        "personas": set(t.persona_codes) - {"ordinary"},
        "malicious": {"suspected_malicious"} if t.nature.code == "suspected_malicious" else set(),
        "pii": {p["kind"] for p in t.pii},
    }


def expected(case) -> dict[str, set]:
    return {
        "signals": set(case.get("signals", [])),
        "personas": set(case.get("personas", [])) - {"ordinary"},
        "malicious": {"suspected_malicious"} if case.get("malicious") else set(),
        "pii": set(case.get("pii", [])),
    }


def score(cases, texts=None, **context) -> dict:
    """{group: {label: {tp, fp, fn, precision, recall}}} plus a list of mistakes."""
    counts: dict = {g: {} for g in GROUPS}
    mistakes = []
    for i, case in enumerate(cases):
        text = texts[i] if texts is not None else case["text"]
        t = analyze(text, **context)
        pred, exp = predicted(t), expected(case)
        for g in GROUPS:
            for label in pred[g] | exp[g]:
                c = counts[g].setdefault(label, {"tp": 0, "fp": 0, "fn": 0})
                if label in pred[g] and label in exp[g]:
                    c["tp"] += 1
                elif label in pred[g]:
                    c["fp"] += 1
                else:
                    c["fn"] += 1
            if pred[g] != exp[g]:
                mistakes.append({"id": case.get("id") or case.get("number"), "group": g,
                                 "missed": sorted(exp[g] - pred[g]), "extra": sorted(pred[g] - exp[g])})
    for g in GROUPS:
        for c in counts[g].values():
            c["precision"] = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
            c["recall"] = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
    return {"counts": counts, "mistakes": mistakes, "n": len(cases)}
