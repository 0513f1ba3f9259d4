"""Early warning of complaint bursts (热点预警). Pure Python: no Django import.

The detector watches *groups* of complaints and says when one of them bursts:

* hierarchy groups: every prefix of the complaint's ``about`` hierarchy (brand → series →
  model, company → region → store …), each alone and × the problem (sub-type), plus the
  problem alone across everything;
* similar-text groups: complaints sharing a distinctive term (Chinese character bigrams,
  Latin words), so "刚买就降价" and "买车三个月降价一万" from owners of different models
  land in one group. Terms that burst together are folded into one alert.

A group's expected count in the window is its own historical share (exponentially
forgotten, half-life ``baseline_half_life_days``) times the volume of *other* complaints in
the same window: when every group rises (3·15, a holiday backlog) the expectation rises
with them and nothing fires just for that. The burst score is ``-log10 P(X ≥ k)`` for a
Poisson count with that expectation, plus bonuses for triage signals (safety, media,
regulator, group) and social reach.

Causal by construction: an alert is decided when a complaint is added (or at a periodic
``tick``) from the complaints received up to then, and never revised. The state is
bounded: hourly counts inside the window, one decayed number per group for the history,
a capped term vocabulary, and the complaints of the current window; ``to_state()`` gives
JSON-ready data that ``Detector.from_state`` restores.
"""

from __future__ import annotations

import math
import re
import tomllib
import unicodedata
from collections import Counter, deque
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

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

STATE_VERSION = 1
PROBLEM_FIELD = "problem"
TEXT_FIELD = "text"
_SEP_PAIR = "\x1e"
_SEP_FIELD = "\x1f"
_MAX_TEXT_CHARS = 4000      # terms are taken from this much of a text (bounded time)
_MAX_TERMS_PER_DOC = 300
_SNIPPET_CHARS = 240
_LN2 = math.log(2.0)


# ---------------------------------------------------------------------------
# thresholds
# ---------------------------------------------------------------------------


class ThresholdsError(ValueError):
    """A thresholds file or mapping is malformed; the message names file, line and key."""


@dataclass(frozen=True)
class Thresholds:
    window_hours: int = 24
    long_window_hours: int = 72
    baseline_half_life_days: float = 7.0
    warmup_days: float = 7.0
    prior_strength: float = 1.0
    min_count: int = 3
    min_ratio: float = 4.0
    min_score: float = 4.0
    text_min_count: int = 5
    text_min_ratio: float = 5.0
    text_min_score: float = 6.0
    text_min_about_paths: int = 3
    text_max_doc_share: float = 0.05
    text_common_word_freq: int = 3000
    volume_floor: float = 0.5
    refire_growth: float = 2.0
    episode_quiet_days: float = 7.0
    overlap_suppress: float = 0.6
    reach_weight: float = 0.5
    reach_bonus_cap: float = 3.0
    max_terms: int = 60000
    max_alert_ids: int = 200
    signal_weights: Mapping[str, float] = field(
        default_factory=lambda: {"safety": 1.5, "media": 1.5, "regulator": 1.5, "group": 1.0}
    )
    reach_weights: Mapping[str, float] = field(
        default_factory=lambda: {"likes": 1.0, "shares": 3.0, "comments": 2.0, "followers": 0.01}
    )
    stop_terms: frozenset[str] = frozenset()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "<mapping>",
                     base: "Thresholds | None" = None, lines: Mapping[str, int] | None = None
                     ) -> "Thresholds":
        """Build from plain values (a TOML table, a DB row as dict). Unknown keys and wrong
        types raise ThresholdsError naming the source, line (when known) and key."""
        base = base or cls()
        known = {f.name: f for f in fields(cls)}
        values = asdict(base)
        values["stop_terms"] = base.stop_terms
        for key, raw in data.items():
            where = f"{source}" + (f", line {lines[key]}" if lines and key in lines else "")
            if key not in known:
                raise ThresholdsError(
                    f"{where}: unknown key {key!r}; known keys: {', '.join(sorted(known))}")
            default = getattr(base, key)
            if key in ("signal_weights", "reach_weights"):
                if not isinstance(raw, Mapping):
                    raise ThresholdsError(f"{where}: {key} must be a table of name = number")
                merged = dict(default)
                for name, w in raw.items():
                    if isinstance(w, bool) or not isinstance(w, (int, float)):
                        raise ThresholdsError(f"{where}: {key}.{name} must be a number, got {w!r}")
                    merged[str(name)] = float(w)
                values[key] = merged
            elif key == "stop_terms":
                if not isinstance(raw, (list, tuple, set, frozenset)) or not all(
                        isinstance(t, str) for t in raw):
                    raise ThresholdsError(f"{where}: stop_terms must be a list of strings")
                values[key] = frozenset(_normalise(t) for t in raw)
            elif isinstance(default, bool) or isinstance(raw, bool):
                raise ThresholdsError(f"{where}: {key} must be a number, got {raw!r}")
            elif isinstance(default, int):
                if not isinstance(raw, int) and not (isinstance(raw, float) and raw.is_integer()):
                    raise ThresholdsError(f"{where}: {key} must be an integer, got {raw!r}")
                values[key] = int(raw)
            else:
                if not isinstance(raw, (int, float)):
                    raise ThresholdsError(f"{where}: {key} must be a number, got {raw!r}")
                values[key] = float(raw)
        out = cls(**values)
        out._check(source)
        return out

    def _check(self, source: str) -> None:
        positive = ["text_common_word_freq", "window_hours", "baseline_half_life_days", "min_count", "text_min_count",
                    "refire_growth", "episode_quiet_days", "max_terms", "max_alert_ids",
                    "text_min_about_paths"]
        for name in positive:
            if getattr(self, name) <= 0:
                raise ThresholdsError(f"{source}: {name} must be > 0, got {getattr(self, name)!r}")
        for name in ["warmup_days", "prior_strength", "long_window_hours", "min_ratio", "min_score", "text_min_ratio",
                     "text_min_score", "volume_floor", "reach_weight", "reach_bonus_cap"]:
            if getattr(self, name) < 0:
                raise ThresholdsError(f"{source}: {name} must be >= 0, got {getattr(self, name)!r}")
        for name in ["text_max_doc_share", "overlap_suppress"]:
            if not 0 < getattr(self, name) <= 1:
                raise ThresholdsError(f"{source}: {name} must be in (0, 1], got {getattr(self, name)!r}")
        if self.prior_strength <= 0:
            raise ThresholdsError(f"{source}: prior_strength must be > 0, got {self.prior_strength!r}")
        if self.refire_growth < 1:
            raise ThresholdsError(f"{source}: refire_growth must be >= 1, got {self.refire_growth!r}")

    def to_mapping(self) -> dict[str, Any]:
        d = asdict(self)
        d["signal_weights"] = dict(self.signal_weights)
        d["reach_weights"] = dict(self.reach_weights)
        d["stop_terms"] = sorted(self.stop_terms)
        return d


