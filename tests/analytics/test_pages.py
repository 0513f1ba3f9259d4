"""Dashboard, team and improvement pages; JSON API; empty states and 4xx for bad input."""
from __future__ import annotations

import json
import re

import pytest

from qingting.analytics import queries
from qingting.analytics.scope import parse_scope


def island(resp) -> dict:
    m = re.search(r'<script id="analytics-data" type="application/json">(.*?)</script>', resp.content.decode(), re.S)
    assert m, "data island missing"
    return json.loads(m.group(1))


def test_manager_dashboard_renders_with_data(client, people, history):
    client.force_login(people["manager"])
    resp = client.get("/analytics/")
    assert resp.status_code == 200
    body = resp.content.decode()
    assert "vendor/echarts/echarts.min.js" in body and "analytics/dashboard.js" in body
    assert "<script>" not in body.replace('<script src', '')  # no inline script (CSP)
    data = island(resp)
    assert data["kpis"]["n"] == 5  # received in the last 30 days
    assert data["kpis"]["prev_n"] == 2
    names = [p["name"] for p in data["pareto_l2"]]
    assert names[0] == "发动机"
    assert data["pareto_l2"][0]["link"].startswith("/?") and "category=pq_engine" in data["pareto_l2"][0]["link"]
    assert sum(p["n"] for p in data["volume"]["points"]) == 5
    assert {d["name"] for d in data["heatmap"]["departments"]} == {"A 店", "B 店"}


def test_supervisor_sees_only_their_subtree(client, people, history):
    client.force_login(people["supervisor"])
    data = island(client.get("/analytics/"))
    # store-a: 2 received in the window + the complaint moved there from store-b
    assert data["kpis"]["n"] == 4
    assert {d["name"] for d in data["heatmap"]["departments"]} == {"A 店"}
    assert client.get("/analytics/?department=store-b").status_code == 404
    resp = client.get("/api/v1/analytics/dashboard?department=store-b")
    assert resp.status_code == 404


def test_agent_has_no_dashboard(client, people):
    client.force_login(people["agent"])
    assert client.get("/analytics/").status_code == 403
    assert client.get("/api/v1/analytics/dashboard").status_code == 403


@pytest.mark.parametrize("qs", ["?period=2026-13", "?start=2026-02-30", "?start=2019-01-01&end=2026-01-01",
                                "?colour=red", "?channel=pigeon", "?start=2026-05-01&end=2026-04-01",
                                "?period=%00%ff"])
def test_bad_input_is_4xx_not_500(client, people, qs):
    client.force_login(people["manager"])
    for url in ("/analytics/", "/analytics/team/", "/analytics/improvement/", "/analytics/report.pdf",
                "/api/v1/analytics/dashboard"):
        resp = client.get(url + qs)
        assert 400 <= resp.status_code < 500, (url, qs, resp.status_code)


def test_empty_period_shows_dashes_not_zero_percent(client, people, history):
    client.force_login(people["manager"])
    resp = client.get("/analytics/?period=2031-01")
    assert resp.status_code == 200
    body = resp.content.decode()
    assert "没有投诉" in body and "0.0%" not in body
    data = island(resp)
    k = data["kpis"]
    assert k["n"] == 0 and k["reopen_rate"] is None and k["closed_rate"] is None and k["change"] is None
    assert data["durations"]["resolution"]["p50_s"] is None


def test_metric_values(people, history):
    scope = parse_scope(people["manager"], {})
    k = queries.kpis(scope)
    assert (k["n"], k["closed"], k["reopened"]) == (5, 1, 1)
    from .test_rollups import is_repeat_fresh

    repeats = sum(is_repeat_fresh(c) for c in history if c.pk in {f.complaint_id for f in
                  queries._facts(scope)})
    assert k["reopen_rate"] == 20.0 and k["repeat_rate"] == round(100.0 * repeats / 5, 1) and repeats >= 1
    d = queries.durations(scope)
    assert d["resolution"]["n"] == 1 and d["first_response"]["n"] >= 2
    assert d["first_response"]["p90_s"] >= d["first_response"]["p50_s"]
    items = queries.top_items(scope)
    assert items["series"][0] == {"name": "速腾", "n": 4}
    # product filter goes through the fact table and still agrees
    assert queries.kpis(parse_scope(people["manager"], {"series": "凯美瑞"}))["n"] == 1


def test_team_and_improvement_pages(client, people, history):
    client.force_login(people["manager"])
    resp = client.get("/analytics/team/?period=" + history[0].received_at.strftime("%Y-%m"))
    assert resp.status_code == 200
    resp = client.get("/analytics/improvement/?start=2020-01-01")
    assert resp.status_code == 422  # more than two years
    resp = client.get("/analytics/improvement/")
    assert resp.status_code == 200 and "发动机" in resp.content.decode()
    rows = queries.improvement(parse_scope(people["manager"], {}))
    engine = next(r for r in rows if r["key"] == "pq_engine")
    assert any("配件批次" in a["root_cause"] for a in engine["actions"])


def test_per_10k_needs_figures_for_whole_months(people, history):
    import datetime as dt

    from qingting.analytics.models import VolumeFigure

    month = history[0].received_at.date().replace(day=1)
    scope = parse_scope(people["manager"], {"period": f"{month:%Y-%m}"})
    assert queries.rate_per_10k(scope)["available"] is False
    VolumeFigure.objects.create(month=month + dt.timedelta(days=3), units=2000, unit_label="台")
    r = queries.rate_per_10k(scope)
    n = queries.kpis(scope)["n"]
    assert r["available"] and r["per_10k"] == round(n * 10000 / 2000, 2)
