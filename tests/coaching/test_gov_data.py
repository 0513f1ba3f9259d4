"""The checker on real government replies: bare acknowledgements score far below
complete answers. Groups are defined without the checker (length and stock phrases)."""

import csv
import os
import statistics
from pathlib import Path

import pytest

from qingting.coaching.checker import check_reply

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def shared_data_file(name: str) -> Path:
    """A file of ../shared/data; skip loudly when absent (fail when CI is set)."""
    path = SHARED_DATA / name
    if not path.exists():
        msg = f"REAL DATA MISSING: {path} not found (tests read ../shared/data beside the repo)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path

pytestmark = pytest.mark.data

BARE_MARKERS = ("收悉", "已转", "转交", "已收到", "收到", "交办", "移交", "已阅")


def test_bare_replies_score_clearly_below_complete_ones():
    path = shared_data_file("gov_messages_with_replies_half.csv")
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    bare, complete = [], []
    for r in rows:
        text = r["答复意见"]
        if len(text) < 60 and any(m in text for m in BARE_MARKERS):
            bare.append(check_reply(text).score)
        elif len(text) >= 200:
            complete.append(check_reply(text).score)
    assert len(bare) > 50 and len(complete) > 500
    assert statistics.median(complete) - statistics.median(bare) >= 30
    wins = sum(1.0 if c > b else 0.5 if c == b else 0.0 for c in complete for b in bare)
    assert wins / (len(complete) * len(bare)) >= 0.9
