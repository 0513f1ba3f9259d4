"""analyze(text, **context) -> Triage: the reading of one complaint."""
from __future__ import annotations

import math
import re

from .lexicon import Hit, Lexicon, get_lexicon, prescan
from .normalize import MAX_CHARS, Normalized, detect_language, lower, normalize
from .pii import find_pii
from .result import Category, CategoryChoice, Emotion, Evidence, Label, Nature, Priority, Triage

PROFILES = ("auto4s", "finance", "ecommerce", "catering", "medical", "general")
LEXICON_ONLY = "lexicon"

_EXCL_RUN = re.compile(r"[!！]{2,}")
_QUEST_RUN = re.compile(r"[?？]{2,}")
_CAPS = re.compile(r"\b[A-Z]{4,}\b")
_THREAT = re.compile(r"我就|我会|我要|我将|就把|就去|就找|否则|不然|(让|叫)(大家|全网|所有人|全国|更多人|网友)|i will|i'll")

_LANGS = {"zh": ("zh",), "en": ("en",), "mixed": ("zh", "en"), "unknown": ("zh",)}  # signal rules read per language

_active_model = None


def set_active_model(model) -> None:
    """Use ``model`` (a ModelArtifact or None) for the category of every analyze() call
    that does not pass ``model=``.  None = lexicon rules (cold start)."""
    global _active_model
    _active_model = model


def get_active_model():
    return _active_model


def _sat(x: float) -> float:
    return 1.0 - math.exp(-max(0.0, x))


class _Ctx:
    """Per-call helpers: evidence building with offset mapping."""

    def __init__(self, norm: Normalized):
        self.norm = norm

    def ev(self, hit: Hit) -> Evidence:
        a, b = self.norm.to_original(hit.start, hit.end)
        return Evidence(self.norm.original[a:b], a, b, hit.start, hit.end, hit.rule_id, "lexicon")

    def ev_span(self, start: int, end: int, rule: str, source: str) -> Evidence:
        a, b = self.norm.to_original(start, end)
        return Evidence(self.norm.original[a:b], a, b, start, end, rule, source)


def _dedupe(hits: list[Hit]) -> list[Hit]:
    """Per (signal,label): drop a hit whose span lies inside another hit's span."""
    hits = sorted(hits, key=lambda h: (h.signal, h.label, h.start, -(h.end - h.start)))
    out: list[Hit] = []
    last: dict[tuple, int] = {}
    for h in hits:
        key = (h.signal, h.label)
        if last.get(key, -1) >= h.end:
            continue
        out.append(h)
        last[key] = max(last.get(key, -1), h.end)
    return out


def _names(lex: Lexicon, group: str, code: str) -> tuple[str, str]:
    entry = lex.labels.get(group, {}).get(code, {})
    return entry.get("zh", code), entry.get("en", code)


def _choice(lex: Lexicon, profile: str, label: str, conf: float) -> CategoryChoice:
    key = (profile, label)
    names = lex.choice_names.get(key)
    if names is None:  # the names of a label, once per lexicon
        entry = lex.category_entry(profile, label)
        if entry is None:
            l1 = "other"
            names = (l1, lex.level1[l1]["zh"], lex.level1[l1]["en"], None, None, None, str(label))
        else:
            l1 = entry.parent
            names = (l1, lex.level1[l1]["zh"], lex.level1[l1]["en"], entry.code, entry.zh, entry.en, str(label))
        if isinstance(label, str) and len(lex.choice_names) < 10_000:
            lex.choice_names[key] = names
    return CategoryChoice(*names, conf)


def _category_lexicon(lex: Lexicon, profile: str, low: str, ctx: _Ctx) -> Category:
    matcher = lex.category_matchers.get(profile) or lex.category_matchers["general"]
    hits = _dedupe(matcher.find(low))
    scores: dict[str, float] = {}
    evid: dict[str, list[Hit]] = {}
    for h in hits:
        # Longer phrases say more than single characters.
        w = 0.6 + 0.2 * min(len(h.text), 4)
        scores[h.label] = scores.get(h.label, 0.0) + w
        evid.setdefault(h.label, []).append(h)
    if not scores:
        other = "other" if "other" in lex.profiles.get(profile, {}) else None
        ch = _choice(lex, profile, other or "other", 0.2)
        return Category(ch, (), "lexicon", profile, ())
    total = sum(scores.values())
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    choices = [_choice(lex, profile, code, (s / total) * _sat(total)) for code, s in ranked[:3]]
    evidence = tuple(ctx.ev(h) for h in evid[ranked[0][0]][:8])
    return Category(choices[0], tuple(choices[1:]), "lexicon", profile, evidence)


