"""Reply assistant page, the agent's own care page, the supervisor's team care page."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language

from qingting.accounts import access
from qingting.core.errors import NotFound, ServiceError

from . import assistant, care
from .drafts import CHANNELS, PERSONAS, self_care_tips


def _get(request, number):
    try:
        return access.access_complaint(request.user, number)
    except NotFound:
        raise Http404 from None


def editor_context(request, c, *, text: str = "", draft: dict | None = None) -> dict:
    """Context for coaching/_reply_editor.html (also used by the {% reply_editor %} tag)."""
    draft = draft if draft is not None else assistant.draft_for(c, request.user)
    return {"c": c, "draft": draft, "text": text or draft["text"], "may_write": access.may_write(request.user),
            "care": care.break_suggestion(c, request.user), "request": request}


@login_required
def assistant_page(request, number):
    c = _get(request, number)
    if request.method == "POST" and request.POST.get("action") == "send":
        from qingting.complaints import services as complaint_services

        try:
            complaint_services.add_message(number, actor=request.user, body=request.POST.get("body", ""),
                                           direction="out")
        except ServiceError as exc:
            messages.error(request, exc.message("en" if (get_language() or "").startswith("en") else "zh"))
            return redirect(reverse("coaching:assistant", args=[number]))
        messages.success(request, "答复已发送并记录")
        return redirect(request.POST.get("next") or reverse("coaching:assistant", args=[number]))
    g = request.GET if request.method == "GET" else request.POST
    draft = assistant.draft_for(c, request.user, step=g.get("step"), channel=g.get("channel"),
                                persona=g.get("persona"), rephrase=request.method == "POST" and
                                g.get("action") == "rephrase")
    ctx = editor_context(request, c, draft=draft)
    ctx.update({"channels": CHANNELS, "personas": PERSONAS})
    return render(request, "coaching/assistant.html", ctx)


@login_required
def my_care(request):
    from qingting.accounts.models import User

    me = User.objects.filter(pk=request.user.pk)
    rows = [r for r in care.team_exposure(request.user) if r["agent"].pk == request.user.pk] if me else []
    return render(request, "coaching/care.html", {"thanks": care.thanks_for(request.user),
                                                  "exposure": rows[0] if rows else None,
                                                  "tips": self_care_tips("zh")})


@login_required
def team_care(request):
    if not access.is_supervising(request.user):
        raise Http404
    return render(request, "coaching/team_care.html", {"rows": care.team_exposure(request.user),
                                                       "week_start": care.week_start()})
