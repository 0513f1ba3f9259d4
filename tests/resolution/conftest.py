import pytest


@pytest.fixture(autouse=True)
def _tfidf_by_default(monkeypatch):
    """Unit tests use the TF-IDF backend (fast); test_similar.py exercises the embedder."""
    monkeypatch.setenv("QINGTING_SIMILAR_BACKEND", "tfidf")
    from qingting.resolution import similar

    similar.clear_cache()
    yield
    similar.clear_cache()


@pytest.fixture
def at_act(new_complaint, people):
    """A complaint walked to 迅速行动 by the agent."""
    from qingting.complaints import services

    def make(**kw):
        c = new_complaint(**kw)
        a = people["agent"]
        services.transition_complaint(c.number, actor=a, to="soothe")
        services.transition_complaint(c.number, actor=a, to="apologize")
        services.transition_complaint(c.number, actor=a, to="confirm",
                                      data={"category": "sa_unresponsive", "facts": "三周未修好，配件未到"})
        services.transition_complaint(c.number, actor=a, to="act",
                                      data={"resolution_type": "repair", "action_plan": "催配件，提供代步车"})
        c.refresh_from_db()
        return c

    return make