def _category_model(lex: Lexicon, profile: str, model, norm_low: str, ctx: _Ctx) -> Category:
    top, feats = model.predict_explain(norm_low, k=3)
    prof = model.profile or profile
    choices = [_choice(lex, prof, label, conf) for label, conf in top]
    evidence = []
    for feat, _weight in feats:
        if feat.startswith("lex:"):
            evidence.append(Evidence(feat[4:], None, None, None, None, feat, "model"))
            continue
        tok = feat[2:] if feat.startswith("w:") else feat
        i = norm_low.find(tok) if tok.strip() else -1
        if i >= 0:
            evidence.append(ctx.ev_span(i, i + len(tok), f"model:{feat}", "model"))
        else:
            evidence.append(Evidence(tok, None, None, None, None, f"model:{feat}", "model"))
    return Category(choices[0], tuple(choices[1:]), "model", prof, tuple(evidence))


def analyze(text, *, channel: str | None = None, subject: str | None = None, profile: str | None = None,
            repeat_count: int = 0, history_count: int = 0, duplicate_count: int = 0,
            model=None, extra_dirs=None, lexicon: Lexicon | None = None, max_chars: int = MAX_CHARS,
            **_ignored) -> Triage:
    """Read one complaint.  Never raises on any input text.

    ``subject`` is analysed together with the text (appended after a newline unless the
    text already contains it), so evidence offsets below ``len(text)`` index the text
    itself and larger ones point into the subject.  ``repeat_count``: earlier
    complaints by this customer about the same matter; ``history_count``: all earlier
    complaints by the customer; ``duplicate_count``: identical texts received from others.
    ``model``: a ModelArtifact, or "lexicon" to force the rules; default: the active model
    (set_active_model), else the lexicon rules.
    """
    try:
        return _analyze(text, channel, subject, profile, repeat_count, history_count, duplicate_count,
                        model, extra_dirs, lexicon, max_chars)
    except Exception as exc:  # pragma: no cover - last resort: never raise on user text
        return _fallback(text, exc, lexicon or get_lexicon(extra_dirs))


def _as_int(v) -> int:
    try:
        return max(0, int(v or 0))
    except (TypeError, ValueError):
        return 0


