"""Shared fixtures: the personas every test talks about.

agent (投诉专员) and supervisor (主管) of store A, an agent of store B (another department),
a manager (管理层), an auditor (审计), and an API client that speaks JSON with a token.
"""
from __future__ import annotations

import json
import os
import pathlib

import pytest

from qingting.accounts.models import ApiToken, Department, DepartmentKind, Role, User

SHARED_DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data(name: str) -> pathlib.Path:
    """Path of a file in ../shared/data; skips loudly outside CI, fails in CI."""
    path = SHARED_DATA / name
    if not path.exists():
        message = f"REAL DATA MISSING: {path} not found (tests read ../shared/data beside the repo)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.QINGTING_CRISIS_CHECK_INLINE = True  # deterministic: no background thread in tests
    settings.QINGTING_ANALYTICS_INLINE = True  # facts in the complaint's transaction (tests/analytics/test_fact_queue.py covers the queue)


@pytest.fixture(autouse=True)
def _fresh_reference_cache():
    """Each test's database differs (rollback, flush): start with an empty reference cache."""
    from qingting.complaints import reference

    reference.clear()
    yield
    reference.clear()


@pytest.fixture
def org(db):
    company = Department.objects.create(code="hq", name="总部", kind=DepartmentKind.COMPANY)
    store_a = Department.objects.create(code="store-a", name="A 店", kind=DepartmentKind.STORE, parent=company, region="上海")
    team_a = Department.objects.create(code="team-a1", name="A 店客服一组", kind=DepartmentKind.TEAM, parent=store_a)
    store_b = Department.objects.create(code="store-b", name="B 店", kind=DepartmentKind.STORE, parent=company, region="北京")
    return {"company": company, "store_a": store_a, "team_a": team_a, "store_b": store_b}


def _user(username, role, department=None, **extra):
    user = User.objects.create_user(username=username, password="Pass-word-2026", role=role, department=department,
                                    display_name=extra.pop("display_name", username), **extra)
    return user


@pytest.fixture
def people(org):
    return {
        "agent": _user("agent_a", Role.AGENT, org["team_a"], display_name="王专员"),
        "agent2": _user("agent_a2", Role.AGENT, org["team_a"], display_name="赵专员"),
        "supervisor": _user("sup_a", Role.SUPERVISOR, org["store_a"], display_name="李主管"),
        "other_agent": _user("agent_b", Role.AGENT, org["store_b"], display_name="陈专员"),
        "other_supervisor": _user("sup_b", Role.SUPERVISOR, org["store_b"]),
        "manager": _user("manager", Role.MANAGER, org["company"], display_name="周经理"),
        "auditor": _user("auditor", Role.AUDITOR, org["company"]),
    }


class JsonClient:
    """A small API client: JSON in and out, bearer token, status and body returned."""

    def __init__(self, client, user=None):
        self.client = client
        self.headers = {}
        if user is not None:
            _, raw = ApiToken.issue(user, name="test")
            self.headers["HTTP_AUTHORIZATION"] = f"Bearer {raw}"

    def _call(self, method, path, body=None, raw=None, **headers):
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        kwargs = {**self.headers, **headers}
        if data is not None:
            kwargs["content_type"] = "application/json"
            kwargs["data"] = data
        response = getattr(self.client, method)(path, **kwargs)
        try:
            payload = response.json()
        except ValueError:
            payload = response.content
        return response.status_code, payload

    def get(self, path, **h):
        return self._call("get", path, **h)

    def post(self, path, body=None, raw=None, **h):
        return self._call("post", path, body, raw, **h)

    def patch(self, path, body=None, **h):
        return self._call("patch", path, body, **h)


@pytest.fixture
def api_for(client, people):
    def make(name):
        from django.test import Client

        return JsonClient(Client(), people[name])

    return make


COMPLAINT = {
    "subject": "4S店维修拖延",
    "description": "车辆送修三周还没修好，服务态度很差，我要投诉到12315！",
    "channel": "phone",
    "customer": {"name": "张先生", "mobile": "13800138000"},
}


@pytest.fixture
def new_complaint(people):
    """Create a complaint in store A's team through the service, as the agent."""
    from qingting.complaints import services

    def make(actor=None, **overrides):
        data = {**COMPLAINT, **overrides}
        complaint, _ = services.create_complaint(actor=actor or people["agent"], **data)
        return complaint

    return make


SERIALIZED_DB: dict = {}


@pytest.fixture(scope="session", autouse=True)
def _remember_migrated_state(request):
    """Keep the serialized migrated database (seed rows) for tests whose thread runs an event
    loop (Playwright): Django's per-context connection there lacks it, so they restore it
    themselves (tests/e2e/conftest.py)."""
    if not any(item.get_closest_marker("django_db") or "live_server" in getattr(item, "fixturenames", ())
               for item in request.session.items):
        return
    request.getfixturevalue("django_db_setup")
    from django.db import connections

    SERIALIZED_DB["default"] = getattr(connections["default"], "_test_serialized_contents", None)


def pytest_collection_modifyitems(items):
    """Transactional tests (live server, threads) flush every table at the end, seed rows of the
    data migrations included (workflow, profiles, SLA policies …). Give them Django's serialized
    rollback so each starts from the migrated state."""
    for item in items:
        names = getattr(item, "fixturenames", None)
        if names is None:
            continue
        marker = item.get_closest_marker("django_db")
        transactional = "live_server" in names or "transactional_db" in names or (
            marker is not None and marker.kwargs.get("transaction"))
        if not transactional:
            continue
        if marker is not None:
            item.add_marker(pytest.mark.django_db(*marker.args, **{**marker.kwargs, "serialized_rollback": True}),
                            append=False)
        if "django_db_serialized_rollback" not in names:
            names.append("django_db_serialized_rollback")