def _key_lines(text: str) -> dict[str, dict[str, int]]:
    """Line numbers of `key =` inside each [table] of a TOML text (for error messages)."""
    out: dict[str, dict[str, int]] = {}
    table = ""
    for no, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        m = re.match(r"^\[([^\[\]]+)\]", s)
        if m:
            table = m.group(1).strip()
            out.setdefault(table, {})
            continue
        m = re.match(r"^([A-Za-z0-9_\-]+)\s*=", s)
        if m:
            out.setdefault(table, {})[m.group(1)] = no
    return out


def _default_thresholds_text() -> tuple[str, str]:
    res = resources.files("qingting.crisis").joinpath("data/thresholds.toml")
    return res.read_text(encoding="utf-8"), "qingting/crisis/data/thresholds.toml"


def load_profiles(path: str | Path | None = None) -> dict[str, Thresholds]:
    """All profiles of a thresholds TOML file (default: the one shipped with the package)."""
    if path is None:
        text, source = _default_thresholds_text()
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ThresholdsError(f"{source}: cannot read ({exc})") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ThresholdsError(f"{source}: invalid TOML: {exc}") from exc
    lines = _key_lines(text)
    profiles = data.get("profiles")
    if not isinstance(profiles, dict) or "default" not in profiles:
        raise ThresholdsError(f"{source}: needs a [profiles.default] table")
    stop: list[str] = []
    text_table = data.get("text", {})
    if not isinstance(text_table, dict):
        raise ThresholdsError(f"{source}: [text] must be a table")
    for key in text_table:
        if key != "stop_terms":
            raise ThresholdsError(f"{source}, line {lines.get('text', {}).get(key, '?')}: "
                                  f"unknown key text.{key!r} (known: stop_terms)")
    if "stop_terms" in text_table:
        stop = text_table["stop_terms"]
    for key in data:
        if key not in ("profiles", "text"):
            raise ThresholdsError(f"{source}: unknown top-level table {key!r} (known: profiles, text)")

    def build(name: str, table: Any, base: Thresholds | None) -> Thresholds:
        if not isinstance(table, dict):
            raise ThresholdsError(f"{source}: profiles.{name} must be a table")
        table_lines = dict(lines.get(f"profiles.{name}", {}))
        for sub in ("signal_weights", "reach_weights"):
            if sub in table:
                table_lines.setdefault(sub, min(lines.get(f"profiles.{name}.{sub}", {}).values(),
                                                default=0) or None)
        table_lines = {k: v for k, v in table_lines.items() if v}
        return Thresholds.from_mapping(table, source=f"{source} [profiles.{name}]",
                                       base=base, lines=table_lines)

    default = build("default", {**profiles["default"], "stop_terms": stop}, Thresholds())
    out = {"default": default}
    for name, table in profiles.items():
        if name != "default":
            out[name] = build(name, table, default)
    return out