def _analyze(text, channel, subject, profile, repeat_count, history_count, duplicate_count,
             model, extra_dirs, lexicon, max_chars) -> Triage:
    lex = lexicon or get_lexicon(extra_dirs)
    notes: list[str] = []
    if not isinstance(text, str):
        text = "" if text is None else (text.decode("utf-8", "replace") if isinstance(text, (bytes, bytearray)) else str(text))
    if subject and isinstance(subject, str) and subject.strip() and subject.strip() not in text:
        text = text + "\n" + subject.strip()
    profile = profile if profile in lex.profiles else ("general" if profile is None else _unknown_profile(profile, notes))
    repeat_count, history_count, duplicate_count = _as_int(repeat_count), _as_int(history_count), _as_int(duplicate_count)
    norm = normalize(text, max_chars=max_chars)
    if norm.truncated:
        notes.append(f"truncated: analysed the first {max_chars} of {norm.original_length} characters")
    ctx = _Ctx(norm)
    low = lower(norm.text)
    lang = detect_language(low)
    langs = _LANGS[lang]
    if model is None:
        model = _active_model
    use_model = model is not None and model != LEXICON_ONLY and hasattr(model, "predict_explain")
    # One scan of the text for the signal rules and the category terms (the model's
    # lexicon features, or the profile's terms for the lexicon rules).
    category_matcher = (getattr(model, "lexicon_matcher", None) if use_model
                        else lex.category_matchers.get(profile) or lex.category_matchers["general"])
    prescan(low, [lex.signal_matchers[lg] for lg in langs] + [category_matcher])
    hits: list[Hit] = []
    for lg in langs:
        hits.extend(lex.signal_matchers[lg].find(low))
    hits = _dedupe(hits)
    by: dict[tuple[str, str], list[Hit]] = {}
    sums: dict[tuple[str, str], float] = {}
    for h in hits:
        key = (h.signal, h.label)
        by.setdefault(key, []).append(h)
        sums[key] = sums.get(key, 0) + h.weight

    def wsum(signal, label):
        return sums.get((signal, label), 0)

    t = norm.text
    excl_runs = list(_EXCL_RUN.finditer(t)) if "!" in t or "！" in t else []
    quest_runs = list(_QUEST_RUN.finditer(t)) if "?" in t or "？" in t else []
    caps = _CAPS.findall(norm.text) if lang in ("en", "mixed") else []

    # ---------------------------------------------------------------- crisis signals
    signals: list[Label] = []
    ctx_evidence: dict[str, list[Evidence]] = {}
    raw_sig = {code: sums.get(("crisis", code), 0) for code in ("safety", "media", "legal", "regulator", "group", "repeat")}
    if repeat_count >= 1:
        raw_sig["repeat"] += 1.0
        ctx_evidence.setdefault("repeat", []).append(Evidence(f"repeat_count={repeat_count}", None, None, None, None, "context.repeat_count", "context"))
    if channel == "regulator":
        raw_sig["regulator"] += 1.0
        ctx_evidence.setdefault("regulator", []).append(Evidence("channel=regulator", None, None, None, None, "context.channel", "context"))
    if channel == "social":
        raw_sig["media"] += 0.7
        ctx_evidence.setdefault("media", []).append(Evidence("channel=social", None, None, None, None, "context.channel", "context"))
    if duplicate_count >= 3:
        raw_sig["group"] += 0.7
        ctx_evidence.setdefault("group", []).append(Evidence(f"duplicate_count={duplicate_count}", None, None, None, None, "context.duplicate_count", "context"))
    for code, raw in raw_sig.items():
        if raw >= 0.7:
            zh, en = _names(lex, "crisis", code)
            ev = [ctx.ev(h) for h in by.get(("crisis", code), ())[:8]] + ctx_evidence.get(code, [])
            signals.append(Label(code, zh, en, _sat(raw), tuple(ev)))
    sig = {s.code for s in signals}

    # ---------------------------------------------------------------- emotion
    emo_raw = {code: sums.get(("emotion", code), 0) for code in ("anger", "anxiety", "disappointment", "grievance", "calm")}
    if "safety" in sig:
        emo_raw["anxiety"] += 0.6
    if repeat_count >= 1 or "repeat" in sig:
        emo_raw["grievance"] += 0.3
        emo_raw["anger"] += 0.2
    boost = wsum("intensity", "boost")
    intensity_raw = (
        0.3 * sum(v for k, v in emo_raw.items() if k != "calm")
        + 0.45 * boost
        + 0.5 * min(len(excl_runs), 4)
        + 0.1 * min(norm.text.count("!") + norm.text.count("！"), 10)
        + 0.25 * min(len(quest_runs), 3)
        + 0.3 * min(len(caps), 5)
        + 0.3 * len(sig & {"media", "legal", "regulator"})
        + 0.25 * min(repeat_count, 4)
    )
    if excl_runs:
        emo_raw["anger"] += 0.3 * min(len(excl_runs), 3)
    intensity = round(_sat(intensity_raw / 1.6), 3)
    negative = {k: v for k, v in emo_raw.items() if k != "calm"}
    best = max(negative, key=lambda k: negative[k])
    if negative[best] >= 0.6 and intensity >= 0.15:
        emotion_code = best
    else:
        emotion_code = "calm"
    zh, en = _names(lex, "emotion", emotion_code)
    emo_evidence = [ctx.ev(h) for h in by.get(("emotion", emotion_code), ())[:6]]
    for m in excl_runs[:3]:
        emo_evidence.append(ctx.ev_span(m.start(), m.end(), "feature.exclamation_run", "feature"))
    for h in by.get(("intensity", "boost"), ())[:4]:
        emo_evidence.append(ctx.ev(h))
    if repeat_count:
        emo_evidence.append(Evidence(f"repeat_count={repeat_count}", None, None, None, None, "context.repeat_count", "context"))
    emotion = Emotion(emotion_code, zh, en, intensity, {k: round(_sat(v), 3) for k, v in emo_raw.items()}, tuple(emo_evidence))

    # ---------------------------------------------------------------- personas
    p_raw = {code: sums.get(("persona", code), 0) for code in ("emotional", "righteous", "stubborn", "prepared", "self_important", "influential")}
    # Evidence beyond the persona's own lexicon hits; the hits' evidence is built only
    # for the personas given.
    p_ev: dict[str, list[Evidence]] = {c: [] for c in p_raw}
    if intensity >= 0.75:
        p_raw["emotional"] += 0.4
        p_ev["emotional"].append(Evidence(f"intensity={intensity}", None, None, None, None, "feature.intensity", "feature"))
    if by.get(("intensity", "boost")) and any(h.rule_id.endswith("insult") for h in by[("intensity", "boost")]):
        p_raw["emotional"] += 0.8
    if repeat_count >= 2:
        p_raw["stubborn"] += 0.5
        p_ev["stubborn"].append(Evidence(f"repeat_count={repeat_count}", None, None, None, None, "context.repeat_count", "context"))
    media_hits = by.get(("crisis", "media"), ())
    if media_hits:
        # Threatening to publicise is the mark of the 有宣传能力者 type.
        p_raw["influential"] += min(0.8, 0.4 * len(media_hits))
        p_ev["influential"].extend(ctx.ev(h) for h in media_hits[:3])
        threat = _THREAT.search(norm.text)
        if threat and raw_sig["media"] >= 0.7:
            p_raw["influential"] += 0.4
            p_ev["influential"].append(ctx.ev_span(threat.start(), threat.end(), "feature.publicity_threat", "feature"))
    personas: list[Label] = []
    for code, raw in p_raw.items():
        if raw >= 0.75:
            zh, en = _names(lex, "persona", code)
            ev = [ctx.ev(h) for h in by.get(("persona", code), ())[:6]] + p_ev[code]
            personas.append(Label(code, zh, en, _sat(raw), tuple(ev)))
    personas.sort(key=lambda p: -p.score)
    if not personas:
        zh, en = _names(lex, "persona", "ordinary")
        personas.append(Label("ordinary", zh, en, 1.0, ()))
    pcodes = {p.code for p in personas}

    # ---------------------------------------------------------------- nature
    reasons: list[Label] = []
    for code in ("extortion", "excessive_demand", "abuse"):
        hs = by.get(("nature", code), ())
        if hs:
            zh, en = _names(lex, "nature_reason", code)
            reasons.append(Label(code, zh, en, _sat(sum(h.weight for h in hs) * 1.5), tuple(ctx.ev(h) for h in hs[:4])))
    if duplicate_count >= 3:
        zh, en = _names(lex, "nature_reason", "mass_copy")
        reasons.append(Label("mass_copy", zh, en, _sat(duplicate_count / 3), (Evidence(f"duplicate_count={duplicate_count}", None, None, None, None, "context.duplicate_count", "context"),)))
    ncode = "suspected_malicious" if reasons else "good_faith"
    zh, en = _names(lex, "nature", ncode)
    nature = Nature(ncode, zh, en, tuple(reasons), "supervisor_review" if reasons else None)

    # ---------------------------------------------------------------- category
    if use_model:
        category = _category_model(lex, profile, model, low, ctx)
        model_version = getattr(model, "version", None) or "model"
    else:
        category = _category_lexicon(lex, profile, low, ctx)
        model_version = "lexicon"

    # ---------------------------------------------------------------- priority
    priority = _priority(lex, signals, pcodes, intensity, nature, repeat_count)

    # ---------------------------------------------------------------- PII (original offsets)
    pii = []
    for s in find_pii(norm.original):
        zh, en = _names(lex, "pii", s.kind)
        pii.append({"kind": s.kind, "zh": zh, "start": s.start, "end": s.end})

    advice = _advice(lex, personas, emotion_code, sig, ncode)
    if lang == "unknown" and not norm.text:
        notes.append("empty text: nothing to analyse")
    return Triage(
        language=lang, category=category, nature=nature, emotion=emotion, personas=tuple(personas),
        signals=tuple(signals), priority=priority, pii=tuple(pii), advice=advice,
        model_version=model_version, lexicon_version=lex.version, text_length=norm.original_length,
        truncated=norm.truncated, notes=tuple(notes),
    )


