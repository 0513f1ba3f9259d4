"""Lexicons and rules as data: loading, validation and matching.

Built-in files live in ``qingting/triage/data/`` (``labels.toml``, ``advice.toml``,
``taxonomy.toml``, ``zh/*.toml``, ``en/*.toml``).  Administrators add files in extra
directories (``extra_dirs`` argument, or the ``QINGTING_TRIAGE_EXTRA_DIR`` environment
variable, several separated by ``os.pathsep``):

* a file with ``[[rule]]`` tables adds signal rules (``[meta] lang = "zh"`` or ``"en"``);
  a rule whose ``id`` equals a built-in one replaces it, ``enabled = false`` switches it off;
* a file with ``[[profile.<code>]]`` tables adds level-2 categories, or extra ``terms``
  for an existing level-2 ``code`` of that profile.

Every problem is reported as :class:`LexiconError` naming the file, the line (where it
can be found) and the key.
"""
from __future__ import annotations

import hashlib
import os
import re
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from .textcodes import PairFilter, pair_key

DATA_DIR = Path(__file__).with_name("data")
ENV_EXTRA = "QINGTING_TRIAGE_EXTRA_DIR"

SIGNALS = {
    "crisis": {"safety", "media", "legal", "regulator", "group", "repeat"},
    "persona": {"emotional", "righteous", "stubborn", "prepared", "self_important", "influential"},
    "emotion": {"anger", "anxiety", "disappointment", "grievance", "calm"},
    "intensity": {"boost"},
    "nature": {"extortion", "excessive_demand", "abuse"},
}
LANGS = ("zh", "en")
RULE_KEYS = {"id", "signal", "label", "weight", "terms", "patterns", "negatable", "enabled", "note"}
ENTRY_KEYS = {"code", "zh", "en", "parent", "terms", "aliases", "note"}
NEGATION_ZH = ("没有", "没", "未", "无", "并未", "不是", "不会", "不影响", "不想", "不打算", "防止", "避免", "排除", "以免", "防")
NEGATION_EN = ("no ", "not ", "never ", "without ", "n't ")
MAX_PATTERN_LEN = 400


class LexiconError(ValueError):
    """A lexicon/taxonomy file is malformed; the message names file, line and key."""


@dataclass(frozen=True)
class Rule:
    id: str
    signal: str
    label: str
    weight: float
    terms: tuple[str, ...]
    patterns: tuple[re.Pattern, ...]
    negatable: bool
    source: str


class Hit(NamedTuple):  # a named tuple: created ten times per text, cheaper than a dataclass
    rule_id: str
    signal: str
    label: str
    weight: float
    start: int  # offsets into the normalised text
    end: int
    text: str


def _line_of(src_text: str, needle: str) -> int | None:
    idx = src_text.find(needle)
    if idx < 0:
        return None
    return src_text.count("\n", 0, idx) + 1


def _where(path: Path, src: str, needle: str | None) -> str:
    line = _line_of(src, needle) if needle else None
    return f"{path}:{line}" if line else str(path)


def _read_toml(path: Path) -> tuple[dict, str]:
    try:
        src = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise LexiconError(f"{path}: not UTF-8 text ({exc})") from None
    except OSError as exc:
        raise LexiconError(f"{path}: cannot read ({exc})") from None
    try:
        return tomllib.loads(src), src
    except tomllib.TOMLDecodeError as exc:
        raise LexiconError(f"{path}: TOML syntax error: {exc}") from None


def _str_list(value, path, src, needle, key) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LexiconError(f"{_where(path, src, needle)}: key '{key}' must be a list of strings")
    return tuple(v for v in value if v.strip())