def load_thresholds(profile: str = "default", path: str | Path | None = None) -> Thresholds:
    """Thresholds of one industry profile; an unknown profile falls back to default."""
    profiles = load_profiles(path)
    return profiles.get(profile, profiles["default"])


# ---------------------------------------------------------------------------
# values in and out
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Complaint:
    """One complaint as the detector sees it.

    ``about`` is the ordered hierarchy, most general first, e.g.
    ``(("brand", "宝马"), ("series", "宝马X1"))``; ``problem`` the problem code (category
    level 2 or a sub-type) and ``problem_label`` its display name; ``signals`` triage's
    crisis signals (safety, media, group, regulator); ``reach`` social-media numbers
    (likes, shares, comments, followers)."""

    id: str
    received_at: datetime
    text: str = ""
    about: tuple[tuple[str, str], ...] = ()
    problem: str | None = None
    problem_label: str | None = None
    signals: frozenset[str] = frozenset()
    reach: Mapping[str, float] = field(default_factory=dict)
    customer_id: str | None = None


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


# ---------------------------------------------------------------------------
# text
# ---------------------------------------------------------------------------

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_CJK_WORD = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2,8}$")
_LATIN_WORD = re.compile(r"^[a-z][a-z0-9\-]{1,30}$")
_SPACE = re.compile(r"\s+")
_NUMERALS = set("零一二三四五六七八九十百千万亿两几半多余个次年月日天号周点分秒公里块元毛")
# parts of speech (jieba dictionary tags) that never name a topic: pronouns, adverbs,
# prepositions, conjunctions, particles, numerals, measure words, time, direction, interjections
_FUNCTION_POS = {"r", "rr", "rz", "d", "p", "c", "u", "uj", "ul", "uz", "ud", "ug", "uv", "m",
                 "mq", "q", "t", "tg", "f", "y", "e", "o", "zg", "x", "k", "h", "b", "z"}
_COMMON: frozenset[str] | None = None
_CUT: Any = None


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").lower()


def _common_words(freq_cutoff: int) -> frozenset[str]:
    """Words of the segmenter's dictionary that are function words or so frequent in
    general Chinese that they cannot name a complaint topic (出现, 问题, 这次 …)."""
    global _COMMON
    if _COMMON is not None:
        return _COMMON
    out: set[str] = set()
    try:
        path = resources.files("jieba").joinpath("dict.txt")
        with path.open("r", encoding="utf-8") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) < 2:
                    continue
                word, freq = parts[0], parts[1]
                pos = parts[2] if len(parts) > 2 else ""
                if pos in _FUNCTION_POS or (freq.isdigit() and int(freq) > freq_cutoff):
                    out.add(word)
    except Exception:  # no dictionary: rely on the stop terms and the document-share cap
        pass
    _COMMON = frozenset(out)
    return _COMMON


def _segmenter() -> Any:
    global _CUT
    if _CUT is None:
        try:
            import rjieba
            _CUT = rjieba.cut
        except Exception:
            try:
                import jieba
                jieba.setLogLevel(60)
                _CUT = jieba.lcut
            except Exception:
                _CUT = False
    return _CUT


def text_terms(text: str, stop: frozenset[str] = frozenset(), common_word_freq: int = 3000) -> set[str]:
    """Distinct topic terms of a text: content words (segmented with jieba, words the
    dictionary does not know such as 异响 included), without function words, numbers and
    very common words; Latin words of ≥ 2 letters. Without a segmenter: CJK bigrams.
    Bounded work on huge input."""
    if not text:
        return set()
    t = _normalise(text[:_MAX_TEXT_CHARS])
    cut = _segmenter()
    out: set[str] = set()
    if cut:
        common = _common_words(common_word_freq)
        for w in cut(t):
            if _CJK_WORD.match(w):
                if w in common or all(ch in _NUMERALS for ch in w):
                    continue
                out.add(w)
            elif _LATIN_WORD.match(w) and not w.isdigit():
                out.add(w)
    else:
        for run in _CJK_RUN.findall(t):
            for i in range(len(run) - 1):
                out.add(run[i:i + 2])
    if stop:
        out -= stop
    if len(out) > _MAX_TERMS_PER_DOC:
        out = set(sorted(out)[:_MAX_TERMS_PER_DOC])
    return out


def _text_key(text: str) -> str:
    return _SPACE.sub("", _normalise(text))[:400]


# ---------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------


def poisson_tail_score(k: int, lam: float) -> float:
    """-log10 P(X ≥ k) for X ~ Poisson(lam); 0 when k ≤ lam."""
    if k <= 0 or k <= lam:
        return 0.0
    lam = max(lam, 1e-9)
    log_pmf = -lam + k * math.log(lam) - math.lgamma(k + 1)
    # tail = pmf(k) * (1 + lam/(k+1) + lam^2/((k+1)(k+2)) + ...)
    s, term, i = 1.0, 1.0, 1
    while i < 1000:
        term *= lam / (k + i)
        s += term
        if term < 1e-12 * s:
            break
        i += 1
    log_tail = log_pmf + math.log(s)
    return max(0.0, -log_tail / math.log(10))


