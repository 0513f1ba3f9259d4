"""Workbench pages: parse the request, call a service or a query, render.

No rule lives here. Every change goes through `services.py`; every read through
`queries.py` / `accounts.access`. A ServiceError is shown next to the form it came from
(in the page's language), a complaint the user may not see is a 404.
"""
from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from qingting.accounts import access
from qingting.accounts.models import Department, Role, User
from qingting.core.context import event_label
from qingting.core.errors import NotFound, ServiceError
from qingting.core.text import normalise_mobile

from . import downloads, forms, hooks, queries, services, triage_link
from .highlight import evidence_segments
from .models import (
    Attachment,
    Category,
    Channel,
    Complaint,
    Customer,
    IndustryProfile,
    Message,
    Note,
    Priority,
    Step,
    StepOwner,
)

PAGE_SIZE = 50
LIST_DEFER = ("description", "search_keys", "triage", "facts", "action_plan", "root_cause", "lessons_learned", "about")

EVENT_LABELS = {
    "complaint.created": gettext_lazy("登记投诉"),
    "step.advanced": gettext_lazy("进入下一环节"),
    "step.returned": gettext_lazy("退回环节"),
    "step.reopened": gettext_lazy("重新打开"),
    "complaint.assigned": gettext_lazy("分派负责人"),
    "complaint.escalated": gettext_lazy("升级"),
    "note.added": gettext_lazy("内部备注"),
    "message.sent": gettext_lazy("回复客户"),
    "message.received": gettext_lazy("客户来信"),
    "resolution.refused": gettext_lazy("客户拒绝方案"),
    "triage.analyzed": gettext_lazy("智能分析"),
    "complaint.updated": gettext_lazy("修改信息"),
    "attachment.added": gettext_lazy("上传附件"),
}
FIELD_LABELS = {
    "subject": gettext_lazy("投诉简述"), "description": gettext_lazy("投诉内容"), "priority": gettext_lazy("优先级"),
    "category": gettext_lazy("投诉类别"), "department": gettext_lazy("部门"), "about": gettext_lazy("投诉对象"),
    "channel": gettext_lazy("渠道"),
}


def _lang() -> str:
    return "en" if (get_language() or "").startswith("en") else "zh"


def _msg(exc: ServiceError) -> str:
    return exc.message(_lang())


# ------------------------------------------------------------------ queues

def _filter_params(request) -> dict:
    """The GET filters for queries.parse_filters: blanks dropped, multi-values joined."""
    params = {}
    for key in request.GET:
        values = [v.strip() for v in request.GET.getlist(key) if v.strip()]
        if values:
            params[key] = ",".join(values)
    return params


def _filter_options(user) -> dict:
    steps, seen = [], set()
    for s in Step.objects.select_related("variant").order_by("-variant__is_default", "position"):
        if s.code not in seen:
            seen.add(s.code)
            steps.append(s)
    steps.sort(key=lambda s: s.position)
    depts = Department.objects.all()
    if not access.sees_everything(user) and user.department_id:
        depts = depts.filter(path__startswith=user.department.path)
    elif not access.sees_everything(user):
        depts = depts.none()
    return {
        "steps": steps,
        "priorities": Priority.choices,
        "channels": Channel.choices,
        "categories": Category.objects.filter(active=True, parent__isnull=True).order_by("position"),
        "departments": list(depts.order_by("path")[:300]),
        "assignees": _colleagues(user)[:300],
        **triage_link.label_choices(),
    }


def _colleagues(user):
    qs = User.objects.filter(is_active=True, role__in=[Role.AGENT, Role.SUPERVISOR]).select_related("department")
    if not access.sees_everything(user):
        if user.department_id:
            path = user.department.path
            if access.role_of(user) != Role.SUPERVISOR and user.department.parent_id:
                qs = qs.filter(department_id=user.department_id)
            else:
                qs = qs.filter(department__path__startswith=path)
        else:
            qs = qs.filter(pk=user.pk)
    return qs.order_by("department__path", "display_name", "username")


