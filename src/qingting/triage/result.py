"""The Triage value returned by analyze()."""
from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields


def _fast_init(cls):
    """Give a frozen dataclass an __init__ that fills the instance dict directly.  The
    generated one sets each field through object.__setattr__, several times slower, and
    analyze() builds a few dozen of these per complaint.  Instances stay frozen."""
    names = [f.name for f in fields(cls)]
    defaults = {f.name: f.default for f in fields(cls) if f.default is not MISSING}
    params = ", ".join(n + (f"=_default_{n}" if n in defaults else "") for n in names)
    namespace = {f"_default_{n}": v for n, v in defaults.items()}
    body = "".join(f"\n    d[{n!r}] = {n}" for n in names)
    exec(f"def __init__(self, {params}):\n    d = self.__dict__{body}", namespace)
    cls.__init__ = namespace["__init__"]
    return cls


@_fast_init
@dataclass(frozen=True)
class Evidence:
    """Why a label was given.  ``start``/``end`` index the ORIGINAL text (as given to
    analyze(), after truncation); ``norm_start``/``norm_end`` index the normalised text.
    ``source`` is ``lexicon`` (rule id in ``rule``), ``model`` (a feature of the trained
    model), ``feature`` (a computed text feature) or ``context`` (an analyze() argument)."""

    text: str
    start: int | None
    end: int | None
    norm_start: int | None
    norm_end: int | None
    rule: str
    source: str = "lexicon"

    def to_dict(self) -> dict:
        # The instance dict holds exactly the fields, in their order (_fast_init): a copy of
        # it is the same dict as the one spelled out, four times quicker (0.1 vs 0.45 µs).
        return self.__dict__.copy()


@_fast_init
@dataclass(frozen=True)
class Label:
    code: str
    zh: str
    en: str
    score: float
    evidence: tuple[Evidence, ...] = ()

    def to_dict(self) -> dict:
        return {"code": self.code, "zh": self.zh, "en": self.en, "score": round(self.score, 3),
                "evidence": [e.to_dict() for e in self.evidence]}


@_fast_init
@dataclass(frozen=True)
class CategoryChoice:
    level1: str
    level1_zh: str
    level1_en: str
    level2: str | None
    level2_zh: str | None
    level2_en: str | None
    label: str  # the raw label (model class or level-2 code)
    confidence: float

    def to_dict(self) -> dict:
        return {"level1": {"code": self.level1, "zh": self.level1_zh, "en": self.level1_en},
                "level2": None if self.level2 is None else {"code": self.level2, "zh": self.level2_zh, "en": self.level2_en},
                "label": self.label, "confidence": round(self.confidence, 3)}


@_fast_init
@dataclass(frozen=True)
class Category:
    choice: CategoryChoice
    alternatives: tuple[CategoryChoice, ...]
    source: str  # "model" or "lexicon"
    profile: str
    evidence: tuple[Evidence, ...]

    def to_dict(self) -> dict:
        d = self.choice.to_dict()
        d.update({"source": self.source, "profile": self.profile,
                  "alternatives": [a.to_dict() for a in self.alternatives],
                  "evidence": [e.to_dict() for e in self.evidence]})
        return d


@_fast_init
@dataclass(frozen=True)
class Nature:
    code: str  # good_faith | suspected_malicious
    zh: str
    en: str
    reasons: tuple[Label, ...]
    action: str | None  # "supervisor_review" when suspected; never a rejection

    def to_dict(self) -> dict:
        return {"code": self.code, "zh": self.zh, "en": self.en, "action": self.action,
                "reasons": [r.to_dict() for r in self.reasons]}


@_fast_init
@dataclass(frozen=True)
class Emotion:
    code: str
    zh: str
    en: str
    intensity: float
    scores: dict
    evidence: tuple[Evidence, ...]

    def to_dict(self) -> dict:
        return {"code": self.code, "zh": self.zh, "en": self.en, "intensity": round(self.intensity, 3),
                "scores": {k: round(v, 3) for k, v in self.scores.items()},
                "evidence": [e.to_dict() for e in self.evidence]}


@_fast_init
@dataclass(frozen=True)
class Priority:
    code: str
    zh: str
    en: str
    reason: str
    reason_en: str

    def to_dict(self) -> dict:
        return self.__dict__.copy()  # the fields, in order (see Evidence.to_dict)


@_fast_init
@dataclass(frozen=True)
class Triage:
    language: str
    category: Category
    nature: Nature
    emotion: Emotion
    personas: tuple[Label, ...]
    signals: tuple[Label, ...]
    priority: Priority
    pii: tuple[dict, ...]
    advice: dict
    model_version: str
    lexicon_version: str
    text_length: int
    truncated: bool
    notes: tuple[str, ...] = field(default=())

    @property
    def persona_codes(self) -> list[str]:
        return [p.code for p in self.personas]

    @property
    def signal_codes(self) -> list[str]:
        return [s.code for s in self.signals]

    def to_dict(self) -> dict:
        return {
            "schema": 1,
            "model_version": self.model_version,
            "lexicon_version": self.lexicon_version,
            "language": self.language,
            "text_length": self.text_length,
            "truncated": self.truncated,
            "offsets": "start/end: original text; norm_start/norm_end: normalised text",
            "notes": list(self.notes),
            "category": self.category.to_dict(),
            "nature": self.nature.to_dict(),
            "emotion": self.emotion.to_dict(),
            "personas": [p.to_dict() for p in self.personas],
            "signals": [s.to_dict() for s in self.signals],
            "priority": self.priority.to_dict(),
            "pii": [dict(p) for p in self.pii],
            "advice": self.advice,
        }
