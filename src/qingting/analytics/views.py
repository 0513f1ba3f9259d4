"""Pages: parse the request into a Scope (through access), run the queries, render.

Bad input never reaches a 500: an `Invalid` filter renders the page with the message and
a 422 status; a user without a dashboard gets a 403 page.
"""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from qingting.accounts.models import Department
from qingting.complaints.models import Category, Channel, Priority
from qingting.core.errors import ServiceError

from . import queries, reports
from .scope import GRAINS, parse_scope, visible_department_ids


def _choices(user) -> dict:
    visible = visible_department_ids(user)
    depts = Department.objects.all() if visible is None else Department.objects.filter(pk__in=visible)
    cats = Category.objects.filter(active=True).select_related("parent").order_by("parent_id", "position", "code")
    return {"departments": list(depts.order_by("path")), "channels": Channel.choices, "priorities": Priority.choices,
            "categories": list(cats), "grains": GRAINS.items()}


def _error(request, template: str, exc: ServiceError, extra: dict | None = None):
    ctx = {"error": exc.zh, "error_code": exc.code, "q": request.GET}
    if exc.status != 403:
        ctx.update(_choices(request.user))
    ctx.update(extra or {})
    return render(request, template, ctx, status=exc.status)


def _qs(scope) -> str:
    from urllib.parse import urlencode

    return urlencode(scope.params)


@login_required
@require_GET
def dashboard(request):
    try:
        scope = parse_scope(request.user, request.GET)
        data = dict(queries.dashboard_cached(scope))
        data["agents_link"] = "team/?" + _qs(scope)
    except ServiceError as exc:
        return _error(request, "analytics/dashboard.html", exc)
    ctx = {"data": data, "scope": scope, "q": scope.params, "qs": _qs(scope), **_choices(request.user)}
    return render(request, "analytics/dashboard.html", ctx)


@login_required
@require_GET
def team(request):
    try:
        scope = parse_scope(request.user, request.GET)
        rows = queries.agents(scope)
    except ServiceError as exc:
        return _error(request, "analytics/team.html", exc)
    return render(request, "analytics/team.html", {"rows": rows, "scope": scope, "q": scope.params, "qs": _qs(scope),
                                                   **_choices(request.user)})


@login_required
@require_GET
def improvement(request):
    try:
        scope = parse_scope(request.user, request.GET)
        rows = queries.improvement(scope)
    except ServiceError as exc:
        return _error(request, "analytics/improvement.html", exc)
    return render(request, "analytics/improvement.html", {"rows": rows, "scope": scope, "q": scope.params,
                                                          "qs": _qs(scope), **_choices(request.user)})


def _download(request, fmt: str, builder):
    if fmt not in ("pdf", "xlsx"):
        return HttpResponse("格式只能是 pdf 或 xlsx", status=404, content_type="text/plain; charset=utf-8")
    try:
        scope = parse_scope(request.user, request.GET)
        content, name = builder(scope, fmt)
    except ServiceError as exc:
        return HttpResponse(exc.zh, status=exc.status, content_type="text/plain; charset=utf-8")
    mime = "application/pdf" if fmt == "pdf" else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    resp = HttpResponse(content, content_type=mime)
    resp["Content-Disposition"] = f'attachment; filename="{name}"'
    return resp


@login_required
@require_GET
def report(request, fmt: str):
    return _download(request, fmt, lambda s, f: reports.build_report(s, f, generated_at=timezone.now()))


@login_required
@require_GET
def regulatory(request, fmt: str):
    return _download(request, fmt, lambda s, f: reports.build_regulatory(s, f, generated_at=timezone.now()))
