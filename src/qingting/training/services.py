"""Training actions (Django side); the simulation itself is the pure engine."""
from __future__ import annotations

import secrets

from django.db import transaction
from django.utils import timezone

from qingting.accounts import access
from qingting.accounts.models import User
from qingting.core.errors import Conflict, Invalid, NotFound, PermissionDenied

from .engine import Scenario, ScenarioError, Session, load_scenarios, parse_scenario
from .models import Assignment, CustomScenario, QuizAttempt, TrainingSession
from .quiz import grade_quiz, load_quiz

LINE_MAX = 2000


def all_scenarios() -> dict[str, Scenario]:
    """The shipped scenarios plus the active ones trainers made (which never shadow a shipped id)."""
    out = dict(load_scenarios())
    for row in CustomScenario.objects.filter(active=True).order_by("id"):
        if row.scenario_id in out:
            continue
        try:
            out[row.scenario_id] = parse_scenario(row.content, f"custom:{row.scenario_id}")
        except ScenarioError:
            continue  # validated on save; a later engine change must not take the page down
    return out


def scenario(scenario_id: str):
    sc = all_scenarios().get(str(scenario_id))
    if sc is None:
        raise NotFound("演练情景不存在", "No such scenario")
    return sc


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("\r", " ") + '"'


def scenario_from_complaint(number: str, *, actor) -> CustomScenario:
    """Turn a closed complaint into a role-play scenario: the customer's type, mood and words
    (personal data masked), with the customer lines of a shipped scenario of the same type."""
    import re

    if not access.is_supervising(actor):
        raise PermissionDenied("只有主管和管理层可以把投诉做成演练情景", "Only supervisors and managers may do this")
    c = access.access_complaint(actor, number)
    if c.closed_at is None:
        raise Conflict("只有已办结的投诉可以做成演练情景", "Only closed complaints can become scenarios", code="not_closed")
    try:
        from qingting.triage import mask_text
    except ImportError:  # pragma: no cover - triage ships with the product
        mask_text = lambda t: t  # noqa: E731
    persona = c.persona if c.persona and c.persona != "ordinary" else "emotional"
    shipped = [sc for sc in load_scenarios().values() if sc.persona == persona] or list(load_scenarios().values())
    template = sorted(shipped, key=lambda sc: sc.id)[0]
    text = mask_text(c.description).strip()
    opening = re.split(r"(?<=[。！？!?])", text, maxsplit=1)[0][:160] or c.subject
    anger = max(30, min(95, int(round((c.emotion_intensity or 0.5) * 100))))
    lessons = mask_text(c.lessons_learned or "").strip()
    background = f"{c.profile.name}投诉「{mask_text(c.subject)}」。{text[:300]}"
    if lessons:
        background += f"（处理后的经验：{lessons[:200]}）"
    sid = "case_" + re.sub(r"[^a-z0-9]+", "_", c.number.lower()).strip("_")
    lines = [f"id = {_toml_str(sid)}", f"title_zh = {_toml_str('真实案例：' + mask_text(c.subject)[:60])}",
             f"title_en = {_toml_str('Case ' + c.number)}", f"industry = {_toml_str(c.profile.name)}",
             f"persona = {_toml_str(persona)}", 'customer_name = "客户"', f"background_zh = {_toml_str(background)}",
             f"opening = {_toml_str(opening)}", f"turn_limit = {template.turn_limit}",
             f"escalation_branch = {_toml_str(template.escalation_branch)}"]
    if template.fault is not None:
        lines.append(f"fault = {'true' if template.fault else 'false'}")
    if template.approval_limit is not None:
        lines.append(f"approval_limit = {int(template.approval_limit)}")
    lines += ["", "[mood]", f"anger = {anger}", f"trust = {100 - anger}", "", "[branches]"]
    for name, values in template.lines.items():
        lines.append(f"{name} = [{', '.join(_toml_str(v) for v in values)}]")
    content = "\n".join(lines) + "\n"
    try:
        sc = parse_scenario(content, f"custom:{sid}")
    except ScenarioError as exc:
        raise Invalid(f"生成的情景无效：{exc}", f"The generated scenario is invalid: {exc}") from None
    with transaction.atomic(durable=True):
        row, _ = CustomScenario.objects.update_or_create(
            scenario_id=sid, defaults={"title": sc.title_zh, "content": content, "source_number": c.number,
                                       "created_by": actor, "active": True})
    return row


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
