"""A manager opens the analytics dashboard in a real browser: charts drawn with data, drill-down, PDF download."""
import json
import re

import pytest

from tests.analytics.conftest import advance, make

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_dashboard_charts_drilldown_and_pdf(live_server, page, people, artifacts):
    m = people["manager"]
    for i, (dept, cat, channel) in enumerate([("store-a", "pq_engine", "phone"), ("store-a", "pq_engine", "web"),
                                              ("store-b", "sa_rude", "phone"), ("store-b", "pq_body", "social")]):
        c = make(m, dept=dept, category=cat, channel=channel, days_ago=i + 1)
        if i % 2 == 0:
            advance(c, m)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(live_server.url + "/accounts/login/")
    page.fill("input[name=username]", "manager")
    page.fill("input[name=password]", "Pass-word-2026")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    page.goto(live_server.url + "/analytics/")
    page.wait_for_selector("[data-chart=volume] canvas")
    data = json.loads(page.locator("#analytics-data").text_content())
    assert data["kpis"]["n"] == 4 and data["pareto_l2"][0]["name"] == "发动机"
    drawn = page.eval_on_selector_all("[data-chart]", "els => els.map(e => [e.dataset.chart, e.dataset.rendered || ''])")
    drawn = dict(drawn)
    for chart in ("volume", "pareto_l1", "pareto_l2", "pareto_root", "heatmap", "top_items", "emotion"):
        assert drawn[chart] == "chart", (chart, drawn)
    assert page.locator("canvas").count() >= 7
    page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)
    assert not errors, errors

    with page.expect_download() as dl:
        page.click("#dl-pdf")
    path = dl.value.path()
    with open(path, "rb") as fh:
        assert fh.read(4) == b"%PDF"

    # drill down: the volume KPI opens the queue filtered by the period
    page.click("a.kpi")
    page.wait_for_load_state()
    assert re.search(r"received_after=\d{4}-\d{2}-\d{2}", page.url) and "received_before=" in page.url