def _parse_rules(data: dict, path: Path, src: str) -> tuple[str, list[dict]]:
    meta = data.get("meta", {})
    lang = meta.get("lang")
    if lang not in LANGS:
        raise LexiconError(f"{_where(path, src, 'lang')}: key 'meta.lang' must be one of {', '.join(LANGS)} (got {lang!r})")
    rules = data.get("rule")
    if not isinstance(rules, list):
        raise LexiconError(f"{path}: key 'rule' must be an array of tables ([[rule]])")
    out = []
    for i, r in enumerate(rules, 1):
        if not isinstance(r, dict):
            raise LexiconError(f"{path}: rule #{i} must be a table")
        rid = r.get("id")
        needle = f'"{rid}"' if isinstance(rid, str) else "[[rule]]"
        where = _where(path, src, needle)
        if not isinstance(rid, str) or not rid:
            raise LexiconError(f"{where}: rule #{i}: key 'id' is required (a non-empty string)")
        unknown = set(r) - RULE_KEYS
        if unknown:
            raise LexiconError(f"{where}: rule '{rid}': unknown key(s) {', '.join(sorted(unknown))}")
        enabled = r.get("enabled", True)
        if not isinstance(enabled, bool):
            raise LexiconError(f"{where}: rule '{rid}': key 'enabled' must be true or false")
        if not enabled:
            out.append({"id": rid, "enabled": False, "lang": lang})
            continue
        signal = r.get("signal")
        if signal not in SIGNALS:
            raise LexiconError(f"{where}: rule '{rid}': key 'signal' must be one of {', '.join(SIGNALS)} (got {signal!r})")
        label = r.get("label")
        if label not in SIGNALS[signal]:
            raise LexiconError(f"{where}: rule '{rid}': key 'label' must be one of {', '.join(sorted(SIGNALS[signal]))} for signal '{signal}' (got {label!r})")
        weight = r.get("weight", 1.0)
        if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not 0 <= weight <= 10:
            raise LexiconError(f"{where}: rule '{rid}': key 'weight' must be a number between 0 and 10")
        negatable = r.get("negatable", False)
        if not isinstance(negatable, bool):
            raise LexiconError(f"{where}: rule '{rid}': key 'negatable' must be true or false")
        terms = _str_list(r.get("terms"), path, src, needle, "terms")
        pats_src = _str_list(r.get("patterns"), path, src, needle, "patterns")
        pats = []
        for p in pats_src:
            if len(p) > MAX_PATTERN_LEN:
                raise LexiconError(f"{where}: rule '{rid}': a pattern is longer than {MAX_PATTERN_LEN} characters")
            try:
                pats.append(re.compile(p))
            except re.error as exc:
                raise LexiconError(f"{where}: rule '{rid}': key 'patterns': invalid regular expression {p!r}: {exc}") from None
        if not terms and not pats:
            raise LexiconError(f"{where}: rule '{rid}': needs 'terms' or 'patterns'")
        out.append({"id": rid, "enabled": True, "lang": lang, "rule": Rule(
            id=rid, signal=signal, label=label, weight=float(weight),
            terms=tuple(t.lower() for t in terms), patterns=tuple(pats),
            negatable=negatable, source=str(path))})
    return lang, out


def _literal_gates(pattern: re.Pattern, limit: int = 3) -> tuple[tuple[str, ...], ...]:
    """Groups of literals such that any match of ``pattern`` contains one literal of
    every group (the most selective ``limit`` groups; () when none was found).  Lets the
    matcher skip a regular expression when a group is absent from the text; derived from
    the parsed pattern, so no data-file hint is needed."""
    if pattern.flags & re.IGNORECASE:
        return ()
    try:
        from re import _constants as C, _parser as P
    except ImportError:  # pragma: no cover - other Python versions
        return ()

    def alternatives(items):
        """All literal strings the item sequence can be, or None if not purely literal."""
        outs = [""]
        for op, av in items:
            if op is C.LITERAL:
                outs = [o + chr(av) for o in outs]
            elif op is C.SUBPATTERN:
                sub = alternatives(av[-1])
                if sub is None:
                    return None
                outs = [o + x for o in outs for x in sub]
            elif op is C.BRANCH:
                subs = []
                for branch in av[1]:
                    x = alternatives(branch)
                    if x is None:
                        return None
                    subs.extend(x)
                outs = [o + x for o in outs for x in subs]
            elif op is C.IN and all(o2 is C.LITERAL for o2, _ in av):
                outs = [o + chr(v) for o in outs for _, v in av]
            else:
                return None
            if len(outs) > 64:
                return None
        return outs

    try:
        tree = P.parse(pattern.pattern, pattern.flags)
    except Exception:
        return ()
    found: dict[tuple[str, ...], int] = {}  # group -> score (longer, fewer literals: rarer)
    items = list(tree)
    # Runs of plain characters count as one literal ("媒体", not "媒").
    run = ""
    for op, av in items + [(None, None)]:
        if op is C.LITERAL:
            run += chr(av)
            continue
        if run:
            found[(run,)] = len(run) * 10 - 1
        run = ""
    for op, av in items:
        if op in (C.MAX_REPEAT, C.MIN_REPEAT):
            lo, _hi, item = av
            if lo < 1:
                continue
            cand = alternatives(list(item))
        elif op in (C.ASSERT, C.ASSERT_NOT, C.AT, C.LITERAL):
            continue
        else:
            cand = alternatives([(op, av)])
        if cand and all(cand):
            found.setdefault(tuple(sorted(set(cand))), min(len(x) for x in cand) * 10 - len(set(cand)))
    return tuple(sorted(found, key=lambda g: -found[g])[:limit])


