"""/api/v1/analytics/…: the dashboard's data as JSON (the same queries as the page)."""
from ninja import Router

from . import queries
from .scope import parse_scope

PREFIX = "/analytics"
router = Router(tags=["analytics"])


@router.get("/dashboard", summary="Dashboard metrics for a period and scope")
def dashboard(request):
    return queries.dashboard_cached(parse_scope(request.user, request.GET))


@router.get("/agents", summary="Agent and team view")
def agents(request):
    return {"items": queries.agents(parse_scope(request.user, request.GET))}


@router.get("/improvement", summary="Top problems, corrective actions, and whether volume fell")
def improvement(request):
    return {"items": queries.improvement(parse_scope(request.user, request.GET))}
