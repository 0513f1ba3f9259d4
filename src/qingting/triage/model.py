"""Trainable category model: train, evaluate, save (versioned), activate, load.

Features (chosen by measurement on the car and CFPB time splits, see
bench/triage_eval_timesplit.py): TF-IDF (sublinear) over character n-grams and/or rjieba
words of the normalised text, plus the counts of the profile's category lexicon terms
(knowledge an administrator can edit).  The category decision is a linear SVM with
balanced class weights (best macro-F1 on the time splits).  The ranking of the
alternatives (top 3) and the confidences may come from a calibrated ensemble on the same
features: the SVM, a class-balanced logistic regression, complement and multinomial
naive Bayes and the class centroids (Rocchio), each turned into log-probabilities with a
temperature fitted on a time-ordered validation window and summed (a product of
experts).  On four time windows of the car complaints this raised top-3 accuracy from
about 0.72 to 0.78 without changing a decision; on the CFPB narratives it did not help,
so training keeps it only where it ranks better on the validation windows.
``train(features="auto")`` picks the features and the ranking on the last 20 % of the
(time-ordered) training data, then refits on everything.

Inference does not go through scikit-learn: every scorer is linear, so the artefact keeps
the vocabulary, IDF and the scorers' weights side by side as plain arrays, and one
prediction is a lookup and one small dot product (fast for single complaints, no
pickle, loads in milliseconds).

Artefacts: ``<models_dir>/<version>/{meta.json,features.json,weights.npz}``; the file
``<models_dir>/ACTIVE`` names the active version and is switched with os.replace().
Old versions are kept (``activate()`` rolls back).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .lexicon import Matcher, Rule, get_lexicon
from .normalize import lower, normalize
from .textcodes import text_codes

FORMAT = 1
ACTIVE_FILE = "ACTIVE"

CANDIDATES = {
    "char12+lex": {"char": [1, 2], "words": False, "lexicon": 1.0, "C": 0.5},
    "char13+lex": {"char": [1, 3], "words": False, "lexicon": 1.0, "C": 0.5},
    "char12+lex_c02": {"char": [1, 2], "words": False, "lexicon": 1.0, "C": 0.2},
    "char12+lex2": {"char": [1, 2], "words": False, "lexicon": 2.0, "C": 0.5},
    "char12+words+lex": {"char": [1, 2], "words": True, "lexicon": 1.0, "C": 0.5},
    "words": {"char": None, "words": True, "lexicon": 0.0, "C": 0.5},
    "char13+words": {"char": [1, 3], "words": True, "lexicon": 0.0, "C": 0.5},
    "words+lex": {"char": None, "words": True, "lexicon": 0.5, "C": 0.5},
    "words_c1": {"char": None, "words": True, "lexicon": 0.0, "C": 1.0},
    "words_c02": {"char": None, "words": True, "lexicon": 0.0, "C": 0.2},
    "words12": {"char": None, "words": True, "word_bigrams": True, "lexicon": 0.0, "C": 0.5},
}
AUTO_ZH = ("char12+lex", "char13+lex", "char12+lex_c02", "char12+lex2")  # words (rjieba) measured no better on the car split, and slower
AUTO_EN = ("words", "words_c1", "words_c02", "words12", "char13+words")
# Scorers of a trained model: the SVM decides; with the logistic regression and the
# complement naive Bayes it ranks the alternatives (see the module docstring).
RANKERS = ("svm", "lr", "cnb", "mnb", "centroid")
RANKER_SETS = (("svm",), RANKERS)  # training keeps the ensemble only where it ranks better
SELECTION_MARGIN = 0.01  # of macro-F1 + 0.5 × top-3 on validation: differences below it are noise
DEFAULT_TEMPERATURES = (3.0, 1.0, 1.0, 1.0, 4.0)  # per scorer, when there is no validation window
DEFAULT_TEMPERATURE = 0.5


def default_models_dir() -> Path:
    return Path(os.environ.get("QINGTING_DATA_DIR", "./var")) / "models" / "triage"


def prepare(text) -> str:
    """The model's view of a text: normalised and lower-cased (as analyze() does)."""
    return lower(normalize(text).text)


_rjieba = None


def _cut(text: str) -> list[str]:
    global _rjieba
    if _rjieba is None:
        import rjieba

        _rjieba = rjieba
    return _rjieba.cut(text)


def extract(text: str, cfg: dict) -> list[str]:
    """Feature strings of a prepared text (char n-grams as is, words prefixed 'w:')."""
    feats: list[str] = []
    ch = cfg.get("char")
    if ch:
        n = len(text)
        for k in range(ch[0], ch[1] + 1):
            feats.extend([text[i:i + k] for i in range(n - k + 1)])
    if cfg.get("words"):
        words = [w for w in _cut(text) if not w.isspace()]
        feats.extend(["w:" + w for w in words])
        if cfg.get("word_bigrams"):
            feats.extend(["w:" + a + " " + b for a, b in zip(words, words[1:])])
    return feats


_END = 2 ** 64 - 1  # sentinel after the sorted keys (never a key): a search never runs off the end


