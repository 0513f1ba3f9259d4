"""Early warning of complaint bursts (热点预警). Pure Python: no Django import.

The detector watches *groups* of complaints and says when one of them bursts:

* hierarchy groups: every prefix of the complaint's ``about`` hierarchy (brand → series →
  model, company → region → store …), each alone and × the problem (sub-type), plus the
  problem alone across everything;
* similar-text groups: complaints sharing a distinctive term (content words of the text),
  so "刚买就降价" and "买车三个月降价一万" from owners of different models land in one
  group. Terms that burst together are folded into one alert.

A group's expected count in the window is its own historical share (exponentially
forgotten, half-life ``baseline_half_life_days``) of the volume of the same window: when
every group rises (3·15, a holiday backlog) the expectation rises with them and nothing
fires just for that. The burst score is ``-log10 P(X ≥ k)`` for that count, plus bonuses for
triage signals (safety, media, regulator, group) and social reach.

Causal by construction: an alert is decided when a complaint is added (or at a periodic
``tick``) from the complaints received up to then, and never revised. The state is
bounded: hourly counts inside the window, one decayed number per group for the history,
a capped term vocabulary, and the complaints of the current window; ``to_state()`` gives
JSON-ready data that ``Detector.from_state`` restores.

The parts: ``thresholds`` (per industry profile), ``groups`` (values in and out, group
keys), ``textsig`` (text terms), ``burst`` (counts and baselines), ``tails`` (how surprising
a count is) and ``alert_rules`` (when a burst becomes an alert). This module ties them
together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping

from .alert_rules import evaluate
from .burst import BurstModel, WindowDoc, dt_of, hour_of
from .groups import Alert, Complaint, Group, encode_pairs, hierarchy_keys
from .tails import bb_tail_score, nb_tail_score, poisson_tail_score
from .textsig import MAX_TERMS_PER_DOC, pick_terms, raw_terms, text_key, text_terms
from .thresholds import Thresholds, ThresholdsError, load_profiles, load_thresholds

__all__ = [
    "Alert",
    "Complaint",
    "Detector",
    "Group",
    "Thresholds",
    "ThresholdsError",
    "load_profiles",
    "load_thresholds",
    "bb_tail_score",
    "nb_tail_score",
    "poisson_tail_score",
    "text_terms",
]

STATE_VERSION = 2   # 2: a window complaint names its groups by number
SNIPPET_CHARS = 240
_FAR_PAST = -(10 ** 9)


class Detector:
    """Incremental burst detector. ``add`` on every new complaint, ``tick`` periodically.

    Complaints should arrive roughly in time order; one older than the detector's clock
    is counted where it belongs (window or history) but never re-opens a past decision.
    """

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self.t = thresholds or Thresholds()
        self.model = BurstModel(self.t)
        self.labels: dict[str, str] = {}      # problem code → display label
        self.last_prune = _FAR_PAST
        self.last_tick = _FAR_PAST
        self._hierarchy: dict[Any, list[str]] = {}   # (about, problem) → hierarchy keys

    def add(self, c: Complaint) -> list[Alert]:
        """Count one complaint and return the alerts it triggers (possibly none)."""
        hour, keys = self._count(c)
        if keys is None:   # older than the window: history only
            return []
        m = self.model
        return evaluate(m, self.t, self.labels, keys, c.received_at if hour == m.now else dt_of(m.now))

    def count_history(self, complaints: Iterable[Complaint], now: datetime) -> None:
        """Rebuild the state from past complaints without judging them (a ``tick`` judges the
        present afterwards). The clock is set to ``now`` first: complaints before the window
        go straight into the decayed history, those inside it into the window."""
        m = self.model
        hour = hour_of(now)
        if m.now is None or hour > m.now:
            m.advance(hour)
        for c in complaints:
            self._count(c)

    def _count(self, c: Complaint) -> tuple[int, list[str] | None]:
        """(hour, the complaint's groups), or (hour, None) when it is older than the window."""
        m = self.model
        hour = hour_of(c.received_at)
        if m.first is None or hour < m.first:
            m.first = hour
        if m.now is None or hour > m.now:
            m.advance(hour)
        keys = self.keys_of(c)
        if c.problem and c.problem_label:
            self.labels[c.problem] = c.problem_label
        if not m.count(keys, hour, c.id):
            return hour, None
        reach = sum(float(v) * self.t.reach_weights.get(k, 0.0)
                    for k, v in (c.reach or {}).items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0)
        text = c.text or ""
        dedupe = (f"c:{c.customer_id}" if c.customer_id else
                  f"x:{encode_pairs(c.about)}|{c.problem}|{text_key(text)}" if text.strip() else
                  f"i:{c.id}")
        m.insert_doc(WindowDoc(str(c.id), hour, frozenset(keys), dedupe, frozenset(c.signals or ()), reach,
                               text.strip()[:SNIPPET_CHARS], encode_pairs(c.about)))
        return hour, keys

    def tick(self, now: datetime) -> list[Alert]:
        """Periodic job: advance the clock, forget what left the window and re-check the
        groups that received complaints since the previous tick (their expectation falls as
        older volume leaves the window). Once a day of detector time it also prunes the
        state and re-checks every group active in the window (e.g. after the warm-up)."""
        m = self.model
        hour = hour_of(now)
        if m.now is None:
            m.now = hour
            return []
        if hour > m.now:
            m.advance(hour)
        since = self.last_tick
        if m.now - self.last_prune >= 24:
            m.prune(self.t.episode_quiet_days * 24, self.t.max_terms)
            self.last_prune = m.now
            since = _FAR_PAST
        self.last_tick = m.now
        return evaluate(m, self.t, self.labels, m.active_keys(since), now if hour >= m.now else dt_of(m.now))

    def keys_of(self, c: Complaint) -> list[str]:
        """The groups a complaint belongs to."""
        where = (c.about, c.problem)
        try:
            keys = self._hierarchy.get(where)
        except TypeError:   # an unhashable about (a list): not remembered
            keys, where = None, None
        if keys is None:
            keys = hierarchy_keys(c.about, c.problem)
            if where is not None:
                if len(self._hierarchy) > 50_000:
                    self._hierarchy.clear()
                self._hierarchy[where] = keys
        raw = c.terms if c.terms is not None else raw_terms(c.text or "", self.t.text_common_word_freq)
        if len(raw) > MAX_TERMS_PER_DOC:
            raw = pick_terms(raw, self.t.stop_terms)
        stop = self.t.stop_terms
        return keys + ["t:" + term for term in raw if term not in stop]

    def to_state(self) -> dict[str, Any]:
        """JSON-ready state (lists, dicts, numbers, strings)."""
        return {"version": STATE_VERSION, **self.model.to_state(), "last_prune": self.last_prune,
                "last_tick": self.last_tick, "labels": dict(self.labels)}

    @classmethod
    def from_state(cls, state: Mapping[str, Any], thresholds: Thresholds | None = None) -> "Detector":
        if not isinstance(state, Mapping) or state.get("version") != STATE_VERSION:
            raise ValueError(f"detector state version {state.get('version') if isinstance(state, Mapping) else None!r}"
                             f" is not {STATE_VERSION}; rebuild the state by replaying recent complaints")
        d = cls(thresholds)
        d.model.load_state(state)
        d.last_prune = int(state.get("last_prune", _FAR_PAST))
        d.last_tick = int(state.get("last_tick", _FAR_PAST))
        d.labels = dict(state.get("labels", {}))
        return d

    def stats(self) -> dict[str, int]:
        m = self.model
        return {"groups": len(m.groups), "text_groups": m.n_text, "window_complaints": len(m.docs), "seen": m.seen}
