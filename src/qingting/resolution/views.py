"""Resolution pages: parse the form, call a service, redirect back (or re-render with the error).

Every form posts to one of these views and comes back to `next` (the complaint's detail page
when the panel is included there, else /resolution/<number>/).
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.views.decorators.http import require_POST

from qingting.accounts import access
from qingting.core.errors import NotFound, ServiceError

from . import queries, services
from .models import ApprovalRequest, Case


def _lang() -> str:
    return "en" if (get_language() or "").startswith("en") else "zh"


def _get(request, number):
    try:
        return access.access_complaint(request.user, number)
    except NotFound:
        raise Http404("投诉单不存在或无权查看") from None


def _back(request, number, anchor="resolution"):
    nxt = request.POST.get("next") or request.GET.get("next") or ""
    if nxt and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        return redirect(nxt.split("#")[0] + f"#{anchor}")
    return redirect(reverse("resolution:complaint", args=[number]) + f"#{anchor}")


def _do(request, number, call, ok: str, anchor="resolution"):
    try:
        result = call()
    except ServiceError as exc:
        messages.error(request, exc.message(_lang()))
        return _back(request, number, anchor)
    if callable(ok):
        ok = ok(result)
    if ok:
        messages.success(request, ok)
    return _back(request, number, anchor)


def panel_context(request, c) -> dict:
    """Context for resolution/_panel.html (also used by the {% resolution_panel %} tag)."""
    return {"c": c, "res": queries.panel_data(c, request.user), "next": request.get_full_path(),
            "request": request}


@login_required
def complaint_page(request, number):
    c = _get(request, number)
    ctx = panel_context(request, c)
    ctx["similar"] = queries.similar_for(c, request.user)
    return render(request, "resolution/complaint.html", ctx)


@login_required
@require_POST
def propose(request, number):
    p = request.POST
    return _do(request, number, lambda: services.propose_plan(
        number, actor=request.user, option=p.get("option", ""), description=p.get("description", ""),
        amount=p.get("amount"), compensation_kind=p.get("compensation_kind", ""),
        scope_items=p.getlist("scope_items"), promise=p.get("promise", ""), promise_hours=p.get("promise_hours"),
        promise_code=p.get("promise_code", ""), reason=p.get("reason", "")),
        lambda plan: "方案已提交审批" if plan.state == "pending_approval" else "方案已保存，可以向客户提出")


@login_required
@require_POST
def decide(request, request_id):
    req = ApprovalRequest.objects.select_related("complaint").filter(pk=request_id).first()
    if req is None or not access.can_view(request.user, req.complaint):
        raise Http404
    approve = request.POST.get("decision") == "approve"
    return _do(request, req.complaint.number, lambda: services.decide_approval(
        request_id, actor=request.user, approve=approve, note=request.POST.get("note", "")),
        "已批准" if approve else "已驳回")


@login_required
@require_POST
def answer(request, plan_id):
    from .models import ResolutionPlan

    plan = ResolutionPlan.objects.select_related("complaint").filter(pk=plan_id).first()
    if plan is None or not access.can_view(request.user, plan.complaint):
        raise Http404
    p = request.POST

    def call():
        rnd, warning = services.record_answer(plan_id, actor=request.user, answer=p.get("answer", ""),
                                              reason=p.get("reason", ""), counter_amount=p.get("counter_amount"))
        if warning:
            messages.warning(request, warning)
        return rnd

    return _do(request, plan.complaint.number, call, "已记录客户意见")


@login_required
@require_POST
def add_task(request, plan_id):
    from .models import ResolutionPlan

    plan = ResolutionPlan.objects.select_related("complaint").filter(pk=plan_id).first()
    if plan is None or not access.can_view(request.user, plan.complaint):
        raise Http404
    p = request.POST
    return _do(request, plan.complaint.number, lambda: services.add_task(
        plan_id, actor=request.user, title=p.get("title", ""), owner=p.get("owner") or None,
        due_at=p.get("due_at")), "已添加落实任务")


@login_required
@require_POST
def task_done(request, task_id):
    from .models import ImplementationTask

    t = ImplementationTask.objects.select_related("complaint").filter(pk=task_id).first()
    if t is None or not access.can_view(request.user, t.complaint):
        raise Http404
    return _do(request, t.complaint.number, lambda: services.complete_task(task_id, actor=request.user), "任务已完成")


@login_required
@require_POST
def followup(request, followup_id):
    from .models import FollowUp

    fu = FollowUp.objects.select_related("complaint").filter(pk=followup_id).first()
    if fu is None or not access.can_view(request.user, fu.complaint):
        raise Http404
    p = request.POST

    def ok(result):
        if result["reopened"]:
            return "已记录：客户不满意，投诉已退回重新处理"
        if result["flagged_to"]:
            return f"已记录，并已提交主管 {result['flagged_to']} 处理"
        if result["retry"]:
            return "已记录：未联系上，已安排下一次回访"
        return "回访已记录"

    return _do(request, fu.complaint.number, lambda: services.record_followup(
        followup_id, actor=request.user, outcome=p.get("outcome", ""), notes=p.get("notes", ""),
        send_survey=bool(p.get("send_survey"))), ok, anchor="followup")


@login_required
@require_POST
def root_cause(request, number):
    p = request.POST
    return _do(request, number, lambda: services.record_root_cause(
        number, actor=request.user, cause=p.get("cause", ""), touchpoint=p.get("touchpoint", ""),
        detail=p.get("detail", ""), lessons=p.get("lessons", "")), "根本原因已记录", anchor="closed-loop")


@login_required
@require_POST
def close(request, number):
    return _do(request, number, lambda: services.close_with_loop(
        number, actor=request.user, override_reason=request.POST.get("override_reason", "")), "投诉已闭环办结",
        anchor="closed-loop")


@login_required
@require_POST
def add_action(request, number):
    p = request.POST
    return _do(request, number, lambda: services.add_corrective_action(
        number, actor=request.user, kind=p.get("kind", ""), description=p.get("description", ""),
        owner=p.get("owner") or None, due_at=p.get("due_at")), "整改措施已添加", anchor="closed-loop")


@login_required
@require_POST
def action_step(request, action_id, what):
    from .models import CorrectiveAction

    a = CorrectiveAction.objects.select_related("complaint").filter(pk=action_id).first()
    if a is None or not access.can_view(request.user, a.complaint):
        raise Http404
    p = request.POST
    if what == "done":
        call = lambda: services.complete_action(action_id, actor=request.user, note=p.get("note", ""))  # noqa: E731
    else:
        call = lambda: services.check_action(action_id, actor=request.user,  # noqa: E731
                                             effective=p.get("effective") == "yes", note=p.get("note", ""))
    return _do(request, a.complaint.number, call, "已更新", anchor="closed-loop")


@login_required
@require_POST
def add_to_library(request, number):
    return _do(request, number, lambda: services.add_to_library(number, actor=request.user,
                                                                title=request.POST.get("title", "")),
               "已加入案例库（个人信息已脱敏）", anchor="closed-loop")


@login_required
def similar_panel(request, number):
    """The similar-cases snippet alone (for HTMX: hx-get, hx-trigger="load")."""
    c = _get(request, number)
    return render(request, "resolution/_similar_cases.html", {"similar": queries.similar_for(c, request.user)})


@login_required
def followups(request):
    mine, flagged = services.followups_due_for(request.user)
    return render(request, "resolution/followups.html", {"mine": mine, "flagged": flagged})


@login_required
def approvals(request):
    visible = access.complaints_for(request.user)
    pending = [a for a in ApprovalRequest.objects.filter(state="pending", complaint__in=visible)
               .select_related("complaint", "plan", "requested_by").order_by("requested_at")[:300]
               if services.may_decide(request.user, a)]
    return render(request, "resolution/approvals.html", {"pending": pending, "next": request.get_full_path()})


@login_required
def case_list(request):
    q = (request.GET.get("q") or "").strip()[:100]
    qs = Case.objects.all().order_by("-featured", "-updated_at")
    if q:
        from django.db.models import Q

        qs = qs.filter(Q(title__icontains=q) | Q(problem__icontains=q) | Q(lessons__icontains=q))
    return render(request, "resolution/cases.html", {"cases": qs[:200], "q": q})


@login_required
def case_detail(request, case_id):
    case = Case.objects.filter(pk=case_id).first()
    if case is None:
        raise Http404
    return render(request, "resolution/case.html", {"case": case})
