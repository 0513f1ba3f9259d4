"""Resolution data as TOML (pure: no Django import): options, the service-scope catalogue per
industry profile, the root-cause taxonomy, touchpoints per profile, the follow-up policy and
the starter cases of the case library.

The shipped file is `data/catalogue.toml`; an administrator may add
`$QINGTING_DATA_DIR/resolution/catalogue.toml` with the same structure: entries with the same
code replace the shipped ones, new codes are added. A file that does not validate raises
CatalogueError naming the file, the key and the line.
"""
from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
CATALOGUE = DATA_DIR / "catalogue.toml"
STARTER_CASES = DATA_DIR / "starter_cases.toml"
OPTION_TO_RESOLUTION_TYPE = {"refund": "refund", "exchange": "exchange", "repair": "repair", "apology": "apology",
                             "compensation": "compensation", "explanation": "explanation", "temporary": "other"}
PERSONAS = ("emotional", "righteous", "stubborn", "prepared", "self_important", "influential", "ordinary")


class CatalogueError(ValueError):
    """A catalogue or cases file does not validate."""


def _line(raw: str, needle: str) -> str:
    idx = raw.find(needle) if needle else -1
    return f", line {raw.count(chr(10), 0, idx) + 1}" if idx >= 0 else ""


def _read(path: Path) -> tuple[str, dict]:
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"{path}: cannot read: {exc}") from None
    try:
        return raw, tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{path}: not valid TOML: {exc}") from None


def _items(path: Path, raw: str, doc: dict, table: str, *, need_option: bool, options: dict) -> dict:
    out: dict[str, list[dict]] = {}
    for i, block in enumerate(doc.get(table, [])):
        profile = block.get("profile")
        where = f"{path}{_line(raw, f'profile = {chr(34)}{profile}{chr(34)}')}: {table}[{i}]"
        if not isinstance(profile, str) or not profile:
            raise CatalogueError(f"{where}.profile: required string")
        items = block.get("items")
        if not isinstance(items, list):
            raise CatalogueError(f"{where}.items: must be a list")
        for j, item in enumerate(items):
            code = item.get("code") if isinstance(item, dict) else None
            w = f"{path}{_line(raw, f'code = {chr(34)}{code}{chr(34)}')}: {table}[{i}].items[{j}]"
            if not isinstance(code, str) or not code or not isinstance(item.get("name"), str) or not item["name"]:
                raise CatalogueError(f"{w}: needs code and name (strings)")
            if need_option and item.get("option") not in options:
                raise CatalogueError(f"{w}.option: {item.get('option')!r} is not one of {', '.join(options)}")
            out.setdefault(profile, [])
            out[profile] = [x for x in out[profile] if x["code"] != code] + [dict(item)]
    return out


def parse_catalogue(path: Path) -> dict:
    raw, doc = _read(path)
    options = doc.get("options", {})
    if options and not all(isinstance(v, str) for v in options.values()):
        raise CatalogueError(f"{path}{_line(raw, '[options]')}: options: values must be strings")
    causes = []
    for i, rc in enumerate(doc.get("root_cause", [])):
        if not isinstance(rc.get("code"), str) or not isinstance(rc.get("name"), str):
            raise CatalogueError(f"{path}{_line(raw, str(rc.get('code')))}: root_cause[{i}]: needs code and name")
        causes.append(dict(rc))
    follow = doc.get("followup", {})
    for key in ("days_after_resolution", "max_attempts"):
        if key in follow and not (isinstance(follow[key], int) and 0 < follow[key] <= 365):
            raise CatalogueError(f"{path}{_line(raw, key)}: followup.{key}: a whole number 1–365")
    if "retry_hours" in follow and not (isinstance(follow["retry_hours"], list)
                                        and all(isinstance(h, (int, float)) and h > 0 for h in follow["retry_hours"])):
        raise CatalogueError(f"{path}{_line(raw, 'retry_hours')}: followup.retry_hours: a list of positive numbers")
    return {
        "options": dict(options),
        "compensation_kinds": dict(doc.get("compensation_kinds", {})),
        "followup": dict(follow),
        "scope": _items(path, raw, doc, "scope", need_option=True, options=options or OPTION_TO_RESOLUTION_TYPE),
        "root_causes": causes,
        "touchpoints": _items(path, raw, doc, "touchpoint", need_option=False, options={}),
    }


def _merge(base: dict, extra: dict) -> dict:
    out = {k: (dict(v) if isinstance(v, dict) else list(v)) for k, v in base.items()}
    out["options"].update(extra.get("options", {}))
    out["compensation_kinds"].update(extra.get("compensation_kinds", {}))
    out["followup"].update(extra.get("followup", {}))
    for table in ("scope", "touchpoints"):
        merged = {p: list(items) for p, items in base[table].items()}
        for profile, items in extra.get(table, {}).items():
            for item in items:
                merged[profile] = [x for x in merged.get(profile, []) if x["code"] != item["code"]] + [item]
        out[table] = merged
    codes = {rc["code"]: rc for rc in base["root_causes"]}
    for rc in extra.get("root_causes", []):
        codes[rc["code"]] = rc
    out["root_causes"] = list(codes.values())
    return out


def _local_file() -> Path | None:
    data_dir = os.environ.get("QINGTING_DATA_DIR")
    if not data_dir:
        return None
    p = Path(data_dir) / "resolution" / "catalogue.toml"
    return p if p.exists() else None


@lru_cache(maxsize=4)
def _load(extra: str | None) -> dict:
    data = parse_catalogue(CATALOGUE)
    if extra:
        data = _merge(data, parse_catalogue(Path(extra)))
    return data


def load_catalogue() -> dict:
    local = _local_file()
    return _load(str(local) if local else None)


def options() -> dict[str, str]:
    return load_catalogue()["options"]


def scope_for(profile: str | None) -> list[dict]:
    """The services an agent may offer for this profile (general ones first)."""
    scope = load_catalogue()["scope"]
    items = list(scope.get("general", []))
    if profile and profile != "general":
        items += scope.get(profile, [])
    return items


def touchpoints_for(profile: str | None) -> list[dict]:
    tps = load_catalogue()["touchpoints"]
    return list(tps.get(profile or "general") or tps.get("general", []))


def root_causes() -> list[dict]:
    return list(load_catalogue()["root_causes"])


def followup_policy() -> dict:
    policy = {"days_after_resolution": 3, "retry_hours": [4, 24, 48], "max_attempts": 4, "hostile_intensity": 0.8}
    policy.update(load_catalogue()["followup"])
    return policy


def load_starter_cases(path: Path = STARTER_CASES) -> list[dict]:
    raw, doc = _read(path)
    out, seen = [], set()
    for i, case in enumerate(doc.get("case", [])):
        code = case.get("code")
        where = f"{path}{_line(raw, f'code = {chr(34)}{code}{chr(34)}')}: case[{i}]"
        if not isinstance(code, str) or code in seen:
            raise CatalogueError(f"{where}.code: missing or duplicate")
        seen.add(code)
        for key in ("title", "profile", "problem", "actions", "outcome"):
            if not isinstance(case.get(key), str) or not case[key].strip():
                raise CatalogueError(f"{where}.{key}: required string")
        if case.get("persona") and case["persona"] not in PERSONAS:
            raise CatalogueError(f"{where}.persona: one of {', '.join(PERSONAS)}")
        sat = case.get("satisfaction")
        if sat is not None and not (isinstance(sat, int) and 1 <= sat <= 5):
            raise CatalogueError(f"{where}.satisfaction: 1–5")
        out.append(dict(case))
    return out
