"""Crisis pages: parse the request, call a service or a query, render. No rule lives here.

A ServiceError is shown as a flash message in the page's language; a crisis or hotspot that
does not exist is a 404; a role that may not see crisis pages gets 403.
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.views.decorators.http import require_POST

from qingting.accounts import access
from qingting.accounts.models import User
from qingting.complaints import queries as complaint_queries
from qingting.core.errors import NotFound, PermissionDenied, ServiceError

from . import export, forms, queries, services
from .models import (
    Crisis,
    CrisisStep,
    CrisisType,
    EscalationRule,
    MassActionKind,
    PublicationChannel,
    Severity,
    Stakeholder,
    StatementKind,
    TeamRole,
)


def _lang() -> str:
    return "en" if (get_language() or "").startswith("en") else "zh"


def _guard(request):
    try:
        access.require_crisis_view(request.user)
    except PermissionDenied as exc:
        raise DjangoPermissionDenied(exc.message(_lang()))


def _flash_error(request, exc: ServiceError):
    text = exc.message(_lang())
    if exc.problems:
        text += "（" + "、".join(p.zh if _lang() == "zh" else p.en for p in exc.problems) + "）"
    messages.error(request, text)


def _crisis_or_404(request, number) -> Crisis:
    try:
        return services.access_crisis(request.user, number)
    except NotFound:
        raise Http404
    except PermissionDenied as exc:
        raise DjangoPermissionDenied(exc.message(_lang()))


# ------------------------------------------------------------------ hotspots

@login_required
def hotspots(request):
    _guard(request)
    status = request.GET.get("status", "active")
    rows = queries.hotspots_for(request.user, status=status)
    for h in rows:
        h.spark = queries.sparkline(h.series, width=120, height=24)
    return render(request, "crisis/hotspots.html", {
        "hotspots": rows, "status": status, "proposals": queries.proposals_for(request.user),
        "open_crises": queries.crises_for(request.user, open_only=True), "may_manage": access.may_manage_crisis(request.user)})


@login_required
def hotspot(request, hotspot_id: int):
    _guard(request)
    try:
        ctx = queries.hotspot_detail(request.user, hotspot_id)
    except NotFound:
        raise Http404
    ctx.update({"open_crises": queries.crises_for(request.user, open_only=True), "types": CrisisType.objects.filter(active=True),
                "severities": Severity.objects.all(), "may_manage": access.may_manage_crisis(request.user)})
    return render(request, "crisis/hotspot.html", ctx)


@login_required
@require_POST
def hotspot_action(request, hotspot_id: int):
    _guard(request)
    op = request.POST.get("op")
    try:
        if op == "ack":
            services.acknowledge_hotspot(hotspot_id, actor=request.user)
            messages.success(request, "已确认关注")
        elif op == "dismiss":
            services.dismiss_hotspot(hotspot_id, actor=request.user, reason=request.POST.get("reason", ""))
            messages.success(request, "已忽略（原因已记录）")
        elif op == "open":
            c = services.open_crisis(actor=request.user, title=request.POST.get("title", ""),
                                     crisis_type=request.POST.get("crisis_type"), severity=request.POST.get("severity"),
                                     summary=request.POST.get("summary", ""), hotspot_id=hotspot_id)
            messages.success(request, f"已开启危机事件 {c.number}")
            return redirect("crisis:detail", number=c.number)
        elif op == "link":
            c = services.link_hotspot(hotspot_id, request.POST.get("crisis", ""), actor=request.user)
            messages.success(request, f"已关联到危机事件 {c.number}")
            return redirect("crisis:detail", number=c.number)
        else:
            messages.error(request, "未知操作")
    except ServiceError as exc:
        _flash_error(request, exc)
    return redirect("crisis:hotspot", hotspot_id=hotspot_id)


@login_required
@require_POST
def proposal_action(request, proposal_id: int):
    _guard(request)
    try:
        if request.POST.get("op") == "confirm":
            c = services.confirm_proposal(proposal_id, actor=request.user, title=request.POST.get("title") or None,
                                          crisis_type=request.POST.get("crisis_type") or None,
                                          severity=request.POST.get("severity") or None)
            messages.success(request, f"已确认并开启危机事件 {c.number}")
            return redirect("crisis:detail", number=c.number)
        services.decline_proposal(proposal_id, actor=request.user, reason=request.POST.get("reason", ""))
        messages.success(request, "已否决提议（原因已记录）")
    except ServiceError as exc:
        _flash_error(request, exc)
    return redirect("crisis:hotspots")


@login_required
def rules(request):
    _guard(request)
    if request.method == "POST":
        try:
            rule = services.update_rule(request.POST.get("rule"), request.POST, actor=request.user)
        except PermissionDenied as exc:
            raise DjangoPermissionDenied(exc.message(_lang())) from exc
        except ServiceError as exc:
            _flash_error(request, exc)
        else:
            messages.success(request, f"已保存规则「{rule.name}」")
        return redirect("crisis:rules")
    from .models import Hotspot, HotspotStatus

    dismissed = Hotspot.objects.filter(status=HotspotStatus.DISMISSED).order_by("-status_at")[:50]
    return render(request, "crisis/rules.html", {"rules": [(r, forms.RuleForm(instance=r)) for r in
                                                           EscalationRule.objects.all()],
                                                 "dismissed": dismissed, "may_decide": access.may_decide_crisis(request.user)})


# ------------------------------------------------------------------ crises

@login_required
def crises(request):
    _guard(request)
    return render(request, "crisis/crises.html", {"crises": queries.crises_for(request.user, q=request.GET.get("q", "")),
                                                  "q": request.GET.get("q", "")})


@login_required
def new_crisis(request):
    _guard(request)
    form = forms.CrisisForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            c = services.open_crisis(actor=request.user, title=d["title"], crisis_type=d["crisis_type"],
                                     severity=d["severity"], summary=d["summary"], line_to_take=d["line_to_take"],
                                     scope={"products": d["products"], "stores": d["stores"], "regions": d["regions"]},
                                     match={"about": forms.parse_about(d["match_about"]), "keywords": d["match_keywords"]})
            messages.success(request, f"已开启危机事件 {c.number}")
            return redirect("crisis:detail", number=c.number)
        except ServiceError as exc:
            _flash_error(request, exc)
    return render(request, "crisis/new.html", {"form": form})


@login_required
def detail(request, number: str):
    _guard(request)
    crisis = _crisis_or_404(request, number)
    ctx = queries.crisis_context(request.user, crisis)
    q = request.GET.get("q", "").strip()
    if q:
        rows, _ = complaint_queries.complaint_page(request.user, {"q": q, "limit": "50"})
        ctx["search_results"], ctx["q"] = rows, q
    ctx.update({"may_manage": access.may_manage_crisis(request.user), "roles": TeamRole.choices,
                "statement_kinds": StatementKind.choices, "channels": PublicationChannel.choices,
                "stakeholders": Stakeholder.choices, "mass_kinds": MassActionKind.choices,
                "message_fields": services.MESSAGE_FIELDS, "users": User.objects.filter(is_active=True).order_by("username"),
                "severities": Severity.objects.all(), "next_steps": [(s.value, s.label) for s in CrisisStep
                                                                     if s.value in _later(crisis.status)]})
    return render(request, "crisis/detail.html", ctx)


def _later(status):
    from .models import STEP_ORDER

    return STEP_ORDER[STEP_ORDER.index(status) + 1:]


def _post_list(request, key):
    return [v for v in request.POST.getlist(key) if v.strip()]


@login_required
@require_POST
def act(request, number: str):
    """One endpoint for the crisis page's forms; `op` names the service."""
    _guard(request)
    p, u = request.POST, request.user
    op = p.get("op", "")
    anchor = p.get("anchor", "")
    try:
        if op == "transition":
            services.transition_crisis(number, actor=u, to=p.get("to", ""), note=p.get("note", ""))
        elif op == "update":
            services.update_crisis(number, actor=u, changes={k: p[k] for k in ("line_to_take", "severity", "summary")
                                                             if k in p})
        elif op == "team":
            services.set_team_member(number, actor=u, username=p.get("username"), role=p.get("role", ""),
                                     remove=p.get("remove") == "1")
        elif op == "check":
            services.complete_checklist_item(number, p.get("item"), actor=u, note=p.get("note", ""))
        elif op == "task":
            services.add_task(number, actor=u, title=p.get("title", ""), department=p.get("department") or None,
                              owner=p.get("owner") or None, due_at=forms.parse_dt(p.get("due_at")))
        elif op == "task_done":
            services.complete_task(number, p.get("task"), actor=u)
        elif op == "decision":
            services.add_decision(number, actor=u, decision=p.get("decision", ""), rationale=p.get("rationale", ""))
        elif op == "link":
            r = services.link_complaints(number, actor=u, numbers=_post_list(request, "numbers") or
                                         p.get("numbers_text", "").replace("，", ",").replace("\n", ",").split(","))
            messages.success(request, f"已关联 {r['linked']} 件" + (f"；未找到：{'、'.join(r['not_found'])}"
                                                                  if r["not_found"] else ""))
        elif op == "unlink":
            services.unlink_complaint(number, p.get("complaint", ""), actor=u, reason=p.get("reason", ""))
        elif op == "mass":
            kind = p.get("kind", "")
            params = {"template": p.get("template", ""), "to": p.get("to", ""), "assignee": p.get("assignee", ""),
                      "tag": p.get("tag", ""), "offer": p.get("offer", "")}
            params = {k: v for k, v in params.items() if v}
            a = services.mass_action(number, actor=u, kind=kind, params=params)
            text = f"批量操作完成：{a.succeeded}/{a.total} 件成功"
            if a.failures:
                text += "；失败：" + "；".join(f"{f['number']}（{f['reason']}）" for f in a.failures[:20])
                messages.warning(request, text)
            else:
                messages.success(request, text)
        elif op == "draft":
            s = services.draft_statement(number, actor=u, kind=p.get("kind", ""), title=p.get("title", ""),
                                         body=p.get("body", ""))
            if s.check_result.get("findings"):
                messages.warning(request, "声明检查提示：" + "；".join(f["message_zh"] for f in s.check_result["findings"]))
        elif op == "review":
            services.review_statement(number, p.get("statement"), actor=u, approve=p.get("approve", "1") == "1",
                                      note=p.get("note", ""))
        elif op == "approve":
            services.approve_statement(number, p.get("statement"), actor=u, note=p.get("note", ""))
        elif op == "publish":
            services.publish_statement(number, p.get("statement"), actor=u, channel=p.get("channel", ""),
                                       note=p.get("note", ""))
        elif op == "communication":
            services.log_communication(number, actor=u, stakeholder=p.get("stakeholder", ""), summary=p.get("summary", ""),
                                       channel=p.get("channel", ""), direction=p.get("direction", "out"))
        elif op == "enquiry":
            services.add_enquiry(number, actor=u, from_name=p.get("from_name", ""), question=p.get("question", ""),
                                 organisation=p.get("organisation", ""), stakeholder=p.get("stakeholder") or "media")
        elif op == "answer":
            services.answer_enquiry(number, p.get("enquiry"), actor=u, answer=p.get("answer", ""))
        elif op == "review_save":
            services.save_review(number, actor=u, what_worked=p.get("what_worked"), what_did_not=p.get("what_did_not"),
                                 lessons=p.get("lessons"))
        elif op == "action":
            services.add_corrective_action(number, actor=u, title=p.get("title", ""), owner=p.get("owner"),
                                           due_date=p.get("due_date", ""))
        else:
            messages.error(request, "未知操作")
    except ServiceError as exc:
        _flash_error(request, exc)
    except NotFound:
        raise Http404
    return redirect(reverse("crisis:detail", kwargs={"number": number}) + (f"#{anchor}" if anchor else ""))


# ------------------------------------------------------------------ exports, handbook

@login_required
def review_export(request, number: str, fmt: str):
    _guard(request)
    crisis = _crisis_or_404(request, number)
    md = export.crisis_markdown(crisis)
    return _download(md, f"{crisis.number}-review", fmt, title=f"{crisis.number} 总结复盘")


@login_required
def handbook(request):
    _guard(request)
    data = queries.handbook(request.user, request.GET.get("q", "").strip())
    return render(request, "crisis/handbook.html", data)


@login_required
def handbook_export(request, fmt: str):
    _guard(request)
    data = queries.handbook(request.user, request.GET.get("q", "").strip())
    return _download(export.handbook_markdown(data), "crisis-handbook", fmt, title="危机处理手册")


def _download(md: str, name: str, fmt: str, *, title: str):
    if fmt == "md":
        resp = HttpResponse(md.encode("utf-8"), content_type="text/markdown; charset=utf-8")
    elif fmt == "pdf":
        resp = HttpResponse(export.markdown_pdf(md, title), content_type="application/pdf")
    else:
        raise Http404
    resp["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return resp


def banner_context(complaint) -> dict:
    return {"crisis_banner": queries.crisis_banner_for(complaint)}
