"""SLA pages: supervisor panel (at-risk and breached, sortable by time left), a complaint's
deadlines with pause/resume/extension forms, and the policy preview. No rule lives here."""
from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.views.decorators.http import require_POST

from qingting.accounts import access
from qingting.complaints.models import Category, Channel, IndustryProfile, Priority
from qingting.core.errors import NotFound, ServiceError

from . import queries, services
from .context import calendar_warnings
from .presets import PAUSE_REASONS


def _msg(exc: ServiceError) -> str:
    return exc.message(get_language() or "zh")


def deadlines_for(complaint, now=None) -> list[dict]:
    """For the complaint detail page: `{% include "sla/_deadlines.html" with deadlines=… %}`."""
    return services.deadlines_for(complaint, now)


@login_required
def panel(request):
    if not access.is_supervising(request.user):
        raise Http404("只有主管和管理层可以查看此页")
    sort = request.GET.get("sort", "due")
    scope = request.GET.get("scope", "all")
    rows = queries.panel_for(request.user, sort=sort, scope=scope)
    return render(request, "sla/panel.html", {
        "rows": rows, "sort": sort, "scope": scope, "sla_calendar_warnings": calendar_warnings(),
        "n_breached": sum(1 for r in rows if r["state"] == "breached"),
        "n_risk": sum(1 for r in rows if r["state"] == "at_risk")})


def _get(request, number, write=False):
    try:
        return access.access_complaint(request.user, number, write=write)
    except NotFound:
        raise Http404("投诉单不存在或无权查看") from None


@login_required
def complaint_deadlines(request, number):
    c = _get(request, number)
    return render(request, "sla/complaint.html", {
        "complaint": c, "deadlines": deadlines_for(c), "may_write": access.can_act(request.user, c),
        "is_supervisor": access.is_supervising(request.user), "pause_reasons": PAUSE_REASONS})


def _back(number):
    return redirect(reverse("sla:complaint", args=[number]) + "#deadlines")


@login_required
@require_POST
def deadline_action(request, number, deadline_id, action):
    p = request.POST
    try:
        if action == "pause":
            services.pause_deadline(number, deadline_id, actor=request.user, reason=p.get("reason", ""),
                                    note=p.get("note", ""))
            messages.success(request, "已暂停计时")
        elif action == "resume":
            services.resume_deadline(number, deadline_id, actor=request.user, note=p.get("note", ""))
            messages.success(request, "已恢复计时")
        elif action == "extend":
            ext = services.request_extension(number, deadline_id, actor=request.user, amount=p.get("amount"),
                                             reason=p.get("reason", ""))
            messages.success(request, "已延期" if ext.status == "approved" else "延期申请已提交，等待主管审批")
        elif action == "complete":
            services.complete_deadline(number, deadline_id, actor=request.user)
            messages.success(request, "已标记完成")
        else:
            raise Http404()
    except ServiceError as exc:
        messages.error(request, _msg(exc))
    return _back(number)


@login_required
@require_POST
def decide(request, number, extension_id):
    try:
        services.decide_extension(number, extension_id, actor=request.user, approve=request.POST.get("approve") == "1",
                                  note=request.POST.get("note", ""))
        messages.success(request, "已处理延期申请")
    except ServiceError as exc:
        messages.error(request, _msg(exc))
    return _back(number)


@login_required
@require_POST
def promise(request, number):
    try:
        services.add_promise(number, actor=request.user, name=request.POST.get("name", ""),
                             note=request.POST.get("note", ""))
        messages.success(request, "已开始承诺计时")
    except ServiceError as exc:
        messages.error(request, _msg(exc))
    return _back(number)


@login_required
def preview(request):
    g = request.GET
    when = timezone.now()
    error = None
    if g.get("received_at"):
        try:
            when = dt.datetime.fromisoformat(g["received_at"])
            if timezone.is_naive(when):
                when = timezone.make_aware(when)
        except ValueError:
            error = "受理时间格式不正确（YYYY-MM-DDTHH:MM）"
    priority = g.get("priority") if g.get("priority") in Priority.values else "P3"
    channel = g.get("channel") if g.get("channel") in Channel.values else "phone"
    profile = g.get("profile") or "general"
    result = services.preview(received_at=when, priority=priority, category=g.get("category") or None,
                              channel=channel, profile=profile,
                              tags=[t.strip() for t in g.get("tags", "").split(",") if t.strip()])
    return render(request, "sla/preview.html", {
        "result": result, "when": timezone.localtime(when), "priority": priority, "channel": channel,
        "profile": profile, "category": g.get("category", ""), "tags": g.get("tags", ""), "error": error,
        "priorities": Priority.choices, "channels": Channel.choices,
        "profiles": IndustryProfile.objects.all(), "categories": Category.objects.filter(active=True).select_related("parent"),
        "sla_calendar_warnings": calendar_warnings()})
