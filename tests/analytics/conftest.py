"""A small complaint history built through the real services (personas from tests/conftest.py)."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from qingting.complaints import services

CLOSE_PATH = [
    ("soothe", {}),
    ("apologize", {}),
    ("confirm", {"category_confirmed": True, "facts": "核实：确有其事"}),
    ("act", {"action_plan": "免费维修并补偿保养一次", "resolution_type": "repair"}),
    ("negotiate", {"customer_answer": "accept"}),
    ("follow_up", {}),
    ("close", {"root_cause": "配件批次质量问题", "lessons_learned": "入库前抽检该批次配件"}),
]


def make(actor, *, dept="store-a", category="pq_engine", channel="phone", priority="P3", days_ago=3, about=None,
         customer=None, profile="auto4s", subject="发动机异响"):
    received = timezone.now() - dt.timedelta(days=days_ago)
    c, _ = services.create_complaint(actor=actor, subject=subject, description=f"{subject}，要求处理", channel=channel,
                                     priority=priority, received_at=received, customer=customer or {"name": "王先生"},
                                     profile=profile, about=about or {"brand": "大众", "series": "速腾"},
                                     department=dept, category=category)
    return c


def advance(c, actor, upto="close"):
    for step, data in CLOSE_PATH:
        if step == "close" and upto == "close" or step != "close":
            services.transition_complaint(c.number, actor=actor, to=step, data=dict(data))
        if step == upto:
            break
    c.refresh_from_db()
    return c


@pytest.fixture(autouse=True)
def _empty_cache():
    """Cached dashboard payloads must not leak from one test's database into the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def history(people):
    """Eight complaints over two stores: some closed, one reopened, various categories and channels."""
    m = people["manager"]
    out = [
        make(m, dept="store-a", category="pq_engine", channel="phone", days_ago=2),
        make(m, dept="store-a", category="pq_engine", channel="web", days_ago=3, customer={"name": "李女士", "mobile": "13800138000"}),
        make(m, dept="store-a", category="sa_rude", channel="phone", priority="P2", days_ago=4,
             customer={"name": "李女士", "mobile": "13800138000"}),
        make(m, dept="store-b", category="pq_body", channel="social", days_ago=5, about={"brand": "丰田", "series": "凯美瑞"}),
        make(m, dept="store-b", category="pq_engine", channel="phone", days_ago=6),
        make(m, dept="store-b", category="sa_rude", channel="email", priority="P1", days_ago=40),
        make(m, dept="store-a", category="pq_electrical", channel="phone", days_ago=45),
    ]
    advance(out[0], m)
    advance(out[3], m)
    advance(out[5], m)
    advance(out[1], m, upto="confirm")
    services.transition_complaint(out[3].number, actor=m, to="confirm", data={"reason": "客户反映问题复发"})
    services.update_complaint(out[4].number, actor=m, changes={"department": "store-a", "category": "pq_electrical"})
    return out