class _GramIndex:
    """Vectorised lookup of a text's character n-grams in the vocabulary.  Each character
    becomes its rank in the vocabulary's alphabet (1…A; A+1: not in it), an n-gram the
    ranks packed ``bits`` apart: one integer key per n-gram, searched (the text's
    distinct keys, sorted: short searches) in the sorted keys of the vocabulary.

    The keys give the order in which a text's features are summed, which is kept from
    the previous releases so that results stay bit-identical: ranks left-aligned (keys
    sort like the strings, i.e. like the features) in general; for character uni- and
    bigrams alone, unigrams first, then bigrams (``short_first``)."""

    def __init__(self, table, bits, lo, hi, keys, idx, short_first):
        self.table, self.bits, self.lo, self.hi, self.keys, self.idx = table, bits, lo, hi, keys, idx
        self.short_first = short_first
        # Per n-gram length and position in the n-gram, the table of a character's part of
        # the key (rank shifted into place, with the length tag on the first character).
        b = int(bits)
        made: dict[tuple[int, int], np.ndarray] = {}
        self.parts = {}
        for n in range(lo, hi + 1):
            parts = []
            for j in range(n):
                shift = b * (n - 1 - j) + (0 if short_first else b * (hi - n))
                tag = (n << (hi * b)) if short_first and j == 0 else 0
                if (shift, tag) not in made:
                    made[shift, tag] = (table << np.uint64(shift)) | np.uint64(tag)
                parts.append(made[shift, tag])
            self.parts[n] = parts

    @classmethod
    def build(cls, features: list[str], char, short_first: bool = False) -> "_GramIndex | None":
        if not char:
            return None
        lo, hi = char
        if short_first and hi <= 2:
            return _PairIndex.build(features, lo, hi)
        grams = [(f, i) for i, f in enumerate(features) if lo <= len(f) <= hi]
        alphabet = sorted({c for f, _ in grams for c in f})
        unknown = len(alphabet) + 1
        bits = unknown.bit_length()
        if hi * bits + (hi.bit_length() if short_first else 0) > 64:
            return None
        rank = {c: r for r, c in enumerate(alphabet, 1)}
        table = np.full(max((ord(c) for c in alphabet), default=0) + 2, unknown, dtype=np.uint64)
        for c, r in rank.items():
            table[ord(c)] = r
        keyed = []
        for f, i in grams:
            k = 0
            for c in f:
                k = (k << bits) | rank[c]
            keyed.append(((k | (len(f) << (hi * bits))) if short_first else k << (bits * (hi - len(f))), i))
        keyed.sort()
        idx = [i for _, i in keyed]
        return cls(table, np.uint64(bits), lo, hi, np.array([k for k, _ in keyed] + [_END], dtype=np.uint64),
                   None if idx == list(range(len(features))) else np.array(idx, dtype=np.int64), short_first)

    def ids_counts(self, text: str):
        """(feature indexes of the text's n-grams, in key order, and their counts), or (None, None)."""
        if not text or len(self.keys) == 1:
            return None, None
        cp = text_codes(text)[0]
        m = len(cp)
        sizes = [m - n + 1 for n in self.parts if m - n + 1 > 0]
        if not sizes:
            return None, None
        q = np.empty(sum(sizes), dtype=np.uint64)
        at = 0
        for n, tables in self.parts.items():  # key = OR of each character's part, written in place
            size = m - n + 1
            if size <= 0:
                break
            out = q[at:at + size]
            tables[0].take(cp[:size], mode="clip", out=out)
            for j in range(1, n):
                out |= tables[j].take(cp[j:j + size], mode="clip")
            at += size
        q.sort()  # distinct keys and counts (np.unique without its overhead)
        new = np.empty(len(q), dtype=bool)
        new[0] = True
        np.not_equal(q[1:], q[:-1], out=new[1:])
        first = np.flatnonzero(new)
        cnt = np.diff(first, append=len(q))
        q = q[first]
        pos = np.searchsorted(self.keys, q)
        hit = self.keys[pos] == q
        pos = pos[hit]
        return (pos if self.idx is None else self.idx[pos]), cnt[hit]


# 1 + log(count) of the counts below 4096 (the same float32 values as computed per text).
_TF = np.concatenate((np.zeros(1, np.float32), 1.0 + np.log(np.arange(1, 4096, dtype=np.float32))))
_BIGRAM = np.uint64(1 << 42)  # above any pair of code points packed 21 bits apart