def _queue(request, scope: str):
    user = request.user
    params = _filter_params(request)
    defaults_open = scope in ("mine", "team") and "open" not in params
    error = None
    rows, next_cursor = [], None
    try:
        filters = queries.parse_filters({**params, **({"open": "1"} if defaults_open else {})})
        qs = queries.filtered_complaints(user, filters)
        if scope == "mine":
            owned = StepOwner.objects.filter(owner=user, completed_at__isnull=True).values("complaint_id")
            qs = qs.filter(Q(assignee=user) | Q(pk__in=owned))
        elif scope == "team":
            if user.department_id is None:
                qs = qs.none()
                error = _("您的账号没有所属部门，无法显示团队队列。")
            elif access.role_of(user) in (Role.SUPERVISOR, Role.MANAGER, Role.ADMIN):
                qs = qs.filter(department__path__startswith=user.department.path)
            else:
                qs = qs.filter(department_id=user.department_id)
        for annotate in hooks.queue_annotations:  # e.g. sla: next_due_at (剩余时限)
            qs = annotate(qs)
        qs = qs.select_related("step", "category", "department", "assignee", "customer").defer(*LIST_DEFER)
        rows, next_cursor = queries.paginate(qs, {**filters, "limit": filters.get("limit") or PAGE_SIZE})
    except ServiceError as exc:
        error = _msg(exc)
    show_due = bool(hooks.queue_annotations) and (not rows or any(hasattr(r, "next_due_at") for r in rows))
    more_url = None
    if next_cursor:
        more_params = {k: v for k, v in params.items() if k != "cursor"}
        more_params["cursor"] = next_cursor
        more_url = "?" + urlencode(more_params)
    titles = {"mine": _("我的队列"), "team": _("团队队列"), "all": _("全部投诉")}
    return render(request, "complaints/queue.html", {
        "scope": scope, "title": titles[scope], "rows": rows, "more_url": more_url, "error": error,
        "params": params, "open_default": defaults_open, "options": _filter_options(user),
        "first_page": "cursor" not in params, "active_filters": bool(set(params) - {"cursor"}),
        "export_url": _export_url(params),
        "show_due": show_due, "now": timezone.now(),
    }, status=422 if error and scope != "team" else 200)


def _export_url(params) -> str | None:
    """The export of this list (CSV/XLSX, visibility and masking applied) when an app provides one."""
    from django.urls import NoReverseMatch

    try:
        base = reverse("intake:export")
    except NoReverseMatch:
        return None
    return base + "?" + urlencode({k: v for k, v in params.items() if k != "cursor"})


@login_required
def queue(request):
    return _queue(request, "mine")


@login_required
def team_queue(request):
    return _queue(request, "team")


@login_required
def all_complaints(request):
    return _queue(request, "all")


# ------------------------------------------------------------------ supervisor view

