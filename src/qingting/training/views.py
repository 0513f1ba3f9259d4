"""Role-play pages (trainee) and trainer pages; the quiz."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from qingting.accounts import access
from qingting.accounts.models import Role, User
from qingting.core.errors import ServiceError

from . import services
from .engine import OUTCOMES, PRINCIPLES
from .models import Assignment, TrainingSession
from .quiz import load_quiz


@login_required
def home(request):
    scenarios = sorted(services.all_scenarios().values(), key=lambda s: (s.industry, s.persona))
    return render(request, "training/home.html", {
        "scenarios": scenarios,
        "assignments": Assignment.objects.filter(trainee=request.user).order_by("-created_at")[:50],
        "sessions": TrainingSession.objects.filter(trainee=request.user).order_by("-started_at")[:50],
        "is_trainer": access.is_supervising(request.user)})


@login_required
@require_POST
def start(request, scenario_id):
    try:
        ts = services.start_session(actor=request.user, scenario_id=scenario_id,
                                    assignment_id=request.POST.get("assignment") or None)
    except ServiceError as exc:
        messages.error(request, exc.zh)
        return redirect("training:home")
    return redirect("training:session", ts.pk)


@login_required
def session(request, session_id):
    ts = TrainingSession.objects.filter(pk=session_id).first()
    if ts is None or (ts.trainee_id != request.user.pk and not access.is_supervising(request.user)):
        raise Http404
    if request.method == "POST":
        try:
            services.say(session_id, actor=request.user, text=request.POST.get("text", ""))
        except ServiceError as exc:
            messages.error(request, exc.zh)
        return redirect(reverse("training:session", args=[session_id]) + "#say")
    s = services.replay(ts)
    result = s.result()
    return render(request, "training/session.html", {
        "ts": ts, "sc": s.scenario, "s": s, "result": result, "done": s.done,
        "outcome": OUTCOMES.get(result.outcome, (result.outcome, ""))[0],
        "principles": [(PRINCIPLES[k][0], v) for k, v in result.principles.items()]})


@login_required
def quiz(request):
    questions = load_quiz()
    graded = None
    if request.method == "POST":
        answers = {}
        for q in questions:
            vals = request.POST.getlist(q["id"])
            ints = [int(v) for v in vals if v.isdigit()]
            answers[q["id"]] = ints if q["multiple"] else (ints[0] if ints else None)
        attempt = services.take_quiz(actor=request.user, answers=answers)
        from .quiz import grade_quiz

        graded = grade_quiz(answers, questions)
        graded["attempt"] = attempt
    return render(request, "training/quiz.html", {"questions": questions, "graded": graded,
                                                  "explain": {d["id"]: d for d in (graded or {}).get("questions", [])}})


@login_required
def trainer(request):
    if not access.is_supervising(request.user):
        raise Http404
    if request.method == "POST":
        try:
            services.assign(actor=request.user, trainee=request.POST.get("trainee", ""),
                            scenario_id=request.POST.get("scenario", ""), note=request.POST.get("note", ""))
            messages.success(request, "演练已布置")
        except ServiceError as exc:
            messages.error(request, exc.zh)
        return redirect("training:trainer")
    per, weakest = services.team_summary(request.user)
    trainees = User.objects.filter(is_active=True, role__in=[Role.AGENT, Role.SUPERVISOR])
    if not access.sees_everything(request.user) and request.user.department_id:
        trainees = trainees.filter(department__path__startswith=request.user.department.path)
    return render(request, "training/trainer.html", {
        "per": sorted(per.items(), key=lambda kv: kv[0].username), "trainees": trainees.order_by("username")[:300],
        "weakest": [(PRINCIPLES.get(p, (p,))[0], v) for p, v in weakest],
        "scenarios": sorted(services.all_scenarios().values(), key=lambda s: s.id)})


@login_required
@require_POST
def from_complaint(request):
    """A trainer turns a closed complaint into a scenario."""
    try:
        row = services.scenario_from_complaint(request.POST.get("number", "").strip(), actor=request.user)
        messages.success(request, f"已生成演练情景：{row.title}")
    except ServiceError as exc:
        messages.error(request, exc.zh)
    return redirect("training:trainer")