class _PairIndex:
    """Lookup of a text's character unigrams and bigrams by code point: a unigram's key is
    its code point, a bigram's the text's character-pair key (textcodes: the two code
    points packed 21 bits apart, already computed for the lexicon scan) tagged above
    every unigram.  The keys sort like the packed ranks of _GramIndex with
    ``short_first`` (unigrams first, then bigrams, each in code-point order), so the
    features are summed in the same order; no per-text table lookup is needed."""

    def __init__(self, lo, hi, keys, idx):
        self.lo, self.hi, self.keys, self.idx = lo, hi, keys, idx

    @classmethod
    def build(cls, features: list[str], lo: int, hi: int) -> "_PairIndex":
        keyed = []
        for i, f in enumerate(features):
            if len(f) == 1 and lo == 1:
                keyed.append((ord(f), i))
            elif len(f) == 2 and hi == 2:
                keyed.append((((ord(f[0]) << 21) | ord(f[1])) | (1 << 42), i))
        keyed.sort()
        idx = [i for _, i in keyed]
        return cls(lo, hi, np.array([k for k, _ in keyed] + [_END], dtype=np.uint64),
                   None if idx == list(range(len(features))) else np.array(idx, dtype=np.int64))

    def ids_counts(self, text: str):
        """(feature indexes of the text's n-grams, in key order, and their counts), or (None, None)."""
        if not text or len(self.keys) == 1:
            return None, None
        cp, pairs = text_codes(text)[:2]
        if self.hi == 2 and len(pairs):
            q = np.concatenate((cp, pairs | _BIGRAM)) if self.lo == 1 else pairs | _BIGRAM
        elif self.lo == 1:
            q = cp.copy()
        else:
            return None, None
        q.sort()  # distinct keys and counts (np.unique without its overhead)
        n = len(q)
        edge = np.empty(n + 1, dtype=bool)
        edge[0] = edge[n] = True
        np.not_equal(q[1:], q[:-1], out=edge[1:n])
        first = edge.nonzero()[0]
        cnt = first[1:] - first[:-1]
        q = q.take(first[:-1])
        pos = self.keys.searchsorted(q)
        hit = self.keys.take(pos) == q
        pos = pos[hit]
        return (pos if self.idx is None else self.idx.take(pos)), cnt[hit]


def _lex_matcher(terms: dict[str, list[str]]) -> Matcher:
    rules = [Rule(f"category.{code}", "category", code, 1.0, tuple(ts), (), False, "model") for code, ts in terms.items() if ts]
    return Matcher(rules, "zh")