def nb_tail_score(k: int, r: float, p: float) -> float:
    """-log10 P(X ≥ k) for a negative binomial with shape r and success probability p
    (mean r·p/(1-p)): the predictive count when the group's rate is itself uncertain."""
    if k <= 0 or r <= 0 or p <= 0:
        return 0.0 if k <= 0 else 50.0
    p = min(p, 0.999999)
    mean = r * p / (1.0 - p)
    if k <= mean:
        return 0.0
    log_pmf = (math.lgamma(r + k) - math.lgamma(r) - math.lgamma(k + 1)
               + r * math.log1p(-p) + k * math.log(p))
    s, term, i = 1.0, 1.0, k
    while i < k + 20000:
        term *= (r + i) / (i + 1) * p
        s += term
        if term < 1e-12 * s:
            break
        i += 1
    return max(0.0, -(log_pmf + math.log(s)) / math.log(10))


def bb_tail_score(k: int, n: int, a: float, b: float) -> float:
    """-log10 P(X ≥ k) for X ~ Beta-Binomial(n, a, b): the group's count among n complaints
    when its share is uncertain (Beta(a, b)); 0 when k is not above the mean."""
    if k <= 0:
        return 0.0
    if k > n:
        return 50.0
    if a <= 0 or b <= 0 or k <= n * a / (a + b):
        return 0.0
    lg = math.lgamma
    log_pmf = (lg(n + 1) - lg(k + 1) - lg(n - k + 1)
               + lg(k + a) + lg(n - k + b) - lg(n + a + b)
               - (lg(a) + lg(b) - lg(a + b)))
    s, term, i = 1.0, 1.0, k
    while i < n:
        term *= (n - i) / (i + 1) * (i + a) / (n - i - 1 + b)
        s += term
        if term < 1e-12 * s:
            break
        i += 1
    return max(0.0, -(log_pmf + math.log(s)) / math.log(10))


def _hour_of(dt: datetime) -> int:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("received_at must be timezone-aware")
    return int(dt.timestamp() // 3600)


def _dt_of(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * 3600, tz=timezone.utc)


# ---------------------------------------------------------------------------
# the detector
# ---------------------------------------------------------------------------


class _G:
    """State of one group."""

    __slots__ = ("buckets", "wc", "base", "base_t", "ep_count", "ep_last_alert", "ep_last",
                 "ep_alert_hour", "ep_ids", "ep_alerted")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}   # hour → complaints, inside the window
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
    def from_list(cls, data: list[Any]) -> "_G":
        g = cls()
        g.buckets = {int(h): int(c) for h, c in data[0]}
        g.wc = sum(g.buckets.values())
        g.base, g.base_t = float(data[1]), int(data[2])
        g.ep_count, g.ep_last_alert, g.ep_last, g.ep_alert_hour = (int(x) for x in data[3:7])
        g.ep_ids = set(data[7]) if data[7] is not None else None
        g.ep_alerted = bool(data[8])
        return g


class _Doc:
    __slots__ = ("id", "hour", "keys", "dedupe", "signals", "reach", "snippet", "path")

    def __init__(self, id: str, hour: int, keys: frozenset[str], dedupe: str,
                 signals: frozenset[str], reach: float, snippet: str, path: str) -> None:
        self.id, self.hour, self.keys, self.dedupe = id, hour, keys, dedupe
        self.signals, self.reach, self.snippet, self.path = signals, reach, snippet, path

    def to_list(self) -> list[Any]:
        return [self.id, self.hour, sorted(self.keys), self.dedupe, sorted(self.signals),
                self.reach, self.snippet, self.path]

    @classmethod
    def from_list(cls, d: list[Any]) -> "_Doc":
        return cls(str(d[0]), int(d[1]), frozenset(d[2]), str(d[3]), frozenset(d[4]),
                   float(d[5]), str(d[6]), str(d[7]))


def _encode_pairs(pairs: Iterable[tuple[str, str]]) -> str:
    return _SEP_FIELD.join(f"{f}{_SEP_PAIR}{v}" for f, v in pairs)


def _decode_key(key: str) -> Group:
    kind, _, rest = key.partition(":")
    if kind == "t":
        return Group("text", ((TEXT_FIELD, rest),))
    pairs = tuple(tuple(p.split(_SEP_PAIR, 1)) for p in rest.split(_SEP_FIELD) if p)
    return Group("hierarchy", pairs)  # type: ignore[arg-type]


def _level_of(key: str) -> str:
    """Level id of a hierarchy key: its field names (values dropped)."""
    _, _, rest = key.partition(":")
    return "h:" + _SEP_FIELD.join(p.split(_SEP_PAIR, 1)[0] for p in rest.split(_SEP_FIELD) if p)