class Matcher:
    """Finds every term (the longest at each position, overlaps allowed) and every
    pattern match in a normalised, lower-cased text."""

    def __init__(self, rules: list[Rule], lang: str):
        self.lang = lang
        self.rules = rules
        by_term: dict[str, list[Rule]] = {}
        for rule in rules:
            for t in rule.terms:
                by_term.setdefault(t, []).append(rule)
        # Terms that start with an ASCII letter/digit must sit on word boundaries.
        self._terms = {t: (tuple(rs), t[0].isascii() and t[0].isalnum(), t[-1].isascii() and t[-1].isalnum())
                       for t, rs in by_term.items()}
        # Terms are looked up by their first two characters (one-character terms by
        # their character), longest first: one pass over the text's character pairs
        # finds the longest term at every position (overlaps allowed).
        self._index = _PrefixIndex(by_term)
        # A pattern runs only when each of its literal gates (groups of literals) has a
        # literal in the text; the literals of all gates are looked up at once.
        groups: dict[frozenset, int] = {}
        self._patterns = [(r, p, frozenset(groups.setdefault(frozenset(g), len(groups)) for g in _literal_gates(p)))
                          for r in rules for p in r.patterns]
        self._groups_of: dict[str, list[int]] = {}
        for g, gid in groups.items():
            for w in g:
                self._groups_of.setdefault(w, []).append(gid)
        self._gates = _PrefixIndex(self._groups_of)
        # The patterns to try: those without gates, and those listed under one of their
        # gates (the smallest) when that gate is satisfied (then all must be).
        self._ungated = [i for i, (_, _, needs) in enumerate(self._patterns) if not needs]
        self._by_gate: dict[int, list[int]] = {}
        for i, (_, _, needs) in enumerate(self._patterns):
            if needs:
                self._by_gate.setdefault(min(needs), []).append(i)

    @staticmethod
    def _negated(text: str, start: int, lang: str) -> bool:
        if lang == "en":
            before = text[max(0, start - 12):start]
            return any(before.endswith(c) or f" {c}" in before[-8:] for c in NEGATION_EN)
        before = text[max(0, start - 4):start]
        return any(c in before[-len(c) - 1:] for c in NEGATION_ZH)

    def _term_matches(self, text: str) -> list[tuple[Rule, int, int, str]]:
        """(rule, start, end, term) of the terms found, by position."""
        terms, negated, lang = self._terms, self._negated, self.lang
        n = len(text)
        out = []
        for i, term in self._index.occurrences(text):
            rules, ascii_start, ascii_end = terms[term]
            j = i + len(term)
            if ascii_start and i > 0 and text[i - 1].isascii() and text[i - 1].isalnum():
                continue
            if ascii_end and j < n and text[j].isascii() and text[j].isalnum():
                continue
            for r in rules:
                if not (r.negatable and negated(text, i, lang)):
                    out.append((r, i, j, term))
        return out

    def _pattern_matches(self, text: str) -> list[tuple[Rule, int, int, str]]:
        """(rule, start, end, matched text) of the patterns' matches, pattern by pattern."""
        out = []
        if not self._patterns:
            return out
        satisfied: set[int] = set()
        groups_of = self._groups_of
        for w in self._gates.present(text):
            satisfied.update(groups_of[w])
        patterns, by_gate = self._patterns, self._by_gate
        run = list(self._ungated)
        for g in satisfied:
            for i in by_gate.get(g, ()):
                if patterns[i][2] <= satisfied:
                    run.append(i)
        run.sort()  # pattern by pattern, in their order
        negated, lang = self._negated, self.lang
        for i in run:
            r, p, needs = patterns[i]
            for m in p.finditer(text):
                a, b = m.span()
                if a != b and not (r.negatable and negated(text, a, lang)):
                    out.append((r, a, b, m.group()))
        return out

    def find(self, text: str) -> list[Hit]:
        """``text`` must already be normalised and lower-cased."""
        if not text:
            return []
        return [Hit(r.id, r.signal, r.label, r.weight, a, b, t)
                for r, a, b, t in self._term_matches(text) + self._pattern_matches(text)]

    def label_counts(self, text: str) -> dict[str, int]:
        """How many hits each label has (what ``find`` returns, counted)."""
        counts: dict[str, int] = {}
        if not text:
            return counts
        for r, *_ in self._term_matches(text) + self._pattern_matches(text):
            counts[r.label] = counts.get(r.label, 0) + 1
        return counts