@dataclass
class ModelArtifact:
    labels: list[str]
    config: dict
    features: list[str]
    idf: np.ndarray
    coef: np.ndarray  # (n_features, n_classes * len(components)); the SVM's columns first
    intercept: np.ndarray  # (n_classes * len(components),)
    lex_codes: list[str]
    lex_terms: dict[str, list[str]]
    lex_coef: np.ndarray  # (n_codes, n_classes * len(components))
    temperature: float = 3.0  # of the summed log-probabilities (the shown confidences)
    # Linear scorers, n_classes columns each: the first (the SVM) decides; the ranking is
    # Σ temperature·scores.  Trained models are saved folded: ("svm", "ensemble") with
    # temperatures (0, 1).
    components: tuple = ("svm",)
    component_temperatures: tuple = (1.0,)
    profile: str | None = None
    metrics: dict = field(default_factory=dict)
    version: str | None = None
    created_at: str | None = None
    n_train: int = 0

    def __post_init__(self):
        self.vocab = {f: i for i, f in enumerate(self.features)}
        ch = self.config.get("char")
        self._grams = _GramIndex.build(self.features, ch, short_first=bool(ch and ch[1] <= 2 and not self.config.get("words")))
        self._lex_index = {c: i for i, c in enumerate(self.lex_codes)}
        self._matcher = _lex_matcher(self.lex_terms) if self.config.get("lexicon") else None
        self.set_temperatures(self.component_temperatures, self.temperature)

    @property
    def lexicon_matcher(self) -> Matcher | None:
        """The matcher of the lexicon features (analyze() scans for them with the signals)."""
        return self._matcher

    def set_temperatures(self, component_temperatures, temperature: float) -> None:
        """Set the scorers' temperatures and fold them into the inference weights.

        A sum of log-softmaxes differs from the same sum of the scaled scores only by a
        constant per text, which changes neither the order nor the softmax: the ensemble
        ranks (and gives its confidences) exactly like the single linear scorer
        Σ T_c·W_c.  Inference therefore computes two blocks of n_classes columns: the
        deciding SVM and that sum (one block for a lone SVM)."""
        self.components = tuple(self.components)
        self.component_temperatures = tuple(float(t) for t in component_temperatures)
        self.temperature = float(temperature)
        k, nb = len(self.labels), len(self.components)
        temps = np.asarray(self.component_temperatures, dtype=np.float32)

        def fold(m):
            if nb == 1:
                return m
            # Σ_c T_c·W_c as plain element-wise sums (nb ≤ 3): no BLAS call, whose kernels were seen
            # to leave a spurious "invalid value" floating-point flag behind on finite input.
            blocks = m.reshape(m.shape[:-1] + (nb, k))
            rank = blocks[..., 0, :] * temps[0]
            for c in range(1, nb):
                rank = rank + blocks[..., c, :] * temps[c]
            rank = rank.astype(np.float32)
            return np.ascontiguousarray(np.concatenate([m[..., :k], rank], axis=-1))

        self._w, self._b, self._lw = fold(self.coef), fold(self.intercept), fold(self.lex_coef)

    def collapsed(self) -> "ModelArtifact":
        """The same model with its ranking scorers folded into one ("ensemble"): what is
        saved (smaller, faster to load; ranks and decides identically)."""
        if len(self.components) == 1 or self.components == ("svm", "ensemble"):
            return self
        k = len(self.labels)
        m = ModelArtifact(labels=self.labels, config=self.config, features=self.features, idf=self.idf,
                          coef=self._w, intercept=self._b, lex_codes=self.lex_codes, lex_terms=self.lex_terms,
                          lex_coef=self._lw, temperature=self.temperature, components=("svm", "ensemble"),
                          component_temperatures=(0.0, 1.0), profile=self.profile, metrics=self.metrics,
                          version=self.version, created_at=self.created_at, n_train=self.n_train)
        m.metrics = {**self.metrics, "folded_components": list(self.components),
                     "folded_temperatures": list(self.component_temperatures)}
        assert m._w.shape[1] == 2 * k
        return m

    # ------------------------------------------------------------------ inference
    def _ids_counts(self, prepared: str):
        """(feature indexes, unique, and counts) of the text's char/word features, or (None, None)."""
        words = self.config.get("words")
        if self._grams is not None:
            idx, cnt = self._grams.ids_counts(prepared)
            if not words:
                return (idx, cnt) if idx is not None and idx.size else (None, None)
            parts = [np.repeat(idx, cnt)] if idx is not None else []
        elif self.config.get("char"):  # alphabet too large for packed keys (never seen)
            parts = [self._vocab_ids(extract(prepared, {"char": self.config["char"]}))]
        else:
            parts = []
        if words:
            parts.append(self._vocab_ids(extract(prepared, {"words": True, "word_bigrams": self.config.get("word_bigrams")})))
        arr = np.concatenate(parts) if len(parts) > 1 else parts[0] if parts else np.zeros(0, np.int64)
        if not arr.size:
            return None, None
        return np.unique(arr, return_counts=True)

    def _vocab_ids(self, feats: list[str]) -> np.ndarray:
        get = self.vocab.get
        arr = np.array([get(f, -1) for f in feats], dtype=np.int64)
        return arr[arr >= 0]

    def _linear(self, prepared: str, coef, intercept, lex_coef):
        """(x·coef + intercept, feature indexes, tf-idf values, lexicon part, the rows of
        ``coef`` of the features) of a text."""
        idx, cnt = self._ids_counts(prepared)
        scores = intercept
        val = rows = None
        if idx is not None and idx.size:
            # Sublinear tf 1 + log(count) from a table of the same float32 values.
            tf = _TF.take(cnt) if len(prepared) < len(_TF) else 1.0 + np.log(cnt.astype(np.float32))
            val = tf * self.idf.take(idx)
            norm = math.sqrt(float(val.dot(val)))  # divides as float32: the float32 root
            if norm > 0:
                val /= norm
            rows = coef.take(idx, axis=0)
            scores = scores + val @ rows
        lex = None
        if self._matcher is not None:
            lc = self._matcher.label_counts(prepared)
            if lc:
                w = float(self.config.get("lexicon", 0.0))
                li = np.array([self._lex_index[c] for c in lc], dtype=np.int64)
                lv = np.log1p(np.array(list(lc.values()), dtype=np.float32)) * w
                lex_rows = lex_coef.take(li, axis=0)
                scores = scores + lv @ lex_rows
                lex = (li, lv, lex_rows)
        if scores is intercept:
            scores = intercept.copy()
        return scores, idx, val, lex, rows

    def _raw(self, prepared: str):
        """Every scorer's scores side by side (and the parts of _linear)."""
        return self._linear(prepared, self.coef, self.intercept, self.lex_coef)[:4]

    def _scores(self, prepared: str):
        """The deciding SVM's decision values (and the parts of _linear)."""
        raw, idx, val, lex = self._raw(prepared)
        return raw[:len(self.labels)], idx, val, lex

    def _infer(self, prepared: str):
        """(order of the labels, confidences, feature indexes, tf-idf values, lexicon part,
        the weight rows of the features): the SVM's best label first, then the others by
        the ranking scorer."""
        s, idx, val, lex, rows = self._linear(prepared, self._w, self._b, self._lw)
        k = len(self.labels)
        if len(self.components) == 1:
            rank = s * self.component_temperatures[0]
            order = (-rank).argsort()
        else:
            rank = s[k:]
            best = int(s[:k].argmax())
            order = (-rank).argsort()
            if order[0] != best:
                order = np.concatenate(([best], order[order != best]))
        return order, self._probs(rank), idx, val, lex, rows

    def _probs(self, scores):
        z = scores * self.temperature
        z -= z.max()
        np.exp(z, out=z)
        z /= z.sum()
        return z

    def predict_explain(self, prepared: str, k: int = 3):
        """([(label, confidence)] best first, [(feature, contribution)] for the best label)."""
        order, probs, idx, val, lex, rows = self._infer(prepared)
        order = order[:k].tolist()
        probs = probs.tolist()
        labels = self.labels
        top = [(labels[i], probs[i]) for i in order]
        best = order[0]
        contribs: list[tuple[str, float]] = []
        if val is not None:
            c = val * rows[:, best]
            j = (-c).argsort()[:5]
            features = self.features
            for f, v in zip(idx.take(j).tolist(), c.take(j).tolist()):
                if v > 0:
                    contribs.append((features[f], v))
        if lex is not None:
            li, lv, lex_rows = lex
            c = (lv * lex_rows[:, best]).tolist()
            j = sorted(range(len(c)), key=lambda i: -c[i])[:3]  # a few terms: sorted in Python
            codes = li.tolist()
            for i in j:
                if c[i] > 0:
                    contribs.append(("lex:" + self.lex_codes[codes[i]], c[i]))
        contribs.sort(key=lambda x: -x[1])
        return top, contribs[:6]

    def predict_top(self, texts, k: int = 3) -> list[list[tuple[str, float]]]:
        out = []
        for t in texts:
            order, probs = self._infer(prepare(t))[:2]
            order = order[:k]
            out.append([(self.labels[i], float(probs[i])) for i in order])
        return out

    def predict(self, texts) -> list[str]:
        return [top[0][0] for top in self.predict_top(texts, k=1)]


