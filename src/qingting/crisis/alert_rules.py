"""When a burst becomes an alert, and what the alert says. Pure Python: no Django import.

A group is checked over each window length (``window_hours``, ``long_window_hours``): it
needs at least ``min_count`` complaints, ``min_ratio`` × its expected count, and a score of
``min_score`` (``text_*`` for similar-text groups, which must also span
``text_min_about_paths`` different hierarchy paths and be no everyday term). The score is
``-log10 P(X ≥ k)`` of the burst model plus bonuses for triage signals and social reach; the
same customer or the same text filed twice counts once.

Once a group alerted, it is in an *episode*: it fires again only after growing by
``refire_growth``, and the episode ends after ``episode_quiet_days`` without the group being
hot. A group whose complaints are mostly (``overlap_suppress``) those of an alert already
raised is folded into it instead of alerting again. Most significant first; on ties the more
specific hierarchy group wins.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime
from typing import Any, Iterable, Mapping

from .burst import BurstModel, GroupCounts, WindowDoc
from .groups import FIELD_SEP, PROBLEM_FIELD, Alert, decode_key
from .tails import bb_tail_score
from .textsig import join_keywords, text_key
from .thresholds import Thresholds

__all__ = ["evaluate"]


def evaluate(m: BurstModel, t: Thresholds, labels: Mapping[str, str], keys: Iterable[str],
             fired_at: datetime) -> list[Alert]:
    """The alerts the groups ``keys`` raise now (episodes updated)."""
    now = m.now
    assert now is not None and m.first is not None
    if now - m.first < t.warmup_days * 24:
        return []
    m.fold(m.total)
    max_bonus = t.reach_bonus_cap + sum(max(w, 0.0) for w in t.signal_weights.values())
    base_total = m.base_at(m.total, now)
    hist_h = m.history_hours()
    windows, keep = m.windows, m.keep
    totals = {w: m.window_count(m.total, w) for w in windows}
    floors = m.volume_floors(base_total, hist_h)
    volume = {w: max(totals[w], floors[w]) for w in windows}   # n of the Beta-Binomial
    limits = {False: (t.min_count, t.min_ratio, t.min_score),
              True: (t.text_min_count, t.text_min_ratio, t.text_min_score)}
    floor_count = min(t.min_count, t.text_min_count)
    quiet = t.episode_quiet_days * 24
    check_share = hist_h > 1.0 and base_total > 0
    edge = now - keep
    groups = m.groups
    candidates: list[tuple[float, str, dict[str, Any]]] = []
    for key in keys:
        g = groups.get(key)
        if g is None or g.wc < floor_count:   # wc only shrinks when folded
            continue
        if next(iter(g.buckets)) <= edge:
            m.fold(g)
        is_text = key[0] == "t"
        min_count, min_ratio, min_score = limits[is_text]
        if g.wc < min_count:
            continue
        if g.ep_count and now - g.ep_last > quiet:
            m.end_episode(key, g)
        if is_text and check_share and m.base_at(g, now) / base_total > t.text_max_doc_share:
            continue
        best: tuple[float, int, float] | None = None
        hot = False
        ab = m.beta(key, g, base_total)
        a, b = ab
        for w in windows:
            n = volume[w]
            lam = n * a / (a + b)
            if g.wc < min_ratio * lam:   # the count of any window is at most wc: not hot
                continue
            k_w = g.wc if w >= keep else m.window_count(g, w)
            if k_w < min_count:
                continue
            if k_w > n:
                n = k_w
                lam = n * a / (a + b)
            if k_w < min_ratio * lam:
                continue
            hot = True
            raw_score = bb_tail_score(k_w, n, a, b)
            if raw_score + max_bonus < min_score:
                continue
            if best is None or raw_score > best[0]:
                best = (raw_score, w, lam)
        if hot and g.ep_count:
            g.ep_last = now     # the episode lasts while the group stays hot
        if best is None:
            continue
        if g.ep_count and g.ep_count < t.refire_growth * g.ep_last_alert:
            continue
        w = best[1]
        info = _recount(m, t, key, g, ab, w, totals[w], floors[w], min_count, min_ratio, is_text)
        if info is not None and info["score"] >= min_score:
            candidates.append((info["score"], key, info))
    if not candidates:
        return []
    return _raise(m, t, labels, candidates, fired_at)


def _recount(m: BurstModel, t: Thresholds, key: str, g: GroupCounts, ab, w: int, total_w: int,
             floor: int, min_count: int, min_ratio: float, is_text: bool) -> dict[str, Any] | None:
    """The group's window counted again by distinct complaint (same customer or same text
    once), with its signals and reach; None when it no longer passes."""
    members = m.members(key, w)
    distinct: dict[str, WindowDoc] = {}
    for d in members:
        distinct.setdefault(d.dedupe, d)
    k = len(distinct)
    a, b = ab
    n = max(total_w - (len(members) - k), k, floor)
    lam = n * a / (a + b)
    if k < min_count or k < min_ratio * lam:
        return None
    if is_text and len({d.path for d in distinct.values()}) < t.text_min_about_paths:
        return None
    signals = frozenset().union(*(d.signals for d in members))
    reach = sum(d.reach for d in members)
    bonus = sum(max(t.signal_weights.get(s, 0.0), 0.0) for s in signals)
    if reach > 0:
        bonus += min(t.reach_bonus_cap, t.reach_weight * math.log10(1.0 + reach))
    return {"g": g, "k": k, "lam": lam, "members": members, "signals": signals, "reach": reach,
            "window": w, "score": bb_tail_score(k, n, a, b) + bonus}


def _raise(m: BurstModel, t: Thresholds, labels: Mapping[str, str],
           candidates: list[tuple[float, str, dict[str, Any]]], fired_at: datetime) -> list[Alert]:
    """Alerts for the candidates, most significant first, folding overlaps into earlier alerts."""
    now = m.now
    candidates.sort(key=lambda c: (-c[0], c[1][0] == "t", -c[1].count(FIELD_SEP)))
    alerts: list[Alert] = []
    episodes = [(k, g) for k in m.alerted if (g := m.groups.get(k)) is not None and g.ep_ids]
    for score, key, info in candidates:
        g = info["g"]
        idset = {d.id for d in info["members"]}
        best = 0.0
        for ek, eg in episodes:
            if ek == key or not eg.ep_ids:
                continue
            best = max(best, len(idset & eg.ep_ids) / max(len(idset), 1))
        first_alert = not g.ep_count
        if best >= t.overlap_suppress:
            # folded into an alert already raised for (mostly) the same complaints
            if first_alert:
                g.ep_count = g.ep_last_alert = g.wc
                g.ep_last = g.ep_alert_hour = now
            else:
                g.ep_last_alert = g.ep_count
            continue
        if first_alert or not g.ep_alerted:
            m.start_episode(key, g, idset)
            episodes.append((key, g))
        else:
            g.ep_ids = (g.ep_ids or set()) | idset
        g.ep_last_alert = g.ep_count
        g.ep_last = g.ep_alert_hour = now
        alerts.append(_make_alert(m, labels, fired_at, key, score, info, refire=not first_alert,
                                  max_ids=t.max_alert_ids))
    return alerts


def _make_alert(m: BurstModel, labels: Mapping[str, str], fired_at: datetime, key: str, score: float,
                info: dict[str, Any], *, refire: bool, max_ids: int) -> Alert:
    members: list[WindowDoc] = info["members"]
    group = decode_key(key)
    keywords = _keywords(m, members)
    if group.kind == "text":
        term = group.fields[0][1]
        main = next((w for w in keywords if term in w), term)
        keywords = ([main] + [w for w in keywords if w != main and term not in w])[:6]
        label = "相似投诉 · " + "/".join(keywords[:3])
    else:
        label = " · ".join(labels.get(v, v) if f == PROBLEM_FIELD else v for f, v in group.fields)
    samples: list[str] = []
    seen_s: set[str] = set()
    for d in reversed(members):
        s = d.snippet
        if s and text_key(s) not in seen_s:
            seen_s.add(text_key(s))
            samples.append(s)
        if len(samples) >= 3:
            break
    ids = [d.id for d in members]
    if len(ids) > max_ids:
        ids = ids[-max_ids:]
    g: GroupCounts = info["g"]
    return Alert(fired_at=fired_at, group=group, label=label, count=info["k"],
                 baseline=info["lam"], score=round(score, 3), ids=tuple(ids),
                 sample_texts=tuple(samples), signals=info["signals"],
                 keywords=tuple(keywords), key=key, episode_count=g.ep_count,
                 refire=refire, reach=info["reach"])


def _keywords(m: BurstModel, members: list[WindowDoc], top: int = 6) -> list[str]:
    """Terms over-represented in the members compared with the history, longest
    readable form (adjacent bigrams joined when they always occur together)."""
    assert m.now is not None
    df: Counter[str] = Counter()
    for d in members:
        df.update(k[2:] for k in d.keys if k[0] == "t")
    if not df:
        return []
    n = len(members)
    base_total = max(m.base_at(m.total, m.now), 1.0)
    scored = []
    for term, c in df.items():
        if c < max(2, math.ceil(0.3 * n)) and n > 2:
            continue
        g = m.groups.get("t:" + term)
        hist = m.base_at(g, m.now) / base_total if g else 0.0
        lift = (c / n) / (hist + 0.01)
        scored.append((c * math.log1p(lift), term))
    scored.sort(reverse=True)
    return join_keywords([t for _, t in scored[: top * 3]], (d.snippet for d in members), top)