def _unknown_profile(profile, notes) -> str:
    notes.append(f"unknown profile {str(profile)[:40]!r}: used 'general'")
    return "general"


def _priority(lex, signals, pcodes, intensity, nature, repeat_count) -> Priority:
    sig = {s.code: s for s in signals}
    names = {s.code: s.zh for s in signals}
    words = {s.code: (s.evidence[0].text if s.evidence and s.evidence[0].source == "lexicon" else s.zh) for s in signals}
    why: list[str] = []
    why_en: list[str] = []
    if "safety" in sig:
        code = "P1"
        terms = "、".join(dict.fromkeys(e.text for e in sig["safety"].evidence if e.source == "lexicon"))[:40]
        why.append(f"涉及人身安全（{terms or names['safety']}）")
        why_en.append("safety or health at risk")
    elif "group" in sig and ({"media", "legal", "regulator"} & sig.keys()):
        code = "P1"
        other = next(c for c in ("media", "legal", "regulator") if c in sig)
        why.append(f"群体投诉并{names[other]}（{words['group']}、{words[other]}）")
        why_en.append(f"group complaint with {other}")
    elif "media" in sig and "influential" in pcodes and intensity >= 0.6:
        code = "P1"
        why.append(f"有宣传能力的客户扬言曝光（{words['media']}），情绪强烈")
        why_en.append("influential customer threatening publicity, strong emotion")
    else:
        code = None
    if code is None:
        ext = [c for c in ("media", "legal", "regulator", "group") if c in sig]
        if ext:
            code = "P2"
            why.append("、".join(f"{names[c]}（{words[c]}）" for c in ext))
            why_en.append(", ".join(ext))
        elif "influential" in pcodes:
            code = "P2"
            why.append("客户有社会背景/宣传能力")
            why_en.append("influential customer")
        elif intensity >= 0.75:
            code = "P2"
            why.append(f"情绪强烈（强度 {intensity:.2f}）")
            why_en.append(f"strong emotion ({intensity:.2f})")
        elif "repeat" in sig and intensity >= 0.5:
            code = "P2"
            why.append("重复投诉且情绪明显")
            why_en.append("repeat complaint with clear emotion")
        elif nature.code == "suspected_malicious":
            code = "P2"
            why.append("疑似恶意投诉，需主管复核")
            why_en.append("suspected malicious: supervisor review")
        elif "repeat" in sig or intensity >= 0.4 or (pcodes - {"ordinary"}):
            code = "P3"
            if "repeat" in sig:
                why.append("重复投诉")
                why_en.append("repeat complaint")
            if intensity >= 0.4:
                why.append(f"有一定情绪（强度 {intensity:.2f}）")
                why_en.append(f"some emotion ({intensity:.2f})")
            if pcodes - {"ordinary"} and not why:
                why.append("客户类型需留意：" + "、".join(lex.name("persona", p) for p in sorted(pcodes - {"ordinary"})))
                why_en.append("persona needs care")
        else:
            code = "P4"
            why.append("未发现危机信号，情绪平稳")
            why_en.append("no crisis signal, calm")
    if nature.code == "suspected_malicious" and code in ("P1", "P3", "P4") and not any("恶意" in w for w in why):
        why.append("另：疑似恶意，需主管复核")
        why_en.append("also suspected malicious")
    zh, en = _names(lex, "priority", code)
    return Priority(code, zh, en, f"{code}：" + "；".join(why), f"{code}: " + "; ".join(why_en))