class Detector:
    """Incremental burst detector. ``add`` on every new complaint, ``tick`` periodically.

    Complaints should arrive roughly in time order; one older than the detector's clock
    is counted where it belongs (window or history) but never re-opens a past decision.
    """

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self.t = thresholds or Thresholds()
        self.now: int | None = None           # hour of the detector's clock
        self.first: int | None = None         # hour of the first complaint seen
        self.groups: dict[str, _G] = {}
        self.total = _G()                     # all complaints (window buckets + decayed history)
        self.levels: Counter[str] = Counter()  # hierarchy level → groups alive
        self.labels: dict[str, str] = {}      # problem code → display label
        self.docs: deque[_Doc] = deque()      # complaints inside the window
        self.seen = 0
        self.last_prune = -(10 ** 9)
        self.last_tick = -(10 ** 9)
        self._level_cache: dict[str, str] = {}
        self._ctx: tuple[int, float, float] | None = None   # (hour, base_total, history hours)
        self.n_text = 0                       # similar-text groups alive
        self.terms_per_doc = 0.0              # running mean (for the text prior)
        self._hl = self.t.baseline_half_life_days * 24.0
        self._windows = sorted({w for w in (self.t.window_hours, self.t.long_window_hours) if w > 0})
        self._keep = self._windows[-1]        # hours of buckets and complaints kept

    # -- public -----------------------------------------------------------

    def add(self, c: Complaint) -> list[Alert]:
        """Count one complaint and return the alerts it triggers (possibly none)."""
        hour = _hour_of(c.received_at)
        if self.first is None or hour < self.first:
            self.first = hour if self.first is None else min(self.first, hour)
        if self.now is None or hour > self.now:
            self._advance(hour)
        self.seen += 1
        keys = self._keys_of(c)
        if c.problem and c.problem_label:
            self.labels[c.problem] = c.problem_label
        in_window = hour > self.now - self._keep
        n_terms = 0
        for key in keys:
            g = self.groups.get(key)
            if key[0] == "t":
                n_terms += 1
            if g is None:
                g = self.groups[key] = _G()
                g.base_t = self.now
                if key[0] == "a":
                    self.levels[_level_of(key)] += 1
                else:
                    self.n_text += 1
            self._count(g, hour, in_window)
            if g.ep_count:
                g.ep_count += 1
                if g.ep_ids is not None and len(g.ep_ids) < 5000:
                    g.ep_ids.add(c.id)
        self._count(self.total, hour, in_window)
        self._ctx = None
        self.terms_per_doc += (n_terms - self.terms_per_doc) / min(self.seen, 1000)
        if not in_window:
            return []
        reach = sum(float(v) * self.t.reach_weights.get(k, 0.0)
                    for k, v in (c.reach or {}).items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0)
        text = c.text or ""
        dedupe = (f"c:{c.customer_id}" if c.customer_id else
                  f"x:{_encode_pairs(c.about)}|{c.problem}|{_text_key(text)}" if text.strip() else
                  f"i:{c.id}")
        self._insert_doc(_Doc(str(c.id), hour, frozenset(keys), dedupe,
                              frozenset(c.signals or ()), reach,
                              text.strip()[:_SNIPPET_CHARS], _encode_pairs(c.about)))
        return self._evaluate(keys, c.received_at if hour == self.now else _dt_of(self.now))

    def tick(self, now: datetime) -> list[Alert]:
        """Periodic job: advance the clock, forget what left the window and re-check the
        groups that received complaints since the previous tick (their expectation falls as
        older volume leaves the window). Once a day of detector time it also prunes the
        state and re-checks every group active in the window (e.g. after the warm-up)."""
        hour = _hour_of(now)
        if self.now is None:
            self.now = hour
            return []
        if hour > self.now:
            self._advance(hour)
        since = self.last_tick
        if self.now - self.last_prune >= 24:
            self._prune()
            self.last_prune = self.now
            since = -(10 ** 9)
        self.last_tick = self.now
        active = {k for d in self.docs if d.hour >= since for k in d.keys}
        return self._evaluate(active, now if hour >= self.now else _dt_of(self.now))

    def to_state(self) -> dict[str, Any]:
        """JSON-ready state (lists, dicts, numbers, strings)."""
        return {
            "version": STATE_VERSION,
            "now": self.now, "first": self.first, "seen": self.seen, "last_prune": self.last_prune,
            "last_tick": self.last_tick,
            "total": self.total.to_list(),
            "groups": {k: g.to_list() for k, g in self.groups.items()},
            "labels": dict(self.labels),
            "terms_per_doc": round(self.terms_per_doc, 4),
            "docs": [d.to_list() for d in self.docs],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], thresholds: Thresholds | None = None) -> "Detector":
        if not isinstance(state, Mapping) or state.get("version") != STATE_VERSION:
            raise ValueError(f"detector state version {state.get('version') if isinstance(state, Mapping) else None!r}"
                             f" is not {STATE_VERSION}; rebuild the state by replaying recent complaints")
        d = cls(thresholds)
        d.now, d.first, d.seen = state["now"], state["first"], int(state.get("seen", 0))
        d.last_prune = int(state.get("last_prune", -(10 ** 9)))
        d.last_tick = int(state.get("last_tick", -(10 ** 9)))
        d.total = _G.from_list(state["total"])
        d.groups = {k: _G.from_list(v) for k, v in state["groups"].items()}
        for k in d.groups:
            if k[0] == "a":
                d.levels[_level_of(k)] += 1
            else:
                d.n_text += 1
        d.terms_per_doc = float(state.get("terms_per_doc", 0.0))
        d.labels = dict(state.get("labels", {}))
        d.docs = deque(_Doc.from_list(x) for x in state["docs"])
        return d

    def stats(self) -> dict[str, int]:
        return {"groups": len(self.groups),
                "text_groups": sum(1 for k in self.groups if k.startswith("t:")),
                "window_complaints": len(self.docs), "seen": self.seen}

    # -- keys ---------------------------------------------------------------

    def _keys_of(self, c: Complaint) -> list[str]:
        keys: list[str] = []
        prefix: list[tuple[str, str]] = []
        problem = (c.problem or "").strip()
        for f, v in c.about or ():
            v = (v or "").strip() if isinstance(v, str) else ("" if v is None else str(v))
            if not v:
                break
            prefix.append((str(f), v))
            keys.append("a:" + _encode_pairs(prefix))
            if problem:
                keys.append("a:" + _encode_pairs(prefix + [(PROBLEM_FIELD, problem)]))
        if problem:
            keys.append("a:" + _encode_pairs([(PROBLEM_FIELD, problem)]))
        for term in text_terms(c.text or "", self.t.stop_terms, self.t.text_common_word_freq):
            keys.append("t:" + term)
        return keys

    # -- counting -----------------------------------------------------------

    def _decay(self, value: float, from_hour: int, to_hour: int) -> float:
        if to_hour <= from_hour or value == 0.0:
            return value
        return value * math.pow(2.0, -(to_hour - from_hour) / self._hl)

    def _fold(self, g: _G) -> None:
        """Move buckets that left the window into the decayed history."""
        if not g.buckets or self.now is None:
            return
        edge = self.now - self._keep
        if next(iter(g.buckets)) > edge:   # buckets are kept in hour order
            return
        old = [h for h in g.buckets if h <= edge]
        for h in sorted(old):
            c = g.buckets.pop(h)
            g.wc -= c
            if h >= g.base_t:
                g.base = self._decay(g.base, g.base_t, h) + c
                g.base_t = h
            else:
                g.base += self._decay(float(c), h, g.base_t)

    def _count(self, g: _G, hour: int, in_window: bool) -> None:
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
            g.base = self._decay(g.base, g.base_t, hour) + 1.0
            g.base_t = hour
        else:
            g.base += self._decay(1.0, hour, g.base_t)

    def _base_at(self, g: _G, hour: int) -> float:
        return self._decay(g.base, g.base_t, hour)

    def _advance(self, hour: int) -> None:
        self.now = hour
        self._ctx = None
        self._fold(self.total)
        edge = hour - self._keep
        while self.docs and self.docs[0].hour <= edge:
            self.docs.popleft()

    def _insert_doc(self, doc: _Doc) -> None:
        if not self.docs or self.docs[-1].hour <= doc.hour:
            self.docs.append(doc)
            return
        # late arrival inside the window: keep the deque ordered by hour
        items = list(self.docs)
        i = len(items)
        while i > 0 and items[i - 1].hour > doc.hour:
            i -= 1
        items.insert(i, doc)
        self.docs = deque(items)

    def _prune(self) -> None:
        """Drop groups that carry no information any more and cap the text vocabulary."""
        assert self.now is not None
        eps = 0.02
        quiet = self.t.episode_quiet_days * 24
        dead = []
        terms = []
        for k, g in self.groups.items():
            self._fold(g)
            if g.ep_count and self.now - g.ep_last > quiet:
                self._end_episode(g)
            if not g.buckets and not g.ep_count and self._base_at(g, self.now) < eps:
                dead.append(k)
            elif k[0] == "t":
                terms.append(k)
        for k in dead:
            del self.groups[k]
            if k[0] == "a":
                lvl = _level_of(k)
                self.levels[lvl] -= 1
                if self.levels[lvl] <= 0:
                    del self.levels[lvl]
            else:
                self.n_text -= 1
        excess = len(terms) - self.t.max_terms
        if excess > 0:
            active = {k for d in self.docs for k in d.keys}
            ranked = sorted((k for k in terms if k not in active and not self.groups[k].ep_count),
                            key=lambda k: self._base_at(self.groups[k], self.now))
            for k in ranked[:excess]:
                del self.groups[k]
                self.n_text -= 1

    # -- scoring ------------------------------------------------------------

    def _history_hours(self) -> float:
        """Effective length of the decayed history in hours (for the usual volume)."""
        assert self.now is not None and self.first is not None
        age = max(0, self.now - self._keep - self.first)
        return self._hl / _LN2 * (1.0 - math.pow(2.0, -age / self._hl))

    def _prior_share(self, key: str) -> float:
        if key[0] == "t":
            return min(0.5, max(self.terms_per_doc, 1.0) / max(self.n_text, 1))
        lvl = self._level_cache.get(key)
        if lvl is None:
            if len(self._level_cache) > 200000:
                self._level_cache.clear()
            lvl = self._level_cache[key] = _level_of(key)
        return 1.0 / max(self.levels.get(lvl, 1), 1)

    def _predict(self, key: str, g: _G, k_raw: int, total_w: int, w: int
                 ) -> tuple[int, float, float, float]:
        """(n, a, b, mean): the group's count among the n complaints of a w-hour window is
        Beta-Binomial(n, a, b). Its share of all complaints has a Beta prior (mean: its
        level's average share, or an average term's share; weight prior_strength) updated
        by its decayed history. Conditioning on the window's own volume normalises it: when
        every group rises (3·15, after a holiday) the expectation rises with them. A quiet
        window counts as at least volume_floor × the usual volume of such a window."""
        assert self.now is not None
        ctx = self._ctx
        if ctx is None or ctx[0] != self.now:
            ctx = self._ctx = (self.now, self._base_at(self.total, self.now), self._history_hours())
        _, base_total, hist_h = ctx
        base_g = min(self._base_at(g, self.now), base_total)
        a0 = self.t.prior_strength
        mu = self._prior_share(key)
        a = a0 + base_g
        b = max(a0 / mu - a0, 1e-6) + (base_total - base_g)
        n = max(total_w, k_raw)
        if hist_h > 1.0:
            n = max(n, int(round(self.t.volume_floor * base_total * w / hist_h)))
        return n, a, b, n * a / (a + b)

    @staticmethod
    def _end_episode(g: _G) -> None:
        g.ep_count = g.ep_last_alert = 0
        g.ep_ids = None
        g.ep_alerted = False

    def _window_count(self, g: _G, w: int) -> int:
        assert self.now is not None
        if w >= self._keep:
            return g.wc
        edge = self.now - w
        return sum(c for h, c in g.buckets.items() if h > edge)

    def _evaluate(self, keys: Iterable[str], fired_at: datetime) -> list[Alert]:
        t = self.t
        assert self.now is not None and self.first is not None
        if self.now - self.first < t.warmup_days * 24:
            return []
        self._fold(self.total)
        self._ctx = None
        max_bonus = t.reach_bonus_cap + sum(max(w, 0.0) for w in t.signal_weights.values())
        base_total = self._base_at(self.total, self.now)
        hist_h = self._history_hours()
        totals = {w: self._window_count(self.total, w) for w in self._windows}
        floor_count = min(t.min_count, t.text_min_count)
        candidates: list[tuple[float, str, dict[str, Any]]] = []
        for key in keys:
            g = self.groups.get(key)
            if g is None or g.wc < floor_count:   # wc only shrinks when folded
                continue
            self._fold(g)
            is_text = key[0] == "t"
            min_count = t.text_min_count if is_text else t.min_count
            min_ratio = t.text_min_ratio if is_text else t.min_ratio
            min_score = t.text_min_score if is_text else t.min_score
            if g.wc < min_count:
                continue
            if g.ep_count and self.now - g.ep_last > t.episode_quiet_days * 24:
                self._end_episode(g)
            if is_text and hist_h > 1.0 and base_total > 0:
                if self._base_at(g, self.now) / base_total > t.text_max_doc_share:
                    continue
            best: tuple[float, int, float] | None = None
            hot = False
            for w in self._windows:
                k_w = self._window_count(g, w)
                if k_w < min_count:
                    continue
                n, a, b, lam = self._predict(key, g, k_w, totals[w], w)
                if k_w < min_ratio * lam:
                    continue
                hot = True
                raw_score = bb_tail_score(k_w, n, a, b)
                if raw_score + max_bonus < min_score:
                    continue
                if best is None or raw_score > best[0]:
                    best = (raw_score, w, lam)
            if hot and g.ep_count:
                g.ep_last = self.now     # the episode lasts while the group stays hot
            if best is None:
                continue
            if g.ep_count and g.ep_count < t.refire_growth * g.ep_last_alert:
                continue
            _, w, _ = best
            edge = self.now - w
            members = [d for d in self.docs if d.hour > edge and key in d.keys]
            distinct: dict[str, _Doc] = {}
            for d in members:
                distinct.setdefault(d.dedupe, d)
            k = len(distinct)
            n, a, b, lam = self._predict(key, g, k, totals[w] - (len(members) - k), w)
            if k < min_count or k < min_ratio * lam:
                continue
            if is_text and len({d.path for d in distinct.values()}) < t.text_min_about_paths:
                continue
            signals = frozenset().union(*(d.signals for d in members))
            reach = sum(d.reach for d in members)
            bonus = sum(max(t.signal_weights.get(s, 0.0), 0.0) for s in signals)
            if reach > 0:
                bonus += min(t.reach_bonus_cap, t.reach_weight * math.log10(1.0 + reach))
            score = bb_tail_score(k, n, a, b) + bonus
            if score < min_score:
                continue
            candidates.append((score, key, {"g": g, "k": k, "lam": lam, "members": members,
                                            "signals": signals, "reach": reach, "window": w}))
        if not candidates:
            return []
        # most significant first; on ties the more specific hierarchy group wins
        candidates.sort(key=lambda c: (-c[0], c[1][0] == "t", -c[1].count(_SEP_FIELD)))
        alerts: list[Alert] = []
        episodes = [(k, g) for k, g in self.groups.items() if g.ep_alerted and g.ep_ids]
        for score, key, info in candidates:
            g = info["g"]
            ids = [d.id for d in info["members"]]
            idset = set(ids)
            owner = None
            best = 0.0
            for ek, eg in episodes:
                if ek == key or not eg.ep_ids:
                    continue
                cover = len(idset & eg.ep_ids) / max(len(idset), 1)
                if cover > best:
                    owner, best = ek, cover
            first_alert = not g.ep_count
            if best >= t.overlap_suppress:
                # folded into an alert already raised for (mostly) the same complaints
                if first_alert:
                    g.ep_count = g.ep_last_alert = g.wc
                    g.ep_last = g.ep_alert_hour = self.now
                else:
                    g.ep_last_alert = g.ep_count
                continue
            if first_alert or not g.ep_alerted:
                g.ep_count = max(g.ep_count, g.wc)
                g.ep_ids = set(idset)
                g.ep_alerted = True
                episodes.append((key, g))
            else:
                g.ep_ids = (g.ep_ids or set()) | idset
            g.ep_last_alert = g.ep_count
            g.ep_last = g.ep_alert_hour = self.now
            alerts.append(self._make_alert(fired_at, key, score, info, refire=not first_alert))
        return alerts

    def _make_alert(self, fired_at: datetime, key: str, score: float, info: dict[str, Any],
                    *, refire: bool) -> Alert:
        members: list[_Doc] = info["members"]
        group = _decode_key(key)
        keywords = self._keywords(members)
        if group.kind == "text":
            term = group.fields[0][1]
            main = next((w for w in keywords if term in w), term)
            keywords = ([main] + [w for w in keywords if w != main and term not in w])[:6]
            label = "相似投诉 · " + "/".join(keywords[:3])
        else:
            label = " · ".join(self.labels.get(v, v) if f == PROBLEM_FIELD else v
                               for f, v in group.fields)
        samples: list[str] = []
        seen_s: set[str] = set()
        for d in reversed(members):
            s = d.snippet
            if s and _text_key(s) not in seen_s:
                seen_s.add(_text_key(s))
                samples.append(s)
            if len(samples) >= 3:
                break
        ids = [d.id for d in members]
        if len(ids) > self.t.max_alert_ids:
            ids = ids[-self.t.max_alert_ids:]
        g: _G = info["g"]
        return Alert(fired_at=fired_at, group=group, label=label, count=info["k"],
                     baseline=info["lam"], score=round(score, 3), ids=tuple(ids),
                     sample_texts=tuple(samples), signals=info["signals"],
                     keywords=tuple(keywords), key=key, episode_count=g.ep_count,
                     refire=refire, reach=info["reach"])

    def _keywords(self, members: list[_Doc], top: int = 6) -> list[str]:
        """Terms over-represented in the members compared with the history, longest
        readable form (adjacent bigrams joined when they always occur together)."""
        assert self.now is not None
        df: Counter[str] = Counter()
        for d in members:
            df.update(k[2:] for k in d.keys if k[0] == "t")
        if not df:
            return []
        n = len(members)
        base_total = max(self._base_at(self.total, self.now), 1.0)
        scored = []
        for term, c in df.items():
            if c < max(2, math.ceil(0.3 * n)) and n > 2:
                continue
            g = self.groups.get("t:" + term)
            hist = self._base_at(g, self.now) / base_total if g else 0.0
            lift = (c / n) / (hist + 0.01)
            scored.append((c * math.log1p(lift), term))
        scored.sort(reverse=True)
        picked = [t for _, t in scored[: top * 3]]
        # join overlapping bigrams that appear together in the texts ("刹车" + "车片" → "刹车片")
        texts = [_normalise(d.snippet) for d in members]
        merged: list[str] = []
        for term in picked:
            joined = False
            for i, m in enumerate(merged):
                for cand in (m + term[1:] if m[-1:] == term[:1] else None,
                             term + m[1:] if term[-1:] == m[:1] else None):
                    if cand and sum(cand in x for x in texts) >= max(1, 0.6 * sum(m in x for x in texts)):
                        merged[i] = cand
                        joined = True
                        break
                if joined:
                    break
            if not joined and not any(term in m for m in merged):
                merged.append(term)
        return merged[:top]