# ---------------------------------------------------------------------- training
def _lexicon_terms(profile: str | None, extra_dirs=None) -> dict[str, list[str]]:
    lex = get_lexicon(extra_dirs)
    entries = lex.profiles.get(profile or "general", {})
    return {code: list(e.terms) for code, e in entries.items() if e.terms}


def _fit(prepared: list[str], labels: list[str], cfg: dict, lex_terms: dict, components=("svm",)):
    """Fit the scorers named in ``components`` on the same features; their coefficients
    are returned side by side (n_classes columns each, in that order)."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = None
    blocks = []
    if cfg.get("char") or cfg.get("words"):
        vec = TfidfVectorizer(analyzer=lambda t: extract(t, cfg), sublinear_tf=True,
                              min_df=int(cfg.get("min_df", 1)), dtype=np.float32)
        blocks.append(vec.fit_transform(prepared))
    codes = sorted(lex_terms) if cfg.get("lexicon") else []
    if codes:
        blocks.append(_lex_block(prepared, codes, lex_terms, float(cfg["lexicon"])))
    X = hstack(blocks).tocsr() if len(blocks) > 1 else blocks[0]
    classes = None
    coefs, intercepts = [], []
    for name in components:
        cls, coef, intercept = _fit_scorer(name, X, labels, cfg)
        if classes is None:
            classes = cls
        coefs.append(coef)
        intercepts.append(intercept)
    coef = np.hstack(coefs)  # (n_columns, n_classes * len(components))
    intercept = np.concatenate(intercepts)
    n_text = blocks[0].shape[1] if vec is not None else 0
    features = vec.get_feature_names_out().tolist() if vec is not None else []
    idf = vec.idf_.astype(np.float32) if vec is not None else np.zeros(0, np.float32)
    coef_t = np.ascontiguousarray(coef[:n_text])
    lex_coef = np.ascontiguousarray(coef[n_text:]) if codes else np.zeros((0, coef.shape[1]), np.float32)
    return classes, features, idf, coef_t, intercept, codes, lex_coef


def _fit_scorer(name: str, X, labels, cfg):
    """(classes, coef (n_columns, n_classes), intercept) of one linear scorer."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import ComplementNB, MultinomialNB
    from sklearn.svm import LinearSVC

    if name in ("cnb", "mnb"):  # joint log-likelihood X · log θ (+ log prior for mnb): linear
        clf = ComplementNB(alpha=0.3) if name == "cnb" else MultinomialNB(alpha=0.1)
        clf.fit(X, labels)
        coef = np.ascontiguousarray(clf.feature_log_prob_.T.astype(np.float32))
        prior = clf.class_log_prior_ if name == "mnb" else np.zeros(len(clf.classes_))
        return [str(c) for c in clf.classes_], coef, prior.astype(np.float32)
    if name == "centroid":  # cosine with each class's mean vector (Rocchio)
        classes = sorted({str(y) for y in labels})
        y = np.array([classes.index(str(v)) for v in labels])
        cent = np.vstack([np.asarray(X[y == j].mean(axis=0)).ravel() for j in range(len(classes))])
        cent /= np.linalg.norm(cent, axis=1, keepdims=True) + 1e-9
        return classes, np.ascontiguousarray(cent.T.astype(np.float32)), np.zeros(len(classes), np.float32)
    if name == "svm":
        clf = LinearSVC(C=float(cfg.get("C", 0.5)), class_weight="balanced", max_iter=5000, random_state=0)
        half = 1.0
    elif name == "lr":
        clf = LogisticRegression(C=10.0, class_weight="balanced", solver="newton-cg", max_iter=1000)
        half = 0.5  # binary: softmax of ±s/2 is the logistic probability
    else:
        raise ValueError(f"unknown scorer {name!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, labels)
    classes = [str(c) for c in clf.classes_]
    coef = clf.coef_.astype(np.float32)
    intercept = np.asarray(clf.intercept_, dtype=np.float32)
    if len(classes) == 2:  # binary: one hyperplane; make it two symmetric columns
        coef = np.vstack([-coef[0], coef[0]]) * half
        intercept = np.array([-intercept[0], intercept[0]], dtype=np.float32) * half
    return classes, np.ascontiguousarray(coef.T), intercept


def _lex_block(prepared, codes, lex_terms, weight):
    from scipy.sparse import csr_matrix

    m = _lex_matcher(lex_terms)
    index = {c: i for i, c in enumerate(codes)}
    rows, cols, vals = [], [], []
    for r, t in enumerate(prepared):
        for code, n in m.label_counts(t).items():
            rows.append(r)
            cols.append(index[code])
            vals.append(math.log1p(n) * weight)
    return csr_matrix((vals, (rows, cols)), shape=(len(prepared), len(codes)), dtype=np.float32)


def _artifact(prepared, labels, cfg, lex_terms, profile, components=("svm",)) -> ModelArtifact:
    classes, features, idf, coef, intercept, codes, lex_coef = _fit(prepared, labels, cfg, lex_terms, components)
    return ModelArtifact(labels=classes, config=dict(cfg), features=features, idf=idf, coef=coef,
                         intercept=intercept, lex_codes=codes,
                         lex_terms={c: lex_terms[c] for c in codes}, lex_coef=lex_coef, profile=profile,
                         n_train=len(prepared), components=tuple(components),
                         component_temperatures=DEFAULT_TEMPERATURES[:len(components)] if len(components) > 1 else (1.0,),
                         temperature=3.0 if len(components) == 1 else DEFAULT_TEMPERATURE)


def _subset(model: ModelArtifact, components) -> ModelArtifact:
    """The same model with only some of its scorers (their columns)."""
    k = len(model.labels)
    cols = np.concatenate([np.arange(k) + model.components.index(c) * k for c in components])
    temps = [model.component_temperatures[model.components.index(c)] for c in components]
    return ModelArtifact(labels=model.labels, config=model.config, features=model.features, idf=model.idf,
                         coef=np.ascontiguousarray(model.coef[:, cols]), intercept=model.intercept[cols],
                         lex_codes=model.lex_codes, lex_terms=model.lex_terms,
                         lex_coef=np.ascontiguousarray(model.lex_coef[:, cols]), temperature=model.temperature,
                         components=tuple(components), component_temperatures=tuple(temps),
                         profile=model.profile, n_train=model.n_train)


def _log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _best_temperature(scores, truth, grid) -> float:
    """The temperature of the grid with the lowest negative log-likelihood of ``truth``."""
    rows = np.arange(len(truth))
    nll = [-float(_log_softmax(scores * t)[rows, truth].mean()) for t in grid]
    return float(grid[int(np.argmin(nll))])


def _calibrate(model: ModelArtifact, prepared, labels) -> None:
    """Fit each scorer's temperature, then the temperature of their sum (the confidences),
    by log-likelihood on held-out texts (later than the ones the model was fitted on)."""
    index = {c: i for i, c in enumerate(model.labels)}
    ok = [(t, index[y]) for t, y in zip(prepared, labels) if y in index]
    if not ok:
        return
    raw = np.array([model._raw(t)[0] for t, _ in ok], dtype=np.float64)
    truth = np.array([j for _, j in ok])
    k = len(model.labels)
    temps, ens = [], 0.0
    for c in range(len(model.components)):
        s = raw[:, c * k:(c + 1) * k]
        t = _best_temperature(s, truth, (0.25, 0.5, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256))
        temps.append(t)
        ens = ens + _log_softmax(s * t)
    model.set_temperatures(temps, _best_temperature(ens, truth, (0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0)))


def train(texts, labels, *, profile: str | None = None, features: str | dict = "auto",
          validation: float = 0.2, min_count: int = 2, extra_dirs=None, verbose: bool = False) -> ModelArtifact:
    """Train a category model.  ``texts``/``labels`` should be in time order (oldest
    first): the last ``validation`` share is used to choose the features (``"auto"``)
    and the confidence temperature, then the model is refitted on everything.
    ``features``: "auto", a name of CANDIDATES, or a config dict.  "auto" scores each
    candidate on up to two time-ordered validation windows by macro-F1 + 0.5 × top-3.
    Rows with an empty text or label are skipped; labels with fewer than ``min_count``
    examples are left out (listed in ``metrics["dropped_labels"]``): a model cannot learn
    them, and predicting them only adds errors (e.g. retired category names)."""
    t0 = time.perf_counter()
    pairs = [(prepare(t), str(y).strip()) for t, y in zip(texts, labels)
             if isinstance(t, str) and t.strip() and y is not None and str(y).strip()]
    counts = Counter(y for _, y in pairs)
    dropped = {y: n for y, n in counts.items() if n < min_count}
    if dropped and len(counts) - len(dropped) >= 2:
        pairs = [(t, y) for t, y in pairs if y not in dropped]
    else:
        dropped = {}
    if len(pairs) < 2 or len({y for _, y in pairs}) < 2:
        raise ValueError("training needs at least 2 labelled texts and 2 distinct labels")
    prepared = [p for p, _ in pairs]
    ys = [y for _, y in pairs]
    lex_terms = _lexicon_terms(profile, extra_dirs)
    en_share = sum(1 for t in prepared[:500] if not any("\u4e00" <= c <= "\u9fff" for c in t[:200])) / min(len(prepared), 500)
    if isinstance(features, dict):
        candidates = {"custom": features}
    elif features == "auto":
        names = AUTO_EN if en_share > 0.5 else AUTO_ZH
        candidates = {n: CANDIDATES[n] for n in names}
    else:
        candidates = {features: CANDIDATES[features]}
    n_val = int(len(prepared) * validation) if validation else 0
    selection = {}
    best_name = next(iter(candidates))
    calibration = None
    # Time-ordered validation windows: the last share, and the share before it when the
    # data is small (two windows make the choice less noisy on small histories; above
    # 5,000 texts one window is stable enough and keeps training time down).
    windows = []
    if n_val >= 20:
        windows.append((len(prepared) - n_val, len(prepared)))
        if len(candidates) > 1 and len(prepared) - 2 * n_val >= max(50, n_val) and len(prepared) <= 5000:
            windows.append((len(prepared) - 2 * n_val, len(prepared) - n_val))
    windows = [(a, b) for a, b in windows if len(set(ys[:a])) >= 2]
    rankers = RANKERS
    if windows:
        options = []  # (score, n_features, order, name, rankers, temperatures)
        for name, cfg in candidates.items():
            per: dict[tuple, list] = {rk: [] for rk in RANKER_SETS}
            temps: dict[tuple, dict] = {}
            size = 0
            for a, b in windows:
                if len(candidates) == 1 and (a, b) != windows[0]:
                    continue
                # The model as deployed, ranked by the SVM alone and by the ensemble, with
                # the temperatures fitted on this window.
                full = _artifact(prepared[:a], ys[:a], cfg, lex_terms, profile, RANKERS)
                size = max(size, len(full.features))
                for rk in RANKER_SETS:
                    m = full if rk == RANKERS else _subset(full, rk)
                    _calibrate(m, prepared[a:b], ys[a:b])
                    temps.setdefault(rk, {"component_temperatures": m.component_temperatures,
                                          "temperature": m.temperature})
                    per[rk].append(_evaluate_prepared(m, prepared[a:b], ys[a:b], detail=False))
            for rk in RANKER_SETS:
                avg = {k: round(sum(r[k] for r in per[rk]) / len(per[rk]), 4)
                       for k in ("macro_f1", "accuracy", "top3_accuracy")}
                label = name if rk == RANKERS else f"{name} (svm ranking)"
                selection[label] = {**avg, "n_features": size}
                if verbose:
                    print(f"  candidate {label}: {selection[label]}")
                score = avg["macro_f1"] + 0.5 * avg["top3_accuracy"]
                options.append((score, size, len(options), name, rk, temps[rk]))
        # The smallest model (fastest, least prone to overfit) among those within
        # SELECTION_MARGIN of the best score; for the same features the better ranking
        # (the SVM alone on a tie).
        top = max(o[0] for o in options)
        _, _, _, best_name, rankers, calibration = min(
            (o for o in options if o[0] >= top - SELECTION_MARGIN), key=lambda o: (o[1], -o[0], o[2]))
    model = _artifact(prepared, ys, candidates[best_name], lex_terms, profile, rankers)
    if calibration:
        model.set_temperatures(calibration["component_temperatures"], calibration["temperature"])
    model.config["name"] = best_name
    model.metrics = {"selection": selection, "chosen": best_name, "rankers": list(rankers), "calibration": calibration,
                     "n_train": len(prepared), "dropped_labels": dropped,
                     "n_validation": n_val, "train_seconds": round(time.perf_counter() - t0, 2),
                     "label_counts": dict(Counter(ys).most_common())}
    model.created_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return model.collapsed()


# ---------------------------------------------------------------------- evaluation
def _evaluate_prepared(model: ModelArtifact, prepared, labels, detail=True) -> dict:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    preds, hit3 = [], 0
    for t, y in zip(prepared, labels):
        order = model._infer(t)[0][:3]
        top = [model.labels[i] for i in order]
        preds.append(top[0])
        hit3 += y in top
    n = len(labels)
    res = {"n": n,
           "accuracy": float(accuracy_score(labels, preds)) if n else 0.0,
           "macro_f1": float(f1_score(labels, preds, average="macro", zero_division=0)) if n else 0.0,
           "top3_accuracy": hit3 / n if n else 0.0}
    if detail and n:
        present = sorted(set(labels) | set(preds))
        p, r, f, s = precision_recall_fscore_support(labels, preds, labels=present, zero_division=0)
        res["per_class"] = {c: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                                "f1": round(float(f[i]), 4), "support": int(s[i])} for i, c in enumerate(present)}
        res["confusion"] = {"labels": present, "matrix": confusion_matrix(labels, preds, labels=present).tolist()}
        res["unknown_labels"] = sorted(set(labels) - set(model.labels))
    return res