class _PrefixIndex:
    """Words by their first two characters (one-character words apart), longest first.
    The text's character pairs are looked up all at once (a hash filter, on code arrays
    shared by the steps reading the same text); only positions whose pair may start a
    word are then checked.  ``prescan`` does this once for several indexes."""

    def __init__(self, words):
        index: dict[str, list[str]] = {}
        for w in words:
            if len(w) > 1:
                index.setdefault(w[:2], []).append(w)
        self.words = {k: tuple(sorted(v, key=len, reverse=True)) for k, v in index.items()}
        self.singles = frozenset(w for w in words if len(w) == 1)
        # Testing a regular expression's character class scans the text in C (iterating a
        # str in Python makes an object per character).
        self._single_rx = re.compile("[" + "".join(map(re.escape, sorted(self.singles))) + "]") if self.singles else None
        self._filter = None  # PairFilter of the first pairs, made at the first scan alone
        self._scanned: tuple = ("", None, None)  # (text, every, present or occurrences) left by prescan
        self._alone: dict[bool, dict] = {}  # scan groups when used without prescan

    def occurrences(self, text: str) -> list[tuple[int, str]]:
        """(position, longest word starting there), by position."""
        scanned = self._scanned
        if scanned[0] is text and scanned[1] is False:
            return scanned[2]
        return self._scan(text, False)[0]

    def present(self, text: str) -> set[str]:
        """The words that occur in ``text``."""
        scanned = self._scanned
        if scanned[0] is text and scanned[1] is True:
            return scanned[2]
        return self._scan(text, True)[1]

    def _scan(self, text: str, every: bool):
        groups = self._alone.get(every)
        if groups is None:
            groups = self._alone[every] = {pair_key(k): ((0, w, every),) for k, w in self.words.items()}
        if self._filter is None:
            self._filter = PairFilter(self.words)
        occ, present = _scan(text, self._filter, groups, 1)
        return self._finish(text, occ[0], present[0], every)

    def _finish(self, text: str, occ: list, present: set, every: bool):
        """Add the one-character words (rare: looked for only when the text has one)."""
        rx = self._single_rx
        if rx is None or not rx.search(text):
            return occ, present
        if every:
            return occ, present | set(rx.findall(text))
        at = {i: w for i, w in occ}
        for m in rx.finditer(text):
            at.setdefault(m.start(), m.group())
        return sorted(at.items()), present


def _scan(text: str, pair_filter: PairFilter, groups: dict, n: int):
    """One pass for ``n`` word lists: ``groups`` maps a first pair's key (pair_key) to ((list number,
    words longest first, every: bool), …).  Returns per list the (position, longest
    word) found, and for the lists marked ``every`` the set of all words found."""
    occ: list[list] = [[] for _ in range(n)]
    present: list[set] = [set() for _ in range(n)]
    startswith = text.startswith
    get = groups.get
    for i, key in zip(*pair_filter.positions_keys(text)):
        for k, words, every in get(key, ()):
            for w in words:
                if startswith(w, i):
                    if every:
                        present[k].add(w)
                    else:
                        occ[k].append((i, w))
                        break
    return occ, present


_joint: dict[tuple, tuple] = {}  # ids of matchers -> (matchers, indexes, filter, groups); a few entries


def prescan(text: str, matchers) -> None:
    """Scan ``text`` once for the terms and pattern gates of all ``matchers`` (e.g. the
    signal rules and the model's lexicon); their find()/label_counts() on that same text
    then reuse the result instead of scanning again."""
    if not text:
        return
    key = tuple(map(id, matchers))
    joint = _joint.get(key)
    if joint is None:
        indexes = tuple((ix, every) for m in matchers if m is not None
                        for ix, every in ((m._index, False), (m._gates, True)) if ix.words or ix.singles)
        groups: dict[str, list] = {}
        for k, (ix, every) in enumerate(indexes):
            for pair, words in ix.words.items():
                groups.setdefault(pair, []).append((k, words, every))
        # The matchers are kept with their indexes: their ids stay theirs while cached.
        joint = (tuple(matchers), indexes, PairFilter(groups), {pair_key(p): tuple(g) for p, g in groups.items()})
        if len(_joint) >= 8:
            _joint.pop(next(iter(_joint)))
        _joint[key] = joint
    indexes = joint[1]
    if not indexes:
        return
    occ, present = _scan(text, joint[2], joint[3], len(indexes))
    for k, (ix, every) in enumerate(indexes):
        ix._scanned = (text, every, ix._finish(text, occ[k], present[k], every)[1 if every else 0])


