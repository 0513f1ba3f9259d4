"""Role-play through the pages: a session reaches a score; trainer pages; the quiz."""
import pytest

from qingting.training.engine import load_scenarios
from qingting.training.models import TrainingSession

pytestmark = pytest.mark.django_db

GOOD = [
    "{name}，您先别急，我非常理解您的心情，换作是我也会着急，给您添麻烦了，真的非常抱歉。",
    "为了尽快帮您解决，请问具体是什么时候发生的？您手上有相关的单据或照片吗？",
    "经核实，情况确实如您所说。我们可以为您免费处理，同时为您提供一次补偿，您看这样可以吗？",
    "我们明天下午5点前完成，我是专员李明，电话 400-800-1234，有任何问题随时找我。",
    "感谢您的理解，处理完成后我们会在3天内回访您，确认您满意。",
]


def _play(client, sid, lines):
    sc = load_scenarios()[sid]
    r = client.post(f"/training/start/{sid}/")
    assert r.status_code == 302
    ts = TrainingSession.objects.latest("id")
    i = 0
    while ts.finished_at is None and i < sc.turn_limit + 2:
        line = lines[min(i, len(lines) - 1)].replace("{name}", sc.customer_name)
        assert client.post(f"/training/sessions/{ts.pk}/", {"text": line}).status_code == 302
        ts.refresh_from_db()
        i += 1
    return ts


def test_role_play_session_via_pages_reaches_a_score(client, people):
    client.force_login(people["agent"])
    home = client.get("/training/").content.decode()
    sid = sorted(load_scenarios())[0]
    assert f'data-scenario="{sid}"' in home
    ts = _play(client, sid, GOOD)
    assert ts.finished_at and ts.score is not None and ts.outcome
    page = client.get(f"/training/sessions/{ts.pk}/").content.decode()
    assert "training-score" in page and str(ts.score) in page
    # the stored seed + lines replay to the same result
    from qingting.training import services
    assert services.replay(ts).result().score == ts.score
    assert client.post(f"/training/sessions/{ts.pk}/", {"text": "还有吗"}, follow=True).status_code == 200
    assert len(TrainingSession.objects.get(pk=ts.pk).lines) == len(ts.lines)  # ended: nothing added
    # someone else's session is not visible to an agent
    client.force_login(people["agent2"])
    assert client.get(f"/training/sessions/{ts.pk}/").status_code == 404


def test_bad_lines_score_lower_than_good(client, people):
    client.force_login(people["agent"])
    sid = sorted(load_scenarios())[1]
    good = _play(client, sid, GOOD)
    bad = _play(client, sid, ["这是您自己的问题，您应该早点看清楚。", "您说的不对，我们没有任何责任。"])
    assert good.score > bad.score + 20


def test_trainer_assigns_and_sees_weakest_principles(client, people):
    client.force_login(people["agent"])
    assert client.get("/training/trainer/").status_code == 404
    sid = sorted(load_scenarios())[0]
    _play(client, sid, ["这是您自己的问题。"])
    client.force_login(people["supervisor"])
    r = client.post("/training/trainer/", {"trainee": "agent_a", "scenario": sid, "note": "本周完成"}, follow=True)
    assert "演练已布置" in r.content.decode()
    page = client.get("/training/trainer/").content.decode()
    assert "团队最薄弱的原则" in page and "王专员" in page
    client.force_login(people["agent"])
    assert "本周完成" in client.get("/training/").content.decode()


def test_quiz_is_graded_and_stored(client, people):
    from qingting.training.models import QuizAttempt
    from qingting.training.quiz import load_quiz

    client.force_login(people["agent"])
    qs = load_quiz()
    data = {q["id"]: [str(a) for a in sorted(q["answer_set"])] for q in qs}
    r = client.post("/training/quiz/", data)
    assert r.status_code == 200 and QuizAttempt.objects.get(user=people["agent"]).score == 100
