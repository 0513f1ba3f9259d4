"""What the early-warning detector takes in and gives out, and how it names its groups.
Pure Python: no Django import.

A *group* is named by a key: ``a:`` + its (field, value) pairs for a hierarchy group
(brand, brand × series, brand × series × problem, problem alone …), ``t:`` + the term for a
similar-text group. ``group_keys`` lists the hierarchy keys of one complaint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping

__all__ = ["Alert", "Complaint", "Group", "PROBLEM_FIELD", "TEXT_FIELD", "decode_key", "encode_pairs",
           "hierarchy_keys", "level_of"]

PROBLEM_FIELD = "problem"
TEXT_FIELD = "text"
PAIR_SEP = "\x1e"    # between a field and its value in a key
FIELD_SEP = "\x1f"   # between the pairs of a key


@dataclass(frozen=True)
class Complaint:
    """One complaint as the detector sees it.

    ``about`` is the ordered hierarchy, most general first, e.g.
    ``(("brand", "宝马"), ("series", "宝马X1"))``; ``problem`` the problem code (category
    level 2 or a sub-type) and ``problem_label`` its display name; ``signals`` triage's
    crisis signals (safety, media, group, regulator); ``reach`` social-media numbers
    (likes, shares, comments, followers); ``terms`` the terms of the text when they were
    stored with the complaint (a rebuild then need not segment its text again)."""

    id: str
    received_at: datetime
    text: str = ""
    about: tuple[tuple[str, str], ...] = ()
    problem: str | None = None
    problem_label: str | None = None
    signals: frozenset[str] = frozenset()
    reach: Mapping[str, float] = field(default_factory=dict)
    customer_id: str | None = None
    terms: frozenset[str] | None = None   # the text's terms (textsig.raw_terms) when already known


@dataclass(frozen=True)
class Group:
    """What a group watches: ``kind`` is ``hierarchy`` or ``text``; ``fields`` its
    (field, value) pairs, e.g. (("brand", "宝马"), ("series", "宝马X1"), ("problem", "刹车片异常磨损"))
    or (("text", "降价"),)."""

    kind: str
    fields: tuple[tuple[str, str], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "fields": [{"field": f, "value": v} for f, v in self.fields]}


@dataclass(frozen=True)
class Alert:
    fired_at: datetime
    group: Group
    label: str
    count: int                 # distinct complaints in the window (same customer / same text counted once)
    baseline: float            # expected count in the window from the group's own history
    score: float
    ids: tuple[str, ...]
    sample_texts: tuple[str, ...]
    signals: frozenset[str]
    keywords: tuple[str, ...]
    key: str = ""              # stable group key (for linking a hotspot to its group)
    episode_count: int = 0     # complaints in the group since the episode's first alert
    refire: bool = False       # True when this alert repeats an earlier one after growth
    reach: float = 0.0
    merged_groups: tuple[str, ...] = ()   # other groups folded into this alert

    def to_dict(self) -> dict[str, Any]:
        return {
            "fired_at": self.fired_at.isoformat(),
            "group": {f: v for f, v in self.group.fields},
            "group_kind": self.group.kind,
            "label": self.label,
            "count": self.count,
            "baseline": round(self.baseline, 3),
            "score": round(self.score, 2),
            "ids": list(self.ids),
            "sample_texts": list(self.sample_texts),
            "signals": sorted(self.signals),
            "keywords": list(self.keywords),
            "key": self.key,
            "episode_count": self.episode_count,
            "refire": self.refire,
            "reach": self.reach,
        }


def encode_pairs(pairs: Iterable[tuple[str, str]]) -> str:
    return FIELD_SEP.join(f"{f}{PAIR_SEP}{v}" for f, v in pairs)


def decode_key(key: str) -> Group:
    kind, _, rest = key.partition(":")
    if kind == "t":
        return Group("text", ((TEXT_FIELD, rest),))
    pairs = tuple(tuple(p.split(PAIR_SEP, 1)) for p in rest.split(FIELD_SEP) if p)
    return Group("hierarchy", pairs)  # type: ignore[arg-type]


def level_of(key: str) -> str:
    """Level id of a hierarchy key: its field names (values dropped)."""
    _, _, rest = key.partition(":")
    return "h:" + FIELD_SEP.join(p.split(PAIR_SEP, 1)[0] for p in rest.split(FIELD_SEP) if p)


def hierarchy_keys(about: Iterable[tuple[str, Any]], problem: str | None) -> list[str]:
    """Keys of the hierarchy groups of one complaint: every non-empty prefix of ``about``,
    alone and × the problem, and the problem alone."""
    keys: list[str] = []
    prefix: list[tuple[str, str]] = []
    problem = (problem or "").strip()
    for f, v in about or ():
        v = (v or "").strip() if isinstance(v, str) else ("" if v is None else str(v))
        if not v:
            break
        prefix.append((str(f), v))
        keys.append("a:" + encode_pairs(prefix))
        if problem:
            keys.append("a:" + encode_pairs(prefix + [(PROBLEM_FIELD, problem)]))
    if problem:
        keys.append("a:" + encode_pairs([(PROBLEM_FIELD, problem)]))
    return keys
