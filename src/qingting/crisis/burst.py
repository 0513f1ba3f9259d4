"""The burst model of the early-warning detector: how many complaints each group received
in the window, how many it usually receives, and the distribution of its count (how
surprising a count is: `tails.py`).
Pure Python: no Django import.

Per group: hourly counts inside the window (the longer of the two window lengths) and one
exponentially forgotten number for the history before it (half-life
``baseline_half_life_days``); the same for all complaints together. The complaints of the
window are kept (with the groups each belongs to), indexed by group. A group's count in a
window of n complaints is Beta-Binomial: its share of all complaints has a Beta prior (mean:
its level's average share, or an average term's share) updated by its decayed history.
Conditioning on the window's own volume normalises it: when every group rises (3·15, after
a holiday) the expectation rises with them.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from datetime import datetime, timezone
from itertools import islice
from typing import Any, Iterable

from .groups import level_of
from .thresholds import Thresholds

__all__ = ["BurstModel", "GroupCounts", "WindowDoc", "dt_of", "hour_of"]

_LN2 = math.log(2.0)
EPISODE_IDS_MAX = 5000


def hour_of(dt: datetime) -> int:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("received_at must be timezone-aware")
    return int(dt.timestamp() // 3600)


def dt_of(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * 3600, tz=timezone.utc)


# ---------------------------------------------------------------------------
# state
# ---------------------------------------------------------------------------


class GroupCounts:
    """Counts of one group, and its episode (the complaints since its first alert) that the
    alert rules use to fire again only after growth."""

    __slots__ = ("buckets", "wc", "base", "base_t", "ep_count", "ep_last_alert", "ep_last",
                 "ep_alert_hour", "ep_ids", "ep_alerted")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}   # hour → complaints, inside the window, in hour order
        self.wc = 0                         # sum of buckets
        self.base = 0.0                     # decayed count of complaints before the window
        self.base_t = 0                     # hour base refers to
        self.ep_count = 0                   # complaints since the episode's first alert (0: no episode)
        self.ep_last_alert = 0              # ep_count at the last alert
        self.ep_last = 0                    # hour of the group's last complaint in the episode
        self.ep_alert_hour = 0
        self.ep_ids: set[str] | None = None  # ids covered by the episode (for folding overlaps)
        self.ep_alerted = False             # the episode raised an alert (not only folded into one)

    def to_list(self) -> list[Any]:
        return [[[h, c] for h, c in self.buckets.items()], round(self.base, 6), self.base_t,
                self.ep_count, self.ep_last_alert, self.ep_last, self.ep_alert_hour,
                sorted(self.ep_ids) if self.ep_ids is not None else None, int(self.ep_alerted)]

    @classmethod
    def from_list(cls, data: list[Any]) -> "GroupCounts":
        g = cls()
        g.buckets = {int(h): int(c) for h, c in data[0]}
        g.wc = sum(g.buckets.values())
        g.base, g.base_t = float(data[1]), int(data[2])
        g.ep_count, g.ep_last_alert, g.ep_last, g.ep_alert_hour = (int(x) for x in data[3:7])
        g.ep_ids = set(data[7]) if data[7] is not None else None
        g.ep_alerted = bool(data[8])
        return g


class WindowDoc:
    """A complaint inside the window: what an alert shows of it and the groups it is in."""

    __slots__ = ("id", "hour", "keys", "dedupe", "signals", "reach", "snippet", "path")

    def __init__(self, id: str, hour: int, keys: frozenset[str], dedupe: str,
                 signals: frozenset[str], reach: float, snippet: str, path: str) -> None:
        self.id, self.hour, self.keys, self.dedupe = id, hour, keys, dedupe
        self.signals, self.reach, self.snippet, self.path = signals, reach, snippet, path

    def to_list(self, index: dict[str, int]) -> list[Any]:
        """JSON-ready, the groups given by their number in ``index``."""
        return [self.id, self.hour, sorted(index[k] for k in self.keys), self.dedupe, sorted(self.signals),
                self.reach, self.snippet, self.path]

    @classmethod
    def from_list(cls, d: list[Any], names: list[str]) -> "WindowDoc":
        return cls(str(d[0]), int(d[1]), frozenset(names[i] for i in d[2]), str(d[3]), frozenset(d[4]),
                   float(d[5]), str(d[6]), str(d[7]))


def _insert_ordered(seq: deque[WindowDoc], doc: WindowDoc) -> None:
    """Append, or for a late arrival insert after the last doc of the same or an earlier hour."""
    if not seq or seq[-1].hour <= doc.hour:
        seq.append(doc)
        return
    i = len(seq)
    while i > 0 and seq[i - 1].hour > doc.hour:
        i -= 1
    seq.insert(i, doc)


# ---------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------


class BurstModel:
    """Group counts, the complaints of the window, and the expected count of a group.

    The clock (``now``, an hour number) only moves forward; a complaint older than the
    clock is counted where it belongs (window or history)."""

    def __init__(self, t: Thresholds) -> None:
        self.hl = t.baseline_half_life_days * 24.0
        self.windows = sorted({w for w in (t.window_hours, t.long_window_hours) if w > 0})
        self.keep = self.windows[-1]          # hours of buckets and complaints kept
        self.prior_strength = t.prior_strength
        self.volume_floor = t.volume_floor
        self.now: int | None = None           # hour of the clock
        self.first: int | None = None         # hour of the first complaint seen
        self.seen = 0
        self.groups: dict[str, GroupCounts] = {}
        self.total = GroupCounts()            # all complaints (window buckets + decayed history)
        self.levels: Counter[str] = Counter()  # hierarchy level → groups alive
        self.n_text = 0                       # similar-text groups alive
        self.terms_per_doc = 0.0              # running mean (for the text prior)
        self.docs: deque[WindowDoc] = deque()  # complaints inside the window, in hour order
        self.by_key: dict[str, deque[WindowDoc]] = {}   # the same, per group
        self.alerted: set[str] = set()        # groups whose episode raised an alert
        self._level_cache: dict[str, str] = {}
        self._factors: dict[int, float] = {}

    # -- counting -----------------------------------------------------------

    def _factor(self, hours: int) -> float:
        """2^(-hours / half-life), remembered per number of hours."""
        f = self._factors.get(hours)
        if f is None:
            if len(self._factors) > 100_000:
                self._factors.clear()
            f = self._factors[hours] = math.pow(2.0, -hours / self.hl)
        return f

    def decay(self, value: float, from_hour: int, to_hour: int) -> float:
        if to_hour <= from_hour or value == 0.0:
            return value
        return value * self._factor(to_hour - from_hour)

    def base_at(self, g: GroupCounts, hour: int) -> float:
        """The group's decayed history as of ``hour``."""
        if hour <= g.base_t or g.base == 0.0:
            return g.base
        return g.base * self._factor(hour - g.base_t)

    def fold(self, g: GroupCounts) -> None:
        """Move buckets that left the window into the decayed history."""
        if not g.buckets or self.now is None:
            return
        edge = self.now - self.keep
        old = []
        for h in g.buckets:   # buckets are kept in hour order
            if h > edge:
                break
            old.append(h)
        for h in old:
            c = g.buckets.pop(h)
            g.wc -= c
            if h >= g.base_t:
                g.base = self.decay(g.base, g.base_t, h) + c
                g.base_t = h
            else:
                g.base += self.decay(float(c), h, g.base_t)

    def _count(self, g: GroupCounts, hour: int, in_window: bool) -> None:
        if in_window:
            b = g.buckets
            if hour in b:
                b[hour] += 1
            else:
                late = bool(b) and hour < next(reversed(b))
                b[hour] = 1
                if late:   # keep hour order (late arrival)
                    g.buckets = dict(sorted(b.items()))
            g.wc += 1
        elif hour >= g.base_t:
            g.base = self.decay(g.base, g.base_t, hour) + 1.0
            g.base_t = hour
        else:
            g.base += self.decay(1.0, hour, g.base_t)

    def count(self, keys: Iterable[str], hour: int, complaint_id: str) -> bool:
        """Count one complaint in its groups (creating new ones); True when it falls inside
        the window. Groups in an episode count it there too."""
        now = self.now
        assert now is not None
        self.seen += 1
        in_window = hour > now - self.keep
        past = 0.0 if in_window else self._factor(now - hour)   # one complaint of `hour`, as of now
        groups = self.groups
        n_terms = 0
        for key in keys:
            g = groups.get(key)
            if key[0] == "t":
                n_terms += 1
            if g is None:
                g = groups[key] = GroupCounts()
                g.base_t = now
                if key[0] == "a":
                    self.levels[level_of(key)] += 1
                else:
                    self.n_text += 1
            if not in_window and g.base_t == now:   # history of a group counted as of now (a rebuild)
                g.base += past
            else:
                self._count(g, hour, in_window)
            if g.ep_count:
                g.ep_count += 1
                if g.ep_ids is not None and len(g.ep_ids) < EPISODE_IDS_MAX:
                    g.ep_ids.add(complaint_id)
        self._count(self.total, hour, in_window)
        self.terms_per_doc += (n_terms - self.terms_per_doc) / min(self.seen, 1000)
        return in_window

    def advance(self, hour: int) -> None:
        """Move the clock forward; complaints leaving the window are forgotten."""
        self.now = hour
        self.fold(self.total)
        edge = hour - self.keep
        docs, by_key = self.docs, self.by_key
        while docs and docs[0].hour <= edge:
            for k in docs.popleft().keys:
                seq = by_key.get(k)
                if seq is None:
                    continue
                while seq and seq[0].hour <= edge:
                    seq.popleft()
                if not seq:
                    del by_key[k]

    def insert_doc(self, doc: WindowDoc) -> None:
        _insert_ordered(self.docs, doc)
        by_key = self.by_key
        for k in doc.keys:
            seq = by_key.get(k)
            if seq is None:
                by_key[k] = deque((doc,))
            else:
                _insert_ordered(seq, doc)

    def members(self, key: str, w: int) -> list[WindowDoc]:
        """The complaints of a group in the last w hours, in time order."""
        seq = self.by_key.get(key, ())
        if w >= self.keep:
            return list(seq)
        edge = self.now - w
        return [d for d in seq if d.hour > edge]

    def active_keys(self, since: int) -> set[str]:
        """Groups of the complaints of the window received at hour ``since`` or later."""
        docs = self.docs
        n = 0
        for d in reversed(docs):
            if d.hour < since:
                break
            n += 1
        return {k for d in islice(docs, len(docs) - n, None) for k in d.keys}

    def window_count(self, g: GroupCounts, w: int) -> int:
        if w >= self.keep:
            return g.wc
        edge = self.now - w
        n = 0
        b = g.buckets
        for h in reversed(b):
            if h <= edge:
                break
            n += b[h]
        return n

    # -- episodes -----------------------------------------------------------

    def start_episode(self, key: str, g: GroupCounts, ids: set[str]) -> None:
        g.ep_count = max(g.ep_count, g.wc)
        g.ep_ids = set(ids)
        g.ep_alerted = True
        self.alerted.add(key)

    def end_episode(self, key: str, g: GroupCounts) -> None:
        g.ep_count = g.ep_last_alert = 0
        g.ep_ids = None
        g.ep_alerted = False
        self.alerted.discard(key)

    def prune(self, quiet_hours: float, max_terms: int) -> None:
        """End quiet episodes, drop groups that carry no information any more and cap the
        text vocabulary."""
        assert self.now is not None
        now = self.now
        eps = 0.02
        dead = []
        terms = []
        for k, g in self.groups.items():
            self.fold(g)
            if g.ep_count and now - g.ep_last > quiet_hours:
                self.end_episode(k, g)
            if not g.buckets and not g.ep_count and self.base_at(g, now) < eps:
                dead.append(k)
            elif k[0] == "t":
                terms.append(k)
        for k in dead:
            self._drop(k)
        excess = len(terms) - max_terms
        if excess > 0:
            active = self.by_key
            ranked = sorted((k for k in terms if k not in active and not self.groups[k].ep_count),
                            key=lambda k: self.base_at(self.groups[k], now))
            for k in ranked[:excess]:
                self._drop(k)

    def _drop(self, key: str) -> None:
        del self.groups[key]
        if key[0] == "a":
            lvl = level_of(key)
            self.levels[lvl] -= 1
            if self.levels[lvl] <= 0:
                del self.levels[lvl]
        else:
            self.n_text -= 1

    # -- expectation --------------------------------------------------------

    def history_hours(self) -> float:
        """Effective length of the decayed history in hours (for the usual volume)."""
        assert self.now is not None and self.first is not None
        age = max(0, self.now - self.keep - self.first)
        return self.hl / _LN2 * (1.0 - math.pow(2.0, -age / self.hl))

    def prior_share(self, key: str) -> float:
        if key[0] == "t":
            return min(0.5, max(self.terms_per_doc, 1.0) / max(self.n_text, 1))
        lvl = self._level_cache.get(key)
        if lvl is None:
            if len(self._level_cache) > 200000:
                self._level_cache.clear()
            lvl = self._level_cache[key] = level_of(key)
        return 1.0 / max(self.levels.get(lvl, 1), 1)

    def beta(self, key: str, g: GroupCounts, base_total: float) -> tuple[float, float]:
        """(a, b): the Beta distribution of the group's share of all complaints — the prior
        (weight prior_strength) updated by its decayed history."""
        base_g = min(self.base_at(g, self.now), base_total)
        a0 = self.prior_strength
        mu = self.prior_share(key)
        return a0 + base_g, max(a0 / mu - a0, 1e-6) + (base_total - base_g)

    def volume_floors(self, base_total: float, hist_h: float) -> dict[int, int]:
        """Per window length: a quiet window counts as at least volume_floor × the usual
        volume of such a window."""
        if hist_h <= 1.0:
            return {w: 0 for w in self.windows}
        return {w: int(round(self.volume_floor * base_total * w / hist_h)) for w in self.windows}

    # -- state --------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """JSON-ready; a complaint of the window names its groups by their number in ``names``
        (JSON objects such as PostgreSQL's jsonb do not keep the order of their keys)."""
        names = sorted({k for d in self.docs for k in d.keys})
        index = {k: i for i, k in enumerate(names)}
        return {"now": self.now, "first": self.first, "seen": self.seen,
                "total": self.total.to_list(),
                "groups": {k: g.to_list() for k, g in self.groups.items()},
                "names": names,
                "terms_per_doc": round(self.terms_per_doc, 4),
                "docs": [d.to_list(index) for d in self.docs]}

    def load_state(self, state: dict[str, Any]) -> None:
        self.now, self.first, self.seen = state["now"], state["first"], int(state.get("seen", 0))
        self.total = GroupCounts.from_list(state["total"])
        self.groups = {k: GroupCounts.from_list(v) for k, v in state["groups"].items()}
        for k, g in self.groups.items():
            if k[0] == "a":
                self.levels[level_of(k)] += 1
            else:
                self.n_text += 1
            if g.ep_alerted:
                self.alerted.add(k)
        self.terms_per_doc = float(state.get("terms_per_doc", 0.0))
        names = state["names"]
        for d in state["docs"]:
            self.insert_doc(WindowDoc.from_list(d, names))