@dataclass(frozen=True)
class CategoryEntry:
    profile: str
    code: str
    zh: str
    en: str
    parent: str
    terms: tuple[str, ...]
    aliases: tuple[str, ...]


@dataclass
class Lexicon:
    version: str
    labels: dict
    advice: dict
    level1: dict
    profiles: dict[str, dict[str, CategoryEntry]]
    signal_matchers: dict[str, Matcher]
    category_matchers: dict[str, Matcher] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    # label (code, zh name or alias, any case) -> entry, per profile
    _by_name: dict[str, dict[str, CategoryEntry]] = field(default_factory=dict)
    # (profile, label) -> the names analyze() shows for it (filled as labels are met)
    choice_names: dict[tuple, tuple] = field(default_factory=dict)

    def name(self, group: str, code: str, lang: str = "zh") -> str:
        entry = self.labels.get(group, {}).get(code)
        return entry.get(lang, code) if entry else code

    def category_entry(self, profile: str, label: str) -> CategoryEntry | None:
        names = self._by_name.get(profile) or {}
        e = names.get(str(label).lower())
        if e is None:
            for names2 in self._by_name.values():
                e = names2.get(str(label).lower())
                if e is not None:
                    break
        return e


def _parse_taxonomy(data: dict, path: Path, src: str, level1: dict, profiles: dict, builtin: bool):
    if builtin:
        l1 = data.get("level1")
        if not isinstance(l1, dict) or "other" not in l1:
            raise LexiconError(f"{path}: key 'level1' must be a table that includes 'other'")
        for code, names in l1.items():
            if not isinstance(names, dict) or not isinstance(names.get("zh"), str):
                raise LexiconError(f"{_where(path, src, code)}: level1.{code} needs a 'zh' name")
            level1[code] = {"zh": names["zh"], "en": names.get("en", code)}
    prof = data.get("profile", {})
    if not isinstance(prof, dict):
        raise LexiconError(f"{path}: key 'profile' must be tables [[profile.<code>]]")
    for pcode, entries in prof.items():
        if not isinstance(entries, list):
            raise LexiconError(f"{_where(path, src, 'profile.' + pcode)}: profile.{pcode} must be an array of tables ([[profile.{pcode}]])")
        target = profiles.setdefault(pcode, {})
        for i, e in enumerate(entries, 1):
            code = e.get("code") if isinstance(e, dict) else None
            where = _where(path, src, f'"{code}"' if code else f"profile.{pcode}")
            if not isinstance(code, str) or not code:
                raise LexiconError(f"{where}: profile.{pcode} entry #{i}: key 'code' is required")
            unknown = set(e) - ENTRY_KEYS
            if unknown:
                raise LexiconError(f"{where}: profile.{pcode}.{code}: unknown key(s) {', '.join(sorted(unknown))}")
            terms = _str_list(e.get("terms"), path, src, f'"{code}"', "terms")
            aliases = _str_list(e.get("aliases"), path, src, f'"{code}"', "aliases")
            old = target.get(code)
            if old is not None and not builtin and "zh" not in e:
                target[code] = CategoryEntry(pcode, code, old.zh, old.en, old.parent,
                                             old.terms + tuple(t.lower() for t in terms), old.aliases + aliases)
                continue
            zh = e.get("zh")
            parent = e.get("parent", "other")
            if not isinstance(zh, str) or not zh:
                raise LexiconError(f"{where}: profile.{pcode}.{code}: key 'zh' (Chinese name) is required")
            if parent not in level1:
                raise LexiconError(f"{where}: profile.{pcode}.{code}: key 'parent' must be a level-1 code ({', '.join(level1)}), got {parent!r}")
            target[code] = CategoryEntry(pcode, code, zh, str(e.get("en", code)), parent,
                                         tuple(t.lower() for t in terms), aliases)


def _extra_dirs(extra_dirs) -> list[Path]:
    dirs: list[Path] = []
    env = os.environ.get(ENV_EXTRA, "")
    for d in list(extra_dirs or []) + [p for p in env.split(os.pathsep) if p.strip()]:
        p = Path(d)
        if p not in dirs:
            dirs.append(p)
    return dirs


