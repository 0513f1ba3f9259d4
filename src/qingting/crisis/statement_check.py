"""Statement check for crisis communications (pure Python: no Django import).

The reply checker (`qingting.coaching.checker.check_reply`, when installed) scores the text
with its own rules; the crisis rules in `data/statement_rules.toml` add warnings for blaming
customers, speculation presented as fact, absolute guarantees, and missing "what we are doing,
by when, where to get help". Never raises; bounded time on huge input.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

MAX_CHARS = 50_000


@dataclass(frozen=True)
class Rule:
    code: str
    kind: str  # risk | required
    message_zh: str
    message_en: str
    patterns: tuple[re.Pattern, ...] = field(default_factory=tuple)


class RulesError(ValueError):
    pass


def parse_rules(text: str, source: str = "statement_rules.toml") -> tuple[Rule, ...]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{source}: invalid TOML: {exc}") from exc
    out, seen = [], set()
    for kind in ("risk", "required"):
        for i, r in enumerate(data.get(kind, []), 1):
            where = f"{source}: [[{kind}]] #{i}"
            for key in ("code", "message_zh", "message_en", "patterns"):
                if key not in r:
                    raise RulesError(f"{where}: missing key {key!r}")
            if r["code"] in seen:
                raise RulesError(f"{where}: duplicate code {r['code']!r}")
            seen.add(r["code"])
            pats = []
            for p in r["patterns"]:
                try:
                    pats.append(re.compile(p, re.IGNORECASE))
                except re.error as exc:
                    raise RulesError(f"{where} ({r['code']}): bad pattern {p!r}: {exc}") from exc
            out.append(Rule(r["code"], kind, r["message_zh"], r["message_en"], tuple(pats)))
    return tuple(out)


@lru_cache(maxsize=1)
def default_rules() -> tuple[Rule, ...]:
    text = resources.files("qingting.crisis").joinpath("data/statement_rules.toml").read_text(encoding="utf-8")
    return parse_rules(text, "qingting/crisis/data/statement_rules.toml")


def check_statement(text, *, kind: str = "full", rules: tuple[Rule, ...] | None = None) -> dict:
    """{"ok": bool, "score": int | None, "findings": [{code, severity, message_zh, message_en, excerpt}]}."""
    try:
        return _check(text, kind, rules)
    except Exception as exc:  # noqa: BLE001 — a check never blocks the editor
        return {"ok": False, "score": None, "findings": [{
            "code": "checker_error", "severity": "info", "source": "crisis",
            "message_zh": f"检查失败：{type(exc).__name__}", "message_en": f"Check failed: {type(exc).__name__}",
            "excerpt": ""}]}


def _check(text, kind, rules) -> dict:
    text = "" if text is None else str(text)
    work = text[:MAX_CHARS]
    findings = []
    for rule in rules or default_rules():
        if rule.kind == "risk":
            for pat in rule.patterns:
                m = pat.search(work)
                if m:
                    findings.append({"code": rule.code, "severity": "warning", "source": "crisis",
                                     "message_zh": rule.message_zh, "message_en": rule.message_en,
                                     "excerpt": m.group(0)})
                    break
        elif kind != "qa" or rule.code != "missing_when":
            if not any(p.search(work) for p in rule.patterns):
                findings.append({"code": rule.code, "severity": "warning", "source": "crisis",
                                 "message_zh": rule.message_zh, "message_en": rule.message_en, "excerpt": ""})
    score = None
    try:
        from qingting.coaching.checker import (
            check_reply,  # pure core shared with the reply checker
        )
    except ImportError:
        check_reply = None
    if check_reply is not None:
        result = check_reply(work, context={"public": True, "audience": "public"})
        score = result.score
        for f in result.findings:
            if f.severity in ("warning", "error") and f.kind in ("risk", "builtin"):
                findings.append({"code": f"reply.{f.code}", "severity": f.severity, "source": "reply_checker",
                                 "message_zh": f.message_zh, "message_en": f.message_en,
                                 "excerpt": "".join(work[a:b] for a, b in f.spans[:1])})
    if len(text) > MAX_CHARS:
        findings.append({"code": "truncated", "severity": "info", "source": "crisis",
                         "message_zh": f"声明过长，只检查了前 {MAX_CHARS} 个字符", "message_en": "Only the start was checked",
                         "excerpt": ""})
    return {"ok": not any(f["severity"] in ("warning", "error") for f in findings), "score": score,
            "findings": findings}
