"""Reply checker (pure Python: no Django import, not even indirectly).

``check_reply(text, lang=None, context=None) -> ReplyCheck`` scores a reply to a
customer 0–100 and lists findings, each with a stable code, a severity, a Chinese and an
English message and the spans (start, end) in ``text`` it refers to. What it looks for is
data (``data/rules_zh.toml``, ``data/rules_en.toml``); the few checks that need code
(personal data with checksums, amounts against the approval limit) are here.

Context keys (all optional):
  fault           True (we are at fault: an apology is expected), False, None (unknown)
  approval_limit  number: an offered amount above it is flagged
  public          True/False: the reply will be published (default True)
  channel         a channel code; "social" and "web" count as public unless public=False
  rules           tuple of extra rules file paths merged over the shipped ones

Never raises on any input; on text longer than MAX_CHARS only the first MAX_CHARS are
checked (and an info finding says so), which keeps the time bounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .rules import RuleSet, load_rules

MAX_CHARS = 50_000
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}

# full-width ASCII (！..～) and the ideographic space read as their half-width forms;
# one character for one character, so spans stay valid in the original text
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20


@dataclass
class Finding:
    code: str
    kind: str            # missing | risk | bare_ack | builtin | info
    severity: str        # info | warning | error
    message_zh: str
    message_en: str
    spans: list[tuple[int, int]] = field(default_factory=list)
    penalty: int = 0

    def to_dict(self) -> dict:
        return {"code": self.code, "kind": self.kind, "severity": self.severity,
                "message_zh": self.message_zh, "message_en": self.message_en,
                "spans": [list(s) for s in self.spans], "penalty": self.penalty}


@dataclass
class ReplyCheck:
    score: int
    lang: str
    findings: list[Finding] = field(default_factory=list)
    signals: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    truncated: bool = False

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def has(self, signal: str) -> bool:
        return bool(self.signals.get(signal))

    def to_dict(self) -> dict:
        return {"score": self.score, "lang": self.lang, "truncated": self.truncated,
                "findings": [f.to_dict() for f in self.findings],
                "signals": {k: [list(s) for s in v] for k, v in self.signals.items()}}


# ---------------------------------------------------------------- helpers

def detect_language(text: str) -> str:
    sample = text[:4000]
    cjk = sum(1 for ch in sample if "\u4e00" <= ch <= "\u9fff")
    latin = sum(1 for ch in sample if ch.isascii() and ch.isalpha())
    return "zh" if cjk >= 2 and cjk * 4 >= latin * 0.5 else ("zh" if latin == 0 else "en")


def normalize(text: str) -> str:
    """Same length as ``text``: full-width forms to half-width."""
    return text.translate(_FULLWIDTH)


def _overlaps(a: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(a[0] < e and s < a[1] for s, e in spans)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def detect_signals(text: str, rules: RuleSet) -> dict[str, list[tuple[int, int]]]:
    """Spans of every signal of ``rules`` in (already normalised) ``text``."""
    found: dict[str, list[tuple[int, int]]] = {}
    for name, sig in rules.signals.items():
        spans = [m.span() for p in sig.patterns for m in p.finditer(text) if m.end() > m.start()]
        if spans and sig.exclude:
            excl = [m.span() for p in sig.exclude for m in p.finditer(text)]
            spans = [s for s in spans if not _overlaps(s, excl)]
        found[name] = _merge(spans)
    # what a bare acknowledgement says ("已转相关部门调查处理") is not substance
    for rule in rules.rules:
        if rule.kind == "bare_ack":
            bare = [s for n in rule.signals for s in found.get(n, [])]
            for n in rule.substance:
                found[n] = [s for s in found.get(n, []) if not _overlaps(s, bare)]
    return found


# ---------------------------------------------------------------- personal data

_MOBILE = re.compile(r"(?<![\d])(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?![\d])")
_ID = re.compile(r"(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])")
_CARD = re.compile(r"(?<![\d])\d(?:[ -]?\d){15,18}(?![\d])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,5}\.[A-Za-z]{2,24}")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def valid_id_number(s: str) -> bool:
    """Mainland resident ID (18 characters): plausible birth date and ISO 7064 check digit."""
    if len(s) != 18 or not s[:17].isdigit():
        return False
    year, month, day = int(s[6:10]), int(s[10:12]), int(s[12:14])
    if not (1900 <= year <= 2100 and 1 <= month <= 12 and 1 <= day <= 31):
        return False
    total = sum(int(c) * w for c, w in zip(s[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == s[17].upper()


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def find_personal_data(text: str) -> list[tuple[str, int, int]]:
    """(kind, start, end) of mobiles, ID numbers, bank cards (Luhn) and emails."""
    found: list[tuple[str, int, int]] = []
    taken: list[tuple[int, int]] = []
    for m in _ID.finditer(text):
        if valid_id_number(m.group()):
            found.append(("id_number", *m.span()))
            taken.append(m.span())
    for m in _CARD.finditer(text):
        digits = re.sub(r"[ -]", "", m.group())
        if 16 <= len(digits) <= 19 and not _overlaps(m.span(), taken) and luhn_ok(digits) \
                and len(set(digits)) > 1:
            found.append(("bank_card", *m.span()))
            taken.append(m.span())
    for m in _MOBILE.finditer(text):
        if not _overlaps(m.span(), taken):
            found.append(("mobile", *m.span()))
            taken.append(m.span())
    for m in _EMAIL.finditer(text):
        found.append(("email", *m.span()))
    return sorted(found, key=lambda t: t[1])


# ---------------------------------------------------------------- amounts

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_CN_NUM = r"[零〇一二两三四五六七八九十百千万]{1,12}"
_AMOUNT_ZH = re.compile(
    rf"(?:[¥￥]|人民币|RMB)\s*(?P<a>{_NUM})\s*(?P<aw>万)?"
    rf"|(?P<b>{_NUM})\s*(?P<bw>万)?\s*(?:元|块|圆)"
    rf"|(?P<c>{_CN_NUM})\s*(?:元|块|圆)")
_AMOUNT_EN = re.compile(
    rf"(?:[$¥￥]|\b(?:usd|rmb|cny|us\$)\s?)\s*(?P<a>{_NUM})(?P<aw>k)?"
    rf"|(?P<b>{_NUM})(?P<bw>k)?\s*(?:dollars|bucks|usd|yuan|rmb)\b", re.IGNORECASE)


def parse_chinese_number(s: str) -> float | None:
    """一万五千 → 15000, 五百 → 500, 两千 → 2000, 三 → 3; None when not a number."""
    if not s:
        return None
    total, section, number = 0, 0, 0
    seen = False
    for ch in s:
        if ch in _CN_DIGITS:
            number = _CN_DIGITS[ch]
            seen = True
        elif ch in _CN_UNITS:
            section += (number or (1 if not seen or number == 0 else number)) * _CN_UNITS[ch]
            number = 0
            seen = True
        elif ch == "万":
            total += (section + number) * 10000
            section, number = 0, 0
            seen = True
        else:
            return None
    return float(total + section + number) if seen else None


def find_amounts(text: str, lang: str) -> list[tuple[float, int, int]]:
    out = []
    pattern = _AMOUNT_ZH if lang == "zh" else _AMOUNT_EN
    for m in pattern.finditer(text):
        gd = m.groupdict()
        value = None
        if gd.get("a") or gd.get("b"):
            raw = (gd.get("a") or gd.get("b")).replace(",", "")
            try:
                value = float(raw)
            except ValueError:
                continue
            mult = gd.get("aw") or gd.get("bw")
            if mult == "万":
                value *= 10000
            elif mult and mult.lower() == "k":
                value *= 1000
        elif gd.get("c"):
            value = parse_chinese_number(gd["c"])
        if value is not None:
            out.append((value, m.start(), m.end()))
    return out


def _offered_amounts(text: str, rules: RuleSet) -> list[tuple[float, int, int]]:
    if not rules.amount_keywords:
        return []
    kw = re.compile("|".join(re.escape(k) for k in rules.amount_keywords),
                    re.IGNORECASE if rules.lang == "en" else 0)
    keyword_spans = [m.span() for m in kw.finditer(text)]
    w = rules.amount_window
    return [(v, s, e) for v, s, e in find_amounts(text, rules.lang)
            if any(ks < e + w and s - w < ke for ks, ke in keyword_spans)]


# ---------------------------------------------------------------- scoring

def _fault_key(fault) -> str:
    if fault is True:
        return "yes"
    if fault is False:
        return "no"
    return "unknown"


def _is_public(context: dict) -> bool:
    if context.get("public") is not None:
        return bool(context["public"])
    return True


def _evaluate(text: str, original: str, rules: RuleSet, context: dict) -> tuple[list[Finding], dict]:
    signals = detect_signals(text, rules)
    findings: list[Finding] = []

    def add(rule, spans, penalty, severity=None):
        findings.append(Finding(rule.code, rule.kind, severity or rule.severity,
                                rule.message_zh, rule.message_en, list(spans), penalty))

    for rule in rules.rules:
        if rule.kind == "builtin":
            if rule.check == "personal_data":
                hits = find_personal_data(text)
                if hits:
                    if rule.public_penalty:
                        pen = rule.public_penalty.get("yes" if _is_public(context) else "no", rule.penalty)
                    else:
                        pen = rule.penalty
                    sev = rule.severity if _is_public(context) else "warning"
                    add(rule, [(s, e) for _, s, e in hits], pen, sev)
            elif rule.check == "amount_over_limit":
                limit = context.get("approval_limit")
                if isinstance(limit, (int, float)) and not isinstance(limit, bool):
                    over = [(s, e) for v, s, e in _offered_amounts(text, rules) if v > limit]
                    if over:
                        add(rule, over, rule.penalty)
            continue  # "empty" is handled before evaluation
        present = [s for n in rule.signals for s in signals.get(n, [])]
        if rule.kind == "missing":
            if present:
                continue
            penalty = rule.penalty
            severity = rule.severity
            if rule.fault_penalty is not None:
                key = _fault_key(context.get("fault"))
                penalty = rule.fault_penalty.get(key, rule.penalty)
                if penalty == 0:
                    continue
                if key == "unknown":
                    severity = "info"
            if rule.partial_signals and any(signals.get(n) for n in rule.partial_signals):
                penalty = min(penalty, rule.partial_penalty)
                severity = "info"
            add(rule, [], penalty, severity)
        elif rule.kind == "risk":
            if not present:
                continue
            if rule.unless and any(signals.get(n) for n in rule.unless):
                continue
            penalty = rule.penalty
            if rule.penalty_per_match:
                penalty = rule.penalty_per_match * len(present)
                if rule.max_penalty:
                    penalty = min(penalty, rule.max_penalty)
            add(rule, _merge(present), penalty)
        elif rule.kind == "bare_ack":
            if present and not any(signals.get(n) for n in rule.substance):
                add(rule, _merge(present), rule.penalty)
    return findings, signals


def _empty_rule(rules: RuleSet):
    for r in rules.rules:
        if r.kind == "builtin" and r.check == "empty":
            return r
    return None


def check_reply(text, *, lang: str | None = None, context: dict | None = None) -> ReplyCheck:
    """Score a reply 0–100 with findings. Never raises."""
    try:
        return _check(text, lang, context or {})
    except Exception as exc:  # noqa: BLE001 — the checker must never break an editor
        return ReplyCheck(score=0, lang=lang or "zh", findings=[Finding(
            "checker_error", "info", "error", f"检查失败：{type(exc).__name__}: {exc}",
            f"Checker failed: {type(exc).__name__}: {exc}")])


def _check(text, lang, context) -> ReplyCheck:
    if text is None:
        text = ""
    if not isinstance(text, str):
        text = str(text)
    if not isinstance(context, dict):
        context = {}
    lang = lang if lang in ("zh", "en") else detect_language(text)
    rules = load_rules(lang, tuple(context.get("rules") or ()))
    truncated = len(text) > MAX_CHARS
    work = normalize(text[:MAX_CHARS])
    if not work.strip():
        rule = _empty_rule(rules)
        findings = [Finding(rule.code, rule.kind, rule.severity, rule.message_zh, rule.message_en,
                            [], rule.penalty)] if rule else []
        return ReplyCheck(score=0, lang=lang, findings=findings)
    findings, signals = _evaluate(work, text, rules, context)
    score = 100 - sum(f.penalty for f in findings)
    if truncated:
        findings.append(Finding("truncated", "info", "info",
                                f"答复过长，只检查了前 {MAX_CHARS} 个字符。",
                                f"The reply is very long: only the first {MAX_CHARS} characters were checked."))
    findings.sort(key=lambda f: (SEVERITY_ORDER.get(f.severity, 3), -f.penalty))
    return ReplyCheck(score=max(0, min(100, score)), lang=lang, findings=findings,
                      signals={k: v for k, v in signals.items() if v}, truncated=truncated)
