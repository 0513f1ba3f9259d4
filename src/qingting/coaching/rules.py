"""Load and validate the reply-checker rules (pure Python, no Django).

Rules are data: ``data/rules_<lang>.toml`` (schema in the header of rules_zh.toml).
An administrator's extra file of the same shape may be merged on top: its signal
patterns are appended, its rules replace shipped rules with the same code or are added.
Every problem is reported as :class:`RulesError` naming the file, the key and, where it
can be found, the line.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
LANGS = ("zh", "en")
SEVERITIES = ("info", "warning", "error")
KINDS = ("missing", "risk", "bare_ack", "builtin")
BUILTIN_CHECKS = ("personal_data", "amount_over_limit", "empty")


class RulesError(ValueError):
    """A rules file does not validate. The message names the file, key and line."""


@dataclass(frozen=True)
class Signal:
    name: str
    patterns: tuple[re.Pattern, ...]
    exclude: tuple[re.Pattern, ...] = ()
    label_zh: str = ""
    label_en: str = ""


@dataclass(frozen=True)
class Rule:
    code: str
    kind: str
    severity: str
    penalty: int
    message_zh: str
    message_en: str
    signals: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()
    substance: tuple[str, ...] = ()
    check: str = ""
    partial_signals: tuple[str, ...] = ()
    partial_penalty: int = 0
    fault_penalty: dict | None = None
    public_penalty: dict | None = None
    penalty_per_match: int = 0
    max_penalty: int = 0


@dataclass(frozen=True)
class RuleSet:
    lang: str
    signals: dict[str, Signal]
    rules: tuple[Rule, ...]
    amount_keywords: tuple[str, ...] = ()
    amount_window: int = 16
    sources: tuple[str, ...] = field(default=())


def _line_of(raw: str, *needles: str) -> int | None:
    """1-based line of the first needle found in the raw file text (best effort)."""
    for needle in needles:
        if not needle:
            continue
        idx = raw.find(needle)
        if idx >= 0:
            return raw.count("\n", 0, idx) + 1
    return None


class _Ctx:
    def __init__(self, path: str, raw: str):
        self.path = path
        self.raw = raw

    def fail(self, key: str, problem: str, *needles: str) -> None:
        line = _line_of(self.raw, *needles) if needles else None
        where = f"{self.path}, line {line}" if line else self.path
        raise RulesError(f"{where}: {key}: {problem}")


def _str_list(ctx: _Ctx, value, key: str, needle: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        ctx.fail(key, "must be a list of strings", needle)
    return value


def _compile(ctx: _Ctx, patterns: list[str], key: str, flags: int) -> tuple[re.Pattern, ...]:
    out = []
    for i, pat in enumerate(patterns):
        if not pat:
            ctx.fail(f"{key}[{i}]", "empty pattern", key.split(".")[-1])
        try:
            out.append(re.compile(pat, flags))
        except re.error as exc:
            # toml escapes backslashes; look for a recognisable chunk of the pattern
            ctx.fail(f"{key}[{i}]", f"invalid regular expression {pat!r}: {exc}",
                     pat.replace("\\", "\\\\")[:30], pat[:12])
    return tuple(out)


def _int(ctx: _Ctx, value, key: str, needle: str, lo: int = 0, hi: int = 100) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        ctx.fail(key, f"must be an integer between {lo} and {hi}, got {value!r}", needle)
    return value


def parse_rules(raw: str, path: str = "<rules>") -> dict:
    """Parse and validate one rules file; return a plain dict of compiled parts."""
    ctx = _Ctx(path, raw)
    try:
        doc = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{path}: not valid TOML: {exc}") from None
    meta = doc.get("meta", {})
    lang = meta.get("lang")
    if lang not in LANGS:
        ctx.fail("meta.lang", f"must be one of {', '.join(LANGS)}, got {lang!r}", "lang")
    flags = re.IGNORECASE if lang == "en" else 0
    unknown = set(doc) - {"meta", "signals", "rules", "amount"}
    if unknown:
        k = sorted(unknown)[0]
        ctx.fail(k, "unknown section (expected meta, signals, rules, amount)", f"[{k}", k)

    signals: dict[str, Signal] = {}
    sigdoc = doc.get("signals", {})
    if not isinstance(sigdoc, dict):
        ctx.fail("signals", "must be a table", "signals")
    for name, body in sigdoc.items():
        key = f"signals.{name}"
        needle = f"[signals.{name}]"
        if not isinstance(body, dict):
            ctx.fail(key, "must be a table", needle)
        bad = set(body) - {"patterns", "exclude", "label_zh", "label_en"}
        if bad:
            ctx.fail(f"{key}.{sorted(bad)[0]}", "unknown key (expected patterns, exclude, label_zh, label_en)", needle)
        pats = _str_list(ctx, body.get("patterns"), f"{key}.patterns", needle)
        excl = _str_list(ctx, body.get("exclude", []), f"{key}.exclude", needle)
        signals[name] = Signal(
            name=name,
            patterns=_compile(ctx, pats, f"{key}.patterns", flags),
            exclude=_compile(ctx, excl, f"{key}.exclude", flags),
            label_zh=str(body.get("label_zh", name)),
            label_en=str(body.get("label_en", name)),
        )

    rules: list[Rule] = []
    rdoc = doc.get("rules", [])
    if not isinstance(rdoc, list):
        ctx.fail("rules", "must be an array of tables ([[rules]])", "rules")
    seen: set[str] = set()
    for i, body in enumerate(rdoc):
        key = f"rules[{i}]"
        if not isinstance(body, dict):
            ctx.fail(key, "must be a table", "[[rules]]")
        code = body.get("code")
        needle = f'code = "{code}"'
        if not isinstance(code, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", code or ""):
            ctx.fail(f"{key}.code", f"must be a snake_case string, got {code!r}", "[[rules]]")
        key = f"rules[{i}] ({code})"
        if code in seen:
            ctx.fail(key, "duplicate rule code", needle)
        seen.add(code)
        allowed = {"code", "kind", "signals", "unless", "substance", "check", "severity", "penalty",
                   "partial", "fault_penalty", "public_penalty", "penalty_per_match", "max_penalty",
                   "message_zh", "message_en"}
        bad = set(body) - allowed
        if bad:
            ctx.fail(f"{key}.{sorted(bad)[0]}", "unknown key", needle)
        kind = body.get("kind")
        if kind not in KINDS:
            ctx.fail(f"{key}.kind", f"must be one of {', '.join(KINDS)}, got {kind!r}", needle)
        severity = body.get("severity")
        if severity not in SEVERITIES:
            ctx.fail(f"{key}.severity", f"must be one of {', '.join(SEVERITIES)}, got {severity!r}", needle)
        penalty = _int(ctx, body.get("penalty"), f"{key}.penalty", needle)
        for m in ("message_zh", "message_en"):
            if not isinstance(body.get(m), str) or not body[m].strip():
                ctx.fail(f"{key}.{m}", "must be a non-empty string", needle)
        sig_lists = {}
        for sk in ("signals", "unless", "substance"):
            vals = _str_list(ctx, body.get(sk, []), f"{key}.{sk}", needle)
            sig_lists[sk] = tuple(vals)
        check = body.get("check", "")
        if kind == "builtin":
            if check not in BUILTIN_CHECKS:
                ctx.fail(f"{key}.check", f"must be one of {', '.join(BUILTIN_CHECKS)}, got {check!r}", needle)
        elif not sig_lists["signals"]:
            ctx.fail(f"{key}.signals", "must name at least one signal", needle)
        if kind == "bare_ack" and not sig_lists["substance"]:
            ctx.fail(f"{key}.substance", "a bare_ack rule must name its substance signals", needle)
        partial = body.get("partial", {})
        if not isinstance(partial, dict):
            ctx.fail(f"{key}.partial", "must be a table {signals = [...], penalty = N}", needle)
        psig = tuple(_str_list(ctx, partial.get("signals", []), f"{key}.partial.signals", needle))
        ppen = _int(ctx, partial.get("penalty", 0), f"{key}.partial.penalty", needle)
        sig_lists["partial"] = psig
        fault = body.get("fault_penalty")
        if fault is not None:
            if not isinstance(fault, dict) or set(fault) - {"yes", "unknown", "no"}:
                ctx.fail(f"{key}.fault_penalty", "must be a table with keys yes, unknown, no", needle)
            fault = {k: _int(ctx, v, f"{key}.fault_penalty.{k}", needle) for k, v in fault.items()}
        public = body.get("public_penalty")
        if public is not None:
            if not isinstance(public, dict) or set(public) - {"yes", "no"}:
                ctx.fail(f"{key}.public_penalty", "must be a table with keys yes, no", needle)
            public = {k: _int(ctx, v, f"{key}.public_penalty.{k}", needle) for k, v in public.items()}
        rules.append(Rule(
            code=code, kind=kind, severity=severity, penalty=penalty,
            message_zh=body["message_zh"], message_en=body["message_en"],
            signals=sig_lists["signals"], unless=sig_lists["unless"], substance=sig_lists["substance"],
            check=check, partial_signals=psig, partial_penalty=ppen, fault_penalty=fault,
            public_penalty=public,
            penalty_per_match=_int(ctx, body.get("penalty_per_match", 0), f"{key}.penalty_per_match", needle),
            max_penalty=_int(ctx, body.get("max_penalty", 0), f"{key}.max_penalty", needle),
        ))

    amount = doc.get("amount", {})
    if not isinstance(amount, dict):
        ctx.fail("amount", "must be a table", "[amount]")
    keywords = _str_list(ctx, amount.get("keywords", []), "amount.keywords", "keywords")
    window = _int(ctx, amount.get("window", 16), "amount.window", "window", 1, 200)
    return {"lang": lang, "signals": signals, "rules": rules,
            "amount_keywords": tuple(keywords), "amount_window": window}


def _check_references(rs: RuleSet, sources: str) -> None:
    for rule in rs.rules:
        for name in (*rule.signals, *rule.unless, *rule.substance, *rule.partial_signals):
            if name not in rs.signals:
                raise RulesError(f"{sources}: rule {rule.code!r} names unknown signal {name!r}")


def build_ruleset(lang: str, extra_paths: tuple[str, ...] = ()) -> RuleSet:
    """Shipped rules for ``lang`` with any administrator files merged on top."""
    if lang not in LANGS:
        raise RulesError(f"unknown language {lang!r} (expected one of {', '.join(LANGS)})")
    paths = [str(DATA_DIR / f"rules_{lang}.toml"), *extra_paths]
    signals: dict[str, Signal] = {}
    rules: dict[str, Rule] = {}
    keywords: tuple[str, ...] = ()
    window = 16
    for p in paths:
        try:
            raw = Path(p).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RulesError(f"{p}: cannot read: {exc}") from None
        part = parse_rules(raw, p)
        if part["lang"] != lang:
            raise RulesError(f"{p}: meta.lang is {part['lang']!r} but rules for {lang!r} were asked for")
        for name, sig in part["signals"].items():
            if name in signals:
                old = signals[name]
                signals[name] = Signal(name, old.patterns + sig.patterns, old.exclude + sig.exclude,
                                       old.label_zh, old.label_en)
            else:
                signals[name] = sig
        for rule in part["rules"]:
            rules[rule.code] = rule
        keywords = tuple(dict.fromkeys(keywords + part["amount_keywords"]))
        window = part["amount_window"]
    rs = RuleSet(lang=lang, signals=signals, rules=tuple(rules.values()),
                 amount_keywords=keywords, amount_window=window, sources=tuple(paths))
    _check_references(rs, " + ".join(paths))
    return rs


@lru_cache(maxsize=16)
def load_rules(lang: str, extra_paths: tuple[str, ...] = ()) -> RuleSet:
    """Cached :func:`build_ruleset`. Call ``load_rules.cache_clear()`` after editing files."""
    return build_ruleset(lang, tuple(extra_paths))
