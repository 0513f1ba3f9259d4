"""Thresholds of the early-warning detector, per industry profile: the shipped
``data/thresholds.toml`` (``[profiles.default]`` and one table per profile overriding it,
``[text] stop_terms``), overridden again from the database by the crisis app. A malformed
file or value raises ``ThresholdsError`` naming the file, line and key. Pure Python: no
Django import.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from .textsig import normalise

__all__ = ["Thresholds", "ThresholdsError", "load_profiles", "load_thresholds"]


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
                values[key] = frozenset(normalise(t) for t in raw)
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
    """All profiles of a thresholds TOML file (default: the one shipped with the package,
    read once per process)."""
    if path is None:
        return dict(_shipped_profiles())
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ThresholdsError(f"{source}: cannot read ({exc})") from exc
    return _parse_profiles(text, source)


@lru_cache(maxsize=1)
def _shipped_profiles() -> dict[str, Thresholds]:
    text, source = _default_thresholds_text()
    return _parse_profiles(text, source)


def _parse_profiles(text: str, source: str) -> dict[str, Thresholds]:
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