@login_required
def supervisor(request):
    user = request.user
    if not access.is_supervising(user):
        raise Http404(_("只有主管和管理层可以查看此页"))
    team = access.complaints_for(user).filter(closed_at__isnull=True)
    dept = user.department
    if dept is not None:
        team = team.filter(department__path__startswith=dept.path)
    by_step = list(team.values("step__code", "step__name", "step__position")
                   .annotate(n=Count("id"), p1=Count("id", filter=Q(priority="P1")),
                             escalated=Count("id", filter=Q(escalation_level__gt=0)))
                   .order_by("step__position", "step__code"))
    by_agent = list(team.values("assignee__username", "assignee__display_name")
                    .annotate(n=Count("id"), p1=Count("id", filter=Q(priority="P1")),
                              escalated=Count("id", filter=Q(escalation_level__gt=0)))
                    .order_by("-n", "assignee__username"))
    by_priority = dict(team.values_list("priority").annotate(n=Count("id")).order_by())
    escalated = (access.complaints_for(user).filter(escalated_to=user, closed_at__isnull=True)
                 .select_related("step", "customer", "assignee").defer(*LIST_DEFER)
                 .order_by("-received_at", "-id")[:50])
    total = sum(r["n"] for r in by_step)
    base = {"open": "1"}
    if dept is not None:
        base["department"] = dept.code
    for r in by_step:
        r["url"] = reverse("complaints:all") + "?" + urlencode({**base, "step": r["step__code"]})
    for r in by_agent:
        r["url"] = reverse("complaints:all") + "?" + urlencode({**base, "assignee": r["assignee__username"] or "none"})
    return render(request, "complaints/supervisor.html", {
        "dept": dept, "by_step": by_step, "by_agent": by_agent, "escalated": escalated, "total": total,
        "by_priority": [(p, by_priority.get(p, 0)) for p in Priority.values],
        "max_step": max([r["n"] for r in by_step] or [1]),
        "all_url": reverse("complaints:all") + "?" + urlencode(base),
    })


# ------------------------------------------------------------------ detail

def _get(request, number, *, write=False):
    try:
        return access.access_complaint(request.user, number, write=write)
    except NotFound:
        raise Http404(_("投诉单不存在或无权查看")) from None


def _event_rows(c: Complaint):
    step_names = {s.code: s.name for s in Step.objects.filter(variant=c.variant_id)}
    rows = []
    for e in queries.timeline(c)[:2000]:
        before, after = e.before if isinstance(e.before, dict) else {}, e.after if isinstance(e.after, dict) else {}
        summary = ""
        if e.kind in ("step.advanced", "step.returned", "step.reopened", "resolution.refused"):
            summary = f"{step_names.get(before.get('step'), before.get('step') or '')} → " \
                      f"{step_names.get(after.get('step'), after.get('step') or '')}"
            if isinstance(after.get("override"), dict):
                summary += " · " + _("主管越过条件：") + str(after["override"].get("reason", ""))[:300]
        elif e.kind == "complaint.assigned":
            summary = f"{before.get('assignee') or '—'} → {after.get('assignee') or '—'}"
        elif e.kind == "complaint.escalated":
            summary = _("升级至 %(who)s（第 %(level)s 级）") % {"who": after.get("escalated_to", ""),
                                                          "level": after.get("escalation_level", "")}
        elif e.kind == "complaint.updated":
            summary = "、".join(str(FIELD_LABELS.get(k, k)) for k in after)
        elif e.kind == "attachment.added":
            summary = str(after.get("filename", ""))
        elif e.kind == "complaint.created":
            summary = _("渠道：%(channel)s，优先级 %(priority)s") % {
                "channel": Channel(after["channel"]).label if after.get("channel") in Channel.values else
                after.get("channel", ""), "priority": after.get("priority", "")}
        elif e.kind == "triage.analyzed":
            summary = _("建议优先级 %(p)s") % {"p": after.get("priority") or "—"}
        rows.append({"e": e, "label": EVENT_LABELS.get(e.kind) or event_label(e.kind) or e.kind, "summary": summary,
                     "css": e.kind.replace(".", "-")})
    return rows