def _advice(lex, personas, emotion_code, sig, ncode) -> dict:
    adv = lex.advice
    cards = []
    for p in personas[:3]:
        card = adv.get("persona", {}).get(p.code)
        if card:
            cards.append({"kind": "persona", "code": p.code, "title": card.get("title", ""), "tips": list(card.get("tips", []))})
    card = adv.get("emotion", {}).get(emotion_code)
    if card:
        cards.append({"kind": "emotion", "code": emotion_code, "title": card.get("title", ""), "tips": list(card.get("tips", []))})
    for code in ("safety", "media", "legal", "regulator", "group", "repeat"):
        if code in sig:
            card = adv.get("signal", {}).get(code)
            if card:
                cards.append({"kind": "signal", "code": code, "title": card.get("title", ""), "tips": list(card.get("tips", []))})
    if ncode != "good_faith":
        card = adv.get("nature", {}).get(ncode)
        if card:
            cards.append({"kind": "nature", "code": ncode, "title": card.get("title", ""), "tips": list(card.get("tips", []))})
    meta = adv.get("meta", {})
    return {"header": meta.get("header", "先处理心情，再处理事情"), "header_en": meta.get("header_en", ""), "cards": cards}


def _fallback(text, exc, lex) -> Triage:  # pragma: no cover - only on an internal bug
    n = len(text) if isinstance(text, str) else 0
    l1 = lex.level1["other"]
    ch = CategoryChoice("other", l1["zh"], l1["en"], None, None, None, "other", 0.0)
    zh, en = _names(lex, "priority", "P3")
    return Triage(
        language="unknown", category=Category(ch, (), "lexicon", "general", ()),
        nature=Nature("good_faith", *_names(lex, "nature", "good_faith"), (), None),
        emotion=Emotion("calm", *_names(lex, "emotion", "calm"), 0.0, {}, ()),
        personas=(Label("ordinary", *_names(lex, "persona", "ordinary"), 1.0, ()),), signals=(),
        priority=Priority("P3", zh, en, "P3：自动分析失败，请人工判断", "P3: automatic analysis failed, review by hand"),
        pii=(), advice=_advice(lex, [], "calm", set(), "good_faith"), model_version="error",
        lexicon_version=lex.version, text_length=n, truncated=False,
        notes=(f"analysis error: {type(exc).__name__}",),
    )