def evaluate(model: ModelArtifact, texts, labels) -> dict:
    """accuracy, macro_f1, top3_accuracy, n, per_class {label: precision/recall/f1/support},
    confusion {labels, matrix} (rows: true, columns: predicted).  Empty rows are skipped."""
    pairs = [(prepare(t), str(y).strip()) for t, y in zip(texts, labels)
             if isinstance(t, str) and t.strip() and y is not None and str(y).strip()]
    return _evaluate_prepared(model, [p for p, _ in pairs], [y for _, y in pairs])


# ---------------------------------------------------------------------- storage
def _new_version(model: ModelArtifact) -> str:
    h = hashlib.sha1()
    h.update(json.dumps(model.labels, ensure_ascii=False).encode())
    h.update(model.coef.tobytes()[:1_000_000])
    h.update(str(time.time_ns()).encode())
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S") + "-" + h.hexdigest()[:6]


def save_model(model: ModelArtifact, models_dir=None, *, activate_now: bool = True, metrics: dict | None = None) -> str:
    """Write a new version directory (atomically renamed into place), then switch the
    ACTIVE pointer to it unless ``activate_now`` is false.  Returns the version."""
    models_dir = Path(models_dir or default_models_dir())
    models_dir.mkdir(parents=True, exist_ok=True)
    version = _new_version(model)
    if metrics:
        model.metrics = {**model.metrics, **metrics}
    tmp = models_dir / f".tmp-{version}-{os.getpid()}"
    tmp.mkdir()
    meta = {"format": FORMAT, "version": version, "created_at": model.created_at, "labels": model.labels,
            "config": model.config, "profile": model.profile, "temperature": model.temperature,
            "components": list(model.components), "component_temperatures": list(model.component_temperatures),
            "lex_codes": model.lex_codes, "lex_terms": model.lex_terms, "n_train": model.n_train,
            "metrics": model.metrics}
    (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    (tmp / "metrics.json").write_text(json.dumps(model.metrics, ensure_ascii=False, indent=1), encoding="utf-8")
    (tmp / "features.json").write_text(json.dumps(model.features, ensure_ascii=False), encoding="utf-8")
    np.savez(tmp / "weights.npz", idf=model.idf, coef=model.coef, intercept=model.intercept, lex_coef=model.lex_coef)
    os.replace(tmp, models_dir / version)
    model.version = version
    if activate_now:
        activate(models_dir, version)
    return version


def activate(models_dir, version: str) -> None:
    """Make ``version`` the active model (atomic switch of the ACTIVE file)."""
    models_dir = Path(models_dir)
    if not version or "/" in version or "\\" in version or version.startswith(".") or not (models_dir / version / "meta.json").is_file():
        raise FileNotFoundError(f"no model version {version!r} in {models_dir}")
    tmp = models_dir / f".ACTIVE.{os.getpid()}.tmp"
    tmp.write_text(version + "\n", encoding="utf-8")
    os.replace(tmp, models_dir / ACTIVE_FILE)


def active_version(models_dir=None) -> str | None:
    p = Path(models_dir or default_models_dir()) / ACTIVE_FILE
    try:
        v = p.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return v or None


def list_versions(models_dir=None) -> list[dict]:
    """Versions (oldest first) with their created_at, chosen features and metrics."""
    models_dir = Path(models_dir or default_models_dir())
    active = active_version(models_dir)
    out = []
    if not models_dir.is_dir():
        return out
    for d in sorted(models_dir.iterdir()):
        if d.is_dir() and not d.name.startswith(".") and (d / "meta.json").is_file():
            try:
                meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            out.append({"version": d.name, "active": d.name == active, "created_at": meta.get("created_at"),
                        "n_train": meta.get("n_train"), "config": meta.get("config"),
                        "metrics": {k: v for k, v in (meta.get("metrics") or {}).items() if k in ("evaluation", "chosen", "n_train")}})
    return out


def load_model(path) -> ModelArtifact:
    path = Path(path)
    meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: unsupported model format {meta.get('format')!r}")
    features = json.loads((path / "features.json").read_text(encoding="utf-8"))
    with np.load(path / "weights.npz") as w:
        idf, coef, intercept, lex_coef = w["idf"], w["coef"], w["intercept"], w["lex_coef"]
    cfg = meta["config"]
    if cfg.get("char"):
        cfg["char"] = list(cfg["char"])
    return ModelArtifact(labels=meta["labels"], config=cfg, features=features, idf=idf, coef=coef,
                         intercept=intercept, lex_codes=meta["lex_codes"], lex_terms=meta["lex_terms"],
                         lex_coef=lex_coef, temperature=float(meta.get("temperature", 3.0)),
                         components=tuple(meta.get("components") or ("svm",)),
                         component_temperatures=tuple(meta.get("component_temperatures") or (1.0,)),
                         profile=meta.get("profile"), metrics=meta.get("metrics") or {},
                         version=meta["version"], created_at=meta.get("created_at"), n_train=meta.get("n_train", 0))


def load_active(models_dir=None) -> ModelArtifact | None:
    """The active model, or None when none was trained yet (cold start: lexicon rules)."""
    models_dir = Path(models_dir or default_models_dir())
    v = active_version(models_dir)
    if v is None:
        return None
    return load_model(models_dir / v)


def ensure_active_model(models_dir=None):
    """Make the module-level model (used by analyze()) follow ``<models_dir>/ACTIVE``.

    Cheap enough to call before each analysis (one small file read): reloads only when
    the ACTIVE version changed (e.g. another process trained or rolled back), and sets
    None when there is no active model.  A model that fails to load is reported by the
    exception; the previous model stays in use."""
    from .analyzer import get_active_model, set_active_model

    models_dir = Path(models_dir or default_models_dir())
    version = active_version(models_dir)
    current = get_active_model()
    if version is None:
        if current is not None:
            set_active_model(None)
        return None
    if current is not None and getattr(current, "version", None) == version:
        return current
    model = load_model(models_dir / version)
    set_active_model(model)
    return model
