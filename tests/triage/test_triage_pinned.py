"""Triage's whole output on a sample of the real complaints is pinned, so work on its speed
cannot change what it says without a test failing.

Each sampled text's result (`to_dict()`, as JSON with sorted keys) is reduced to 12 hex
digits of its SHA-256 and compared with tests/triage/pinned_outputs.json; the failure names
the rows that changed. A deliberate change of the lexicons or the rules changes these
outputs too: check the differences, then write the pins again with

    QINGTING_REPIN_TRIAGE=1 pytest tests/triage/test_triage_pinned.py
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path

import pytest
from _triage_helpers import shared_data

from qingting.triage import analyze

PINS = Path(__file__).with_name("pinned_outputs.json")

# (file, text column, subject column or None, profile, every n-th row)
SAMPLES = [
    ("car_complaints_2024-01-29_to_2024-02-28.csv", "投诉简述", None, "auto4s", 4),
    ("cfpb_complaints_before_2019-07.csv", "Consumer complaint narrative", "Issue", "finance", 40),
    ("gov_messages_with_replies_half.csv", "留言详情", "留言主题", "general", 10),
]


def outputs() -> dict[str, str]:
    out = {}
    for name, text_col, subject_col, profile, step in SAMPLES:
        with open(shared_data(name), encoding="utf-8-sig", newline="") as fh:
            for i, row in enumerate(csv.DictReader(fh)):
                if i % step:
                    continue
                result = analyze(row.get(text_col) or "", subject=row.get(subject_col) if subject_col else None,
                                 profile=profile, channel="import", model="lexicon")
                text = json.dumps(result.to_dict(), ensure_ascii=False, sort_keys=True)
                out[f"{name.split('_')[0]}:{i}"] = hashlib.sha256(text.encode()).hexdigest()[:12]
    return out


def test_triage_output_on_real_complaints_is_unchanged():
    got = outputs()
    if os.environ.get("QINGTING_REPIN_TRIAGE"):
        PINS.write_text(json.dumps(got, indent=0, sort_keys=True) + "\n", encoding="utf-8")
        pytest.skip(f"pins written to {PINS}")
    pinned = json.loads(PINS.read_text(encoding="utf-8"))
    assert len(got) > 400
    changed = sorted(k for k in pinned.keys() | got.keys() if pinned.get(k) != got.get(k))
    assert not changed, f"triage output changed for {len(changed)} of {len(pinned)} sampled rows: {changed[:20]}"
