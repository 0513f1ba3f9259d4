"""Reply assistant: pick a 话术 template and fill it with the complaint's facts (pure).

    draft = make_draft("act", channel="phone", persona="emotional", emotion="anger",
                       facts={"customer_name": "王先生", "finding": "...", "due": "明天下午5点"})
    draft.text, draft.missing, draft.template_id, draft.card

Templates: ``data/templates_zh.toml`` (schema in its header). Guidance cards:
``data/guidance_cards.toml`` (:func:`load_guidance_cards`, :func:`guidance_card`).
A missing fact never raises: it shows as 【label】 in the text and is listed in
``missing``. Invalid template files raise :class:`TemplatesError` naming file and key.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
STEPS = ("accept", "soothe", "apologize", "confirm", "act", "negotiate", "follow_up", "close")
PERSONAS = ("emotional", "righteous", "stubborn", "prepared", "self_important", "influential", "ordinary")
EMOTIONS = ("anger", "anxiety", "sadness", "disappointment", "neutral")
CHANNELS = ("phone", "in_person", "letter", "web", "email", "chat", "social", "regulator", "api", "import")
_FIELD = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


class TemplatesError(ValueError):
    """A templates or guidance-cards file does not validate."""


@dataclass(frozen=True)
class Template:
    id: str
    step: str
    text: str
    channels: tuple[str, ...] = ()
    personas: tuple[str, ...] = ()
    emotions: tuple[str, ...] = ()
    priority: int = 0


@dataclass
class Draft:
    template_id: str
    step: str
    text: str
    missing: list[str] = field(default_factory=list)
    card: dict | None = None

    def to_dict(self) -> dict:
        return {"template_id": self.template_id, "step": self.step, "text": self.text,
                "missing": list(self.missing), "card": self.card}


def _line(raw: str, needle: str) -> str:
    idx = raw.find(needle)
    return f", line {raw.count(chr(10), 0, idx) + 1}" if idx >= 0 else ""


def parse_templates(raw: str, path: str = "<templates>") -> tuple[dict[str, str], tuple[Template, ...]]:
    try:
        doc = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise TemplatesError(f"{path}: not valid TOML: {exc}") from None
    placeholders = doc.get("placeholders", {})
    if not isinstance(placeholders, dict) or not all(isinstance(v, str) for v in placeholders.values()):
        raise TemplatesError(f"{path}{_line(raw, '[placeholders]')}: placeholders: must map fact names to labels")
    out: list[Template] = []
    seen: set[str] = set()
    for i, t in enumerate(doc.get("templates", [])):
        tid = t.get("id") if isinstance(t, dict) else None
        loc = _line(raw, 'id = "%s"' % tid) if tid else ""
        where = f"{path}{loc}: templates[{i}]"
        if not isinstance(tid, str) or not tid:
            raise TemplatesError(f"{where}.id: missing")
        if tid in seen:
            raise TemplatesError(f"{where}.id: duplicate {tid!r}")
        seen.add(tid)
        bad = set(t) - {"id", "step", "text", "channels", "personas", "emotions", "priority"}
        if bad:
            raise TemplatesError(f"{where}.{sorted(bad)[0]}: unknown key")
        if t.get("step") not in STEPS:
            raise TemplatesError(f"{where}.step: must be one of {', '.join(STEPS)}, got {t.get('step')!r}")
        if not isinstance(t.get("text"), str) or not t["text"].strip():
            raise TemplatesError(f"{where}.text: must be a non-empty string")
        lists = {}
        for key, allowed in (("channels", CHANNELS), ("personas", PERSONAS), ("emotions", EMOTIONS)):
            vals = t.get(key, [])
            if not isinstance(vals, list) or any(v not in allowed for v in vals):
                raise TemplatesError(f"{where}.{key}: values must be among {', '.join(allowed)}, got {vals!r}")
            lists[key] = tuple(vals)
        unknown = [f for f in _FIELD.findall(t["text"]) if f not in placeholders]
        if unknown:
            raise TemplatesError(f"{where}.text: unknown fact {{{unknown[0]}}} (add it to [placeholders])")
        prio = t.get("priority", 0)
        if not isinstance(prio, int):
            raise TemplatesError(f"{where}.priority: must be an integer")
        out.append(Template(tid, t["step"], t["text"], lists["channels"], lists["personas"],
                            lists["emotions"], prio))
    missing_steps = [s for s in STEPS if not any(t.step == s for t in out)]
    if missing_steps:
        raise TemplatesError(f"{path}: no template for step(s) {', '.join(missing_steps)}")
    return dict(placeholders), tuple(out)


@lru_cache(maxsize=8)
def load_templates(path: str | None = None) -> tuple[dict[str, str], tuple[Template, ...]]:
    p = Path(path) if path else DATA_DIR / "templates_zh.toml"
    try:
        raw = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplatesError(f"{p}: cannot read: {exc}") from None
    return parse_templates(raw, str(p))


def pick_template(templates, step: str, *, channel: str | None = None, persona: str | None = None,
                  emotion: str | None = None) -> Template | None:
    """Best template for the step: more matching (persona ×4, emotion ×2, channel ×1) wins;
    templates restricted to other values are skipped."""
    best, best_key = None, None
    for t in templates:
        if t.step != step:
            continue
        score = 0
        ok = True
        for values, actual, weight in ((t.personas, persona, 4), (t.emotions, emotion, 2),
                                       (t.channels, channel, 1)):
            if values:
                if actual in values:
                    score += weight
                else:
                    ok = False
                    break
        if not ok:
            continue
        key = (score, t.priority, -len(t.id))
        if best_key is None or key > best_key:
            best, best_key = t, key
    return best


def fill(text: str, facts: dict | None, placeholders: dict[str, str]) -> tuple[str, list[str]]:
    facts = facts or {}
    missing: list[str] = []

    def sub(m):
        name = m.group(1)
        value = facts.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if name not in missing:
                missing.append(name)
            return f"【{placeholders.get(name, name)}】"
        if isinstance(value, (list, tuple)):
            value = "；".join(str(v) for v in value)
        return str(value)

    return _FIELD.sub(sub, text), missing


def make_draft(step: str, *, channel: str | None = None, persona: str | None = None,
               emotion: str | None = None, facts: dict | None = None,
               templates_path: str | None = None) -> Draft:
    """A filled draft for the step. Unknown step falls back to 'accept'. Never raises on
    facts; raises TemplatesError only when the templates file itself is invalid."""
    placeholders, templates = load_templates(templates_path)
    step = step if step in STEPS else "accept"
    t = pick_template(templates, step, channel=channel, persona=persona, emotion=emotion)
    if t is None:  # every step has at least one template (validated); this is defensive
        t = next(x for x in templates if x.step == step)
    clean = {k: v for k, v in (facts or {}).items() if isinstance(k, str)}
    text, missing = fill(t.text, clean, placeholders)
    return Draft(t.id, step, text, missing, guidance_card(persona) if persona else None)


# ---------------------------------------------------------------- guidance cards

@lru_cache(maxsize=4)
def load_guidance_cards(path: str | None = None) -> dict:
    """{'headline_zh', 'headline_en', 'cards': {persona: card}, 'self_care': {...}}"""
    p = Path(path) if path else DATA_DIR / "guidance_cards.toml"
    try:
        raw = p.read_text(encoding="utf-8")
        doc = tomllib.loads(raw)
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplatesError(f"{p}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise TemplatesError(f"{p}: not valid TOML: {exc}") from None
    meta = doc.get("meta", {})
    cards = {}
    for i, c in enumerate(doc.get("cards", [])):
        persona = c.get("persona")
        loc = _line(raw, 'persona = "%s"' % persona)
        where = f"{p}{loc}: cards[{i}]"
        if persona not in PERSONAS:
            raise TemplatesError(f"{where}.persona: must be one of {', '.join(PERSONAS)}, got {persona!r}")
        for key in ("name_zh", "signs_zh", "advice_zh"):
            if not c.get(key):
                raise TemplatesError(f"{where}.{key}: required")
        for key in ("signs_zh", "advice_zh", "avoid_zh", "phrases_zh", "signs_en", "advice_en"):
            if key in c and not (isinstance(c[key], list) and all(isinstance(x, str) for x in c[key])):
                raise TemplatesError(f"{where}.{key}: must be a list of strings")
        cards[persona] = dict(c)
    missing = [x for x in PERSONAS if x not in cards]
    if missing:
        raise TemplatesError(f"{p}: no card for persona(s) {', '.join(missing)}")
    return {"headline_zh": meta.get("headline_zh", "先处理心情，再处理事情"),
            "headline_en": meta.get("headline_en", "Feelings first, then the matter"),
            "cards": cards, "self_care": dict(doc.get("self_care", {}))}


def guidance_card(persona: str | None) -> dict:
    """The card for a persona code (unknown → 'ordinary'), with the headline."""
    data = load_guidance_cards()
    card = data["cards"].get(persona or "ordinary") or data["cards"]["ordinary"]
    return {"headline_zh": data["headline_zh"], "headline_en": data["headline_en"], **card}


def self_care_tips(lang: str = "zh") -> list[str]:
    return list(load_guidance_cards()["self_care"].get(f"tips_{lang}", []))