def _triage_panel(triage) -> dict | None:
    """A defensive, display-ready view of the triage snapshot (any key may be missing)."""
    if not isinstance(triage, dict) or not triage:
        return None

    def label(d):
        if isinstance(d, dict):
            return str(d.get("zh") or d.get("en") or d.get("code") or "")
        return str(d) if d else ""

    en = _lang() == "en"
    prio = triage.get("priority") if isinstance(triage.get("priority"), dict) else {}
    emotion = triage.get("emotion") if isinstance(triage.get("emotion"), dict) else {}
    nature = triage.get("nature") if isinstance(triage.get("nature"), dict) else {}
    cat = triage.get("category") if isinstance(triage.get("category"), dict) else {}
    advice = triage.get("advice") if isinstance(triage.get("advice"), dict) else {}
    cards = []
    for card in (advice.get("cards") or [])[:8] if isinstance(advice.get("cards"), list) else []:
        if isinstance(card, dict):
            tips = [str(t) for t in (card.get("tips") or []) if isinstance(t, (str, int, float))][:6]
            cards.append({"title": str(card.get("title") or card.get("code") or ""), "tips": tips,
                          "kind": str(card.get("kind") or "")})
    try:
        intensity = round(float(emotion.get("intensity", 0)) * 100)
    except (TypeError, ValueError):
        intensity = None
    category = ""
    if cat:
        parts = [label(cat.get("level1")), label(cat.get("level2"))]
        category = " / ".join(p for p in parts if p)
    panel = {
        "priority": str(prio.get("code") or ""),
        "priority_reason": str((prio.get("reason_en") if en else None) or prio.get("reason") or ""),
        "emotion": label(emotion), "intensity": intensity,
        "personas": [label(p) for p in (triage.get("personas") or []) if label(p)][:6]
        if isinstance(triage.get("personas"), list) else [],
        "signals": [label(s) for s in (triage.get("signals") or []) if label(s)][:8]
        if isinstance(triage.get("signals"), list) else [],
        "suspect": nature.get("code") == "suspected_malicious",
        "nature": label(nature),
        "category": category,
        "header": str((advice.get("header_en") if en else None) or advice.get("header") or ""),
        "cards": cards,
    }
    if not any([panel["priority"], panel["emotion"], panel["personas"], panel["signals"], panel["cards"]]):
        return None
    return panel


def _detail_context(request, c: Complaint, *, errors=None, posted=None, open_form=None):
    user = request.user
    errors = errors or {}
    may_write = access.may_write(user)
    owner = StepOwner.objects.filter(complaint=c, step=c.step_id).select_related("owner").first()
    step_forms = forms.transition_forms(c, user) if may_write else []
    for f in step_forms:
        key = f"transition:{f['to']}"
        f["error"] = errors.get(key)
        f["open"] = open_form == key
        if open_form == key and posted is not None:
            for field in f["fields"]:
                field["value"] = posted.get(field["name"], field["value"])
    categories = Category.objects.filter(active=True).select_related("parent").order_by("parent__position", "position")
    groups: dict = {}
    for cat in categories:
        if cat.parent_id and (cat.profile_id is None or cat.profile_id == c.profile_id):
            groups.setdefault(cat.parent, []).append(cat)
    about_spec = {f["key"]: f for f in forms.about_fields(c.profile)}
    about_rows = [{"label": about_spec.get(k, {}).get("label", k), "value": v} for k, v in (c.about or {}).items()]
    is_sup = access.is_supervising(user)
    return {
        "c": c, "steps": queries.steps_of(c), "step_forms": step_forms, "errors": errors,
        "owner": owner.owner if owner and owner.owner_id else None,
        "events": _event_rows(c),
        "notes": Note.objects.filter(complaint=c).select_related("author").order_by("-id")[:200],
        "messages_list": Message.objects.filter(complaint=c).select_related("author").order_by("id")[:500],
        "attachments": Attachment.objects.filter(complaint=c).select_related("uploaded_by").order_by("id")[:500],
        "may_write": may_write, "is_supervisor": is_sup,
        "assignable": list(_colleagues(user)[:300]) if is_sup and may_write else [],
        "category_groups": list(groups.items()), "about_rows": about_rows,
        "triage": _triage_panel(c.triage), "posted": posted or {},
        "description_segments": evidence_segments(c.triage, c.subject, c.description),
        "max_mb": services_max_mb(),
        "open_form": open_form,
        **_panels(request, c),
    }