def build_lexicon(extra_dirs=None) -> Lexicon:
    """Load and validate all lexicon files (raises LexiconError on a bad file)."""
    digest = hashlib.sha1()
    labels, _ = _read_toml(DATA_DIR / "labels.toml")
    advice, _ = _read_toml(DATA_DIR / "advice.toml")
    tax_path = DATA_DIR / "taxonomy.toml"
    tax, tax_src = _read_toml(tax_path)
    level1: dict = {}
    profiles: dict = {}
    _parse_taxonomy(tax, tax_path, tax_src, level1, profiles, builtin=True)
    rules_by_id: dict[str, dict] = {}
    sources = []
    base_version = None
    for lang in LANGS:
        for path in sorted((DATA_DIR / lang).glob("*.toml")):
            data, src = _read_toml(path)
            base_version = base_version or data.get("meta", {}).get("version")
            _, rules = _parse_rules(data, path, src)
            for r in rules:
                if r["id"] in rules_by_id:
                    raise LexiconError(f"{_where(path, src, chr(34) + r['id'] + chr(34))}: duplicate rule id '{r['id']}'")
                rules_by_id[r["id"]] = r
            sources.append(str(path))
    extra_count = 0
    for d in _extra_dirs(extra_dirs):
        if not d.is_dir():
            raise LexiconError(f"{d}: extra lexicon directory does not exist")
        for path in sorted(d.glob("*.toml")):
            data, src = _read_toml(path)
            digest.update(path.name.encode() + b"\0" + src.encode("utf-8"))
            extra_count += 1
            if "rule" in data:
                _, rules = _parse_rules(data, path, src)
                for r in rules:
                    rules_by_id[r["id"]] = r  # same id replaces (or disables) a built-in rule
            if "profile" in data:
                _parse_taxonomy(data, path, src, level1, profiles, builtin=False)
            if "rule" not in data and "profile" not in data:
                raise LexiconError(f"{path}: expected [[rule]] tables or [[profile.<code>]] tables")
            sources.append(str(path))
    by_lang: dict[str, list[Rule]] = {lang: [] for lang in LANGS}
    for r in rules_by_id.values():
        if r["enabled"]:
            by_lang[r["lang"]].append(r["rule"])
    version = f"{base_version or '0'}+{labels.get('meta', {}).get('version', '0')}.{advice.get('meta', {}).get('version', '0')}.{tax.get('meta', {}).get('version', '0')}"
    if extra_count:
        version += f"+x{digest.hexdigest()[:8]}"
    lex = Lexicon(
        version=version, labels=labels, advice=advice, level1=level1, profiles=profiles,
        signal_matchers={lang: Matcher(rs, lang) for lang, rs in by_lang.items()},
        sources=tuple(sources),
    )
    for pcode, entries in profiles.items():
        crules = [Rule(f"category.{pcode}.{e.code}", "category", e.code, 1.0, e.terms, (), False, "taxonomy")
                  for e in entries.values() if e.terms]
        lex.category_matchers[pcode] = Matcher(crules, "zh")
        names = {}
        for e in entries.values():
            for key in (e.code, e.zh, e.en, *e.aliases):
                names.setdefault(key.lower(), e)
        lex._by_name[pcode] = names
    return lex


_cache: dict[tuple, Lexicon] = {}
_cache_by_env: dict[str, Lexicon] = {}  # value of the env variable -> lexicon (no extra_dirs)
_lock = threading.Lock()


def get_lexicon(extra_dirs=None) -> Lexicon:
    """The lexicon for these extra dirs (plus the env variable), cached; see reload_lexicon()."""
    env = os.environ.get(ENV_EXTRA, "")
    if not extra_dirs:  # the common call (every analysis): one dictionary lookup
        lex = _cache_by_env.get(env)
        if lex is not None:
            return lex
    key = tuple(str(p) for p in _extra_dirs(extra_dirs))
    with _lock:
        lex = _cache.get(key)
        if lex is None:
            lex = build_lexicon(extra_dirs)
            _cache[key] = lex
        if not extra_dirs:
            _cache_by_env[env] = lex
    return lex


def reload_lexicon() -> None:
    """Forget cached lexicons (call after an administrator edited a file)."""
    with _lock:
        _cache.clear()
        _cache_by_env.clear()


def validate_dir(path) -> list[str]:
    """Validate the files of one extra directory; returns a list of error messages (empty = fine)."""
    try:
        build_lexicon([path])
    except LexiconError as exc:
        return [str(exc)]
    return []
