"""The detector fed from the database: a process keeps it in memory, the sweep snapshots it,
another process restores the snapshot without raising the same alerts again, a failed feed
leaves nothing behind, and a rebuild judges the present, not the past."""
from __future__ import annotations

import datetime as dt
import pathlib
import sys

import pytest
from django.utils import timezone
from qingting.complaints.models import Category
from qingting.crisis import feed, warning
from qingting.crisis.models import DetectorState, Hotspot

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from _factories import background, clone_complaints  # noqa: E402

pytestmark = pytest.mark.django_db
PROFILE = "auto4s"


@pytest.fixture
def base(new_complaint):
    feed._held.clear()
    yield new_complaint(profile=PROFILE, about={"brand": "甲", "series": "甲A"})
    feed._held.clear()


def brake_burst(base, n, *, prefix, at):
    return clone_complaints(base, n, prefix=prefix, about={"brand": "丁", "series": "丁A"},
                            category=Category.objects.get(code="pq_brake"), text="刹车片异常磨损，行驶中刹车异响",
                            received=lambda i: at - dt.timedelta(minutes=5 * i))


def held_state() -> dict:
    return feed._held[PROFILE].detector.to_state()


def assert_same_state(got: dict, expected: dict) -> None:
    """The same detector, up to the rounding of a snapshot's decayed counts."""
    def docs(state):
        return [(d[0], d[1], sorted(state["names"][i] for i in d[2]), d[3], d[4], float(d[5]), *d[6:])
                for d in state["docs"]]

    assert docs(got) == docs(expected) and got["groups"].keys() == expected["groups"].keys()
    for key, g in expected["groups"].items():
        assert got["groups"][key][0] == g[0] and got["groups"][key][2:] == g[2:]
        assert got["groups"][key][1] == pytest.approx(g[1], rel=1e-6, abs=1e-6)


def test_a_new_process_restores_the_snapshot_and_does_not_raise_the_same_alerts_again(base):
    now = timezone.now()
    background(base, 10, now=now)
    warning.sweep_hotspots(now=now - dt.timedelta(hours=1))   # rebuild, snapshot; nothing hot
    snapshot = DetectorState.objects.get(profile=PROFILE)
    assert snapshot.state["complaint_id"] == snapshot.last_complaint_id and not Hotspot.objects.exists()
    brake_burst(base, 8, prefix="H", at=now - dt.timedelta(minutes=2))
    hotspots = warning.check_new_complaints(PROFILE, rules=False)   # fed in memory: an alert, no snapshot
    assert {h.group.get("series") for h in hotspots} == {"丁A"}
    row = DetectorState.objects.get(profile=PROFILE)
    assert row.last_complaint_id > row.state["complaint_id"]
    expected = held_state()
    fired = list(Hotspot.objects.values_list("key", "fire_count"))

    feed._held.clear()                                 # another process, or a restart
    with feed.feeding(PROFILE) as f:
        assert f.alerts == [] and f.feed_new() == []
        restored = f.detector.to_state()
    assert_same_state(restored, expected)
    assert list(Hotspot.objects.values_list("key", "fire_count")) == fired   # no alert raised again


def test_a_process_behind_another_catches_up_from_its_own_detector(base):
    now = timezone.now()
    background(base, 10, now=now)
    warning.sweep_hotspots(now=now - dt.timedelta(hours=1))
    mine = feed._held.pop(PROFILE)                     # this process, paused
    brake_burst(base, 8, prefix="H", at=now - dt.timedelta(minutes=2))
    other = warning.check_new_complaints(PROFILE, rules=False)   # another process feeds the burst
    assert {h.group.get("series") for h in other} == {"丁A"}
    expected = held_state()
    fired = list(Hotspot.objects.values_list("key", "fire_count"))
    feed._held[PROFILE] = mine                          # this process again: same snapshot, behind
    with feed.feeding(PROFILE) as f:
        assert f.detector is mine.detector              # caught up in memory, not restored
        assert f.feed_new() == []
        caught_up = f.detector.to_state()
    assert_same_state(caught_up, expected)
    assert list(Hotspot.objects.values_list("key", "fire_count")) == fired   # no alert raised again


def test_a_failed_feed_leaves_the_database_and_memory_as_they_were(base, monkeypatch):
    now = timezone.now()
    background(base, 10, now=now)
    warning.sweep_hotspots(now=now - dt.timedelta(hours=2))
    before = DetectorState.objects.get(profile=PROFILE).last_complaint_id
    brake_burst(base, 8, prefix="H", at=now - dt.timedelta(minutes=30))

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(warning, "_persist_alert", broken)
    with pytest.raises(RuntimeError):
        warning.check_new_complaints(PROFILE, rules=False)
    assert DetectorState.objects.get(profile=PROFILE).last_complaint_id == before
    assert PROFILE not in feed._held
    monkeypatch.undo()
    hotspots = warning.check_new_complaints(PROFILE, rules=False)
    assert {h.group.get("series") for h in hotspots} == {"丁A"}   # the same alert, raised on the retry


def test_a_rebuild_counts_the_past_and_raises_only_what_is_hot_now(base):
    now = timezone.now()
    background(base, 25, now=now)
    brake_burst(base, 8, prefix="OLD", at=now - dt.timedelta(days=12))
    clone_complaints(base, 8, prefix="NEW", about={"brand": "乙", "series": "乙B"},
                     category=Category.objects.get(code="pq_engine"), text="发动机异响，冷车启动抖动",
                     received=lambda i: now - dt.timedelta(minutes=5 * i))
    warning.sweep_hotspots(now=now)
    assert {h.group.get("series") for h in Hotspot.objects.all()} == {"乙B"}
    st = feed._held[PROFILE].detector.stats()
    assert st["seen"] == 25 * 12 + 8 + 8 + 1   # every complaint of the last 30 days counted