def _panels(request, c: Complaint) -> dict:
    """Render the panels other apps registered (hooks.detail_panels), grouped by column."""
    from django.template.loader import render_to_string
    from django.utils.safestring import mark_safe

    columns: dict[str, list] = {"panels_top": [], "panels_main": [], "panels_side": []}
    css: list[str] = []
    for fn in hooks.detail_panels:
        try:
            panel = fn(request, c)
        except Http404:
            panel = None
        if not panel:
            continue
        html = render_to_string(panel["template"], {"c": c, **panel.get("context", {})}, request=request)
        columns[f"panels_{panel.get('column', 'side')}"].append((panel.get("order", 50), mark_safe(html)))
        css += [href for href in panel.get("css", []) if href not in css]
    out = {key: [html for _, html in sorted(items, key=lambda item: item[0])] for key, items in columns.items()}
    out["panel_css"] = css
    return out


def services_max_mb() -> int:
    from django.conf import settings

    return max(1, int(settings.ATTACHMENT_MAX_BYTES) // (1024 * 1024))


@login_required
def detail(request, number):
    c = _get(request, number)
    return render(request, "complaints/detail.html", _detail_context(request, c))


def _rerender(request, number, *, key, exc, posted=None):
    c = _get(request, number)
    ctx = _detail_context(request, c, errors={key: _msg(exc)}, posted=posted, open_form=key)
    if key.startswith("transition:") and not any(f"transition:{f['to']}" == key for f in ctx["step_forms"]):
        messages.error(request, _msg(exc))  # e.g. a stale page offering a move that is no longer allowed
    if key.startswith("transition:"):
        for f in ctx["step_forms"]:
            if f"transition:{f['to']}" == key:
                problem_fields = exc.fields or {}
                for field in f["fields"]:
                    field["problem"] = field["name"] in problem_fields
    return render(request, "complaints/detail.html", ctx, status=exc.status if 400 <= exc.status < 500 else 400)


def _detail_url(number, anchor=""):
    return reverse("complaints:detail", args=[number]) + (f"#{anchor}" if anchor else "")


@login_required
@require_POST
def transition(request, number):
    c = _get(request, number, write=False)
    to = (request.POST.get("to") or "").strip()
    form = next((f for f in forms.transition_forms(c, request.user) if f["to"] == to), None)
    key = f"transition:{to}"
    posted = {k: v for k, v in request.POST.items() if k != "csrfmiddlewaretoken"}
    data = forms.transition_data(request.POST, form) if form else {}
    if request.POST.get("expected_version", "").isdigit():
        data["expected_version"] = int(request.POST["expected_version"])
    try:
        services.transition_complaint(number, actor=request.user, to=to, data=data)
    except NotFound:
        raise Http404 from None
    except ServiceError as exc:
        return _rerender(request, number, key=key, exc=exc, posted=posted)
    c.refresh_from_db()
    messages.success(request, _("已进入「%(step)s」") % {"step": c.step.name})
    return redirect(_detail_url(number, "actions"))


def _simple_post(request, number, key, call, success, anchor):
    try:
        call()
    except NotFound:
        raise Http404 from None
    except ServiceError as exc:
        posted = {k: v for k, v in request.POST.items() if k != "csrfmiddlewaretoken"}
        return _rerender(request, number, key=key, exc=exc, posted=posted)
    messages.success(request, success)
    return redirect(_detail_url(number, anchor))


@login_required
@require_POST
def add_note(request, number):
    return _simple_post(request, number, "note",
                        lambda: services.add_note(number, actor=request.user, body=request.POST.get("body", "")),
                        _("备注已保存"), "notes")


@login_required
@require_POST
def add_message(request, number):
    direction = request.POST.get("direction") or "out"
    channel = request.POST.get("channel") or None
    return _simple_post(request, number, "message",
                        lambda: services.add_message(number, actor=request.user, body=request.POST.get("body", ""),
                                                     direction=direction, channel=channel),
                        _("沟通记录已保存"), "messages")


@login_required
@require_POST
def upload_attachment(request, number):
    visible = request.POST.get("customer_visible") in ("1", "on", "true")
    return _simple_post(request, number, "attachment",
                        lambda: services.add_attachment(number, actor=request.user,
                                                        uploaded_file=request.FILES.get("file"),
                                                        customer_visible=visible),
                        _("附件已上传"), "attachments")


@login_required
@require_POST
def assign(request, number):
    assignee = (request.POST.get("assignee") or "").strip() or None
    return _simple_post(request, number, "assign",
                        lambda: services.assign_complaint(number, actor=request.user, assignee=assignee),
                        _("负责人已更新"), "")


@login_required
@require_POST
def take(request, number):
    return _simple_post(request, number, "assign",
                        lambda: services.assign_complaint(number, actor=request.user, assignee=request.user.username),
                        _("已由您负责"), "")


@login_required
@require_POST
def escalate(request, number):
    return _simple_post(request, number, "escalate",
                        lambda: services.escalate_complaint(number, actor=request.user,
                                                            reason=request.POST.get("reason", "")),
                        _("已升级"), "")


@login_required
def download(request, attachment_id):
    try:
        att = downloads.visible_attachment(request.user, attachment_id)
        return downloads.file_response(att)
    except NotFound:
        raise Http404(_("附件不存在或无权查看")) from None


# ------------------------------------------------------------------ edit

@login_required
def edit(request, number):
    c = _get(request, number)
    if not access.may_write(request.user):
        raise Http404(_("只读角色不能修改投诉"))
    error, field_errors = None, {}
    posted = None
    if request.method == "POST":
        posted = request.POST
        changes = {}
        for key in ("subject", "description", "priority"):
            value = request.POST.get(key)
            if value is not None and value.strip() != (getattr(c, key) or "").strip():
                changes[key] = value
        cat = (request.POST.get("category") or "").strip()
        if cat and cat != (c.category.code if c.category_id else ""):
            changes["category"] = cat
        dept = (request.POST.get("department") or "").strip()
        if dept and dept != (c.department.code if c.department_id else ""):
            changes["department"] = dept
        about = forms.about_from_post(request.POST, c.profile, "about_")
        if about != {k: str(v) for k, v in (c.about or {}).items()}:
            changes["about"] = about
        expected = request.POST.get("expected_version")
        try:
            services.update_complaint(number, actor=request.user, changes=changes,
                                      expected_version=int(expected) if expected and expected.isdigit() else None)
        except NotFound:
            raise Http404 from None
        except ServiceError as exc:
            error, field_errors = _msg(exc), exc.fields or {}
        else:
            messages.success(request, _("已保存") if changes else _("没有修改"))
            return redirect(_detail_url(number))
    categories = Category.objects.filter(active=True, parent__isnull=False).select_related("parent") \
        .filter(Q(profile__isnull=True) | Q(profile=c.profile_id)).order_by("parent__position", "position")
    groups: dict = {}
    for cat in categories:
        groups.setdefault(cat.parent, []).append(cat)
    about = []
    for f in forms.about_fields(c.profile):
        value = posted.get("about_" + f["key"], "") if posted is not None else str((c.about or {}).get(f["key"], ""))
        about.append({**f, "value": value, "problem": field_errors.get("about." + f["key"])})
    depts = Department.objects.order_by("path")
    if not access.sees_everything(request.user) and request.user.department_id:
        depts = depts.filter(Q(path__startswith=request.user.department.path) | Q(pk=c.department_id))
    value = (lambda k, cur: posted.get(k, cur) if posted is not None else cur)
    return render(request, "complaints/edit.html", {
        "c": c, "error": error, "field_errors": field_errors, "about": about,
        "category_groups": list(groups.items()), "departments": list(depts[:300]),
        "priorities": Priority.choices,
        "v": {"subject": value("subject", c.subject), "description": value("description", c.description),
              "priority": value("priority", c.priority),
              "category": value("category", c.category.code if c.category_id else ""),
              "department": value("department", c.department.code if c.department_id else "")},
    }, status=422 if error else 200)


# ------------------------------------------------------------------ new complaint

def _profiles():
    return [{"p": p, "fields": forms.about_fields(p)} for p in IndustryProfile.objects.order_by("position", "code")]


def _lookup(user, mobile: str):
    digits = normalise_mobile(mobile or "")
    if len(digits) < 5:
        return None
    customer = Customer.objects.with_mobile(digits).order_by("id").first()
    if customer is None:
        return {"mobile": digits, "customer": None, "recent": []}
    recent = list(queries.recent_for_customer(user, customer.pk, limit=5))
    if not recent and not access.sees_everything(user):
        # Customers are shown only to those who may see one of their complaints.
        return {"mobile": digits, "customer": None, "recent": []}
    return {"mobile": digits, "customer": customer, "recent": recent}


@login_required
@require_GET
def customer_lookup(request):
    """HTMX partial: the customer with this mobile and their 5 latest visible complaints."""
    return render(request, "complaints/_lookup.html", {"lookup": _lookup(request.user, request.GET.get("mobile", ""))})


@login_required
def new_complaint(request):
    user = request.user
    if not access.may_write(user):
        raise Http404(_("只读角色不能登记投诉"))
    error, field_errors = None, {}
    source = request.POST if request.method == "POST" else request.GET
    v = {k: source.get(k, "") for k in ("mobile", "name", "email", "channel", "profile", "subject", "description",
                                        "priority", "category", "received_at")}
    v["channel"] = v["channel"] or Channel.PHONE
    default_profile = IndustryProfile.objects.filter(code="general").first() or IndustryProfile.objects.first()
    v["profile"] = v["profile"] or (default_profile.code if default_profile else "")
    if request.method == "POST":
        profile = IndustryProfile.objects.filter(code=v["profile"]).first()
        about = forms.about_from_post(request.POST, profile, f"about_{profile.code}_") if profile else {}
        received = v["received_at"].strip() or None
        if received and len(received) == 16:
            received += ":00"
        try:
            complaint, _created = services.create_complaint(
                actor=user, subject=v["subject"], description=v["description"], channel=v["channel"],
                priority=v["priority"] or None, received_at=received,
                customer={"name": v["name"], "mobile": v["mobile"], "email": v["email"]},
                profile=v["profile"] or None, about=about, category=v["category"] or None,
                assignee=user.username if access.role_of(user) != Role.AUDITOR else None)
        except ServiceError as exc:
            error, field_errors = _msg(exc), exc.fields or {}
        else:
            messages.success(request, _("投诉 %(number)s 已登记，查询码 %(code)s") % {
                "number": complaint.number, "code": complaint.tracking_code})
            return redirect(_detail_url(complaint.number))
    profiles = _profiles()
    for entry in profiles:
        for f in entry["fields"]:
            name = f"about_{entry['p'].code}_{f['key']}"
            f["name"] = name
            f["value"] = source.get(name, "")
            f["problem"] = field_errors.get("about." + f["key"]) if entry["p"].code == v["profile"] else None
    categories = Category.objects.filter(active=True, parent__isnull=False).select_related("parent", "profile") \
        .order_by("parent__position", "position")
    groups: dict = {}
    for cat in categories:
        groups.setdefault(cat.parent, []).append(cat)
    now = timezone.localtime().replace(second=0, microsecond=0)
    return render(request, "complaints/new.html", {
        "v": v, "error": error, "field_errors": field_errors, "profiles": profiles,
        "channels": [(ch.value, ch.label) for ch in forms.CHANNEL_INTAKE], "priorities": Priority.choices,
        "category_groups": list(groups.items()),
        "lookup": _lookup(user, v["mobile"]) if v["mobile"] else None,
        "now_local": now.strftime("%Y-%m-%dT%H:%M"),
        "min_local": (now - dt.timedelta(days=365)).strftime("%Y-%m-%dT%H:%M"),
    }, status=422 if error else 200)
