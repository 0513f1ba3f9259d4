"""Training actions (Django side); the simulation itself is the pure engine."""
from __future__ import annotations

import secrets

from django.db import transaction
from django.utils import timezone

from qingting.accounts import access
from qingting.accounts.models import User
from qingting.core.errors import Conflict, Invalid, NotFound, PermissionDenied

from .engine import Session, load_scenarios
from .models import Assignment, QuizAttempt, TrainingSession
from .quiz import grade_quiz, load_quiz

LINE_MAX = 2000


def scenario(scenario_id: str):
    sc = load_scenarios().get(str(scenario_id))
    if sc is None:
        raise NotFound("演练情景不存在", "No such scenario")
    return sc


def start_session(*, actor, scenario_id: str, assignment_id: int | None = None, seed: int | None = None) -> TrainingSession:
    scenario(scenario_id)
    assignment = None
    if assignment_id:
        assignment = Assignment.objects.filter(pk=assignment_id, trainee=actor).first()
    return TrainingSession.objects.create(trainee=actor, scenario_id=scenario_id, assignment=assignment,
                                          seed=seed if seed is not None else secrets.randbelow(1_000_000))


def replay(ts: TrainingSession) -> Session:
    return Session.replay(scenario(ts.scenario_id), ts.seed, ts.lines)


def say(session_id: int, *, actor, text: str):
    text = str(text or "").strip()
    if not text:
        raise Invalid("请输入您要对客户说的话", "Say something to the customer", fields={"text": "required"})
    if len(text) > LINE_MAX:
        raise Invalid(f"一次最多 {LINE_MAX} 字", f"At most {LINE_MAX} characters", fields={"text": "too long"})
    with transaction.atomic(durable=True):
        ts = TrainingSession.objects.select_for_update().filter(pk=session_id, trainee=actor).first()
        if ts is None:
            raise NotFound("演练不存在", "No such session")
        if ts.finished_at:
            raise Conflict("演练已结束", "The session has ended", code="ended")
        s = replay(ts)
        turn = s.reply(text)
        ts.lines = [*ts.lines, text]
        fields = ["lines"]
        if s.done:
            r = s.result()
            ts.outcome, ts.score, ts.principles, ts.finished_at = r.outcome, r.score, r.principles, timezone.now()
            fields += ["outcome", "score", "principles", "finished_at"]
        ts.save(update_fields=fields)
        return ts, turn


def assign(*, actor, trainee: str, scenario_id: str, note: str = "") -> Assignment:
    if not access.is_supervising(actor):
        raise PermissionDenied("只有主管或管理层可以布置演练", "Only supervisors and managers assign training")
    scenario(scenario_id)
    person = User.objects.filter(username=str(trainee).strip(), is_active=True).first()
    if person is None:
        raise Invalid(f"用户「{trainee}」不存在", f"Unknown user {trainee!r}", fields={"trainee": "unknown"})
    return Assignment.objects.create(trainer=actor, trainee=person, scenario_id=scenario_id, note=str(note)[:200])


def take_quiz(*, actor, answers: dict) -> QuizAttempt:
    graded = grade_quiz(answers, load_quiz())
    return QuizAttempt.objects.create(user=actor, score=graded["score"], by_principle=graded["by_principle"],
                                      answers={k: v for k, v in answers.items()})


def team_summary(user):
    """Sessions per trainee over time and the team's weakest principles (finished sessions)."""
    qs = TrainingSession.objects.filter(finished_at__isnull=False).select_related("trainee")
    if not access.sees_everything(user):
        qs = qs.filter(trainee__department__path__startswith=user.department.path) if user.department_id \
            else qs.filter(trainee=user)
    per: dict = {}
    totals: dict[str, list[int]] = {}
    for ts in qs.order_by("finished_at")[:5000]:
        per.setdefault(ts.trainee, []).append(ts)
        for p, v in (ts.principles or {}).items():
            totals.setdefault(p, []).append(int(v))
    weakest = sorted(((p, round(sum(v) / len(v))) for p, v in totals.items()), key=lambda kv: kv[1])
    return per, weakest
