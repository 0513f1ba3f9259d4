"""Visibility rules for every role, decided in accounts/access.py and applied everywhere."""
import pytest

from qingting.accounts import access
from qingting.accounts.models import Department
from qingting.complaints import services
from qingting.core.errors import NotFound

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(people, org, new_complaint):
    """One complaint in team A1 (store A), one in store B, one in store B assigned to agent A."""
    in_a = new_complaint(people["agent"])
    in_b = new_complaint(people["other_agent"], subject="B店投诉")
    b_assigned_to_a = new_complaint(people["other_agent"], subject="B店转A专员", assignee="agent_a")
    return {"in_a": in_a, "in_b": in_b, "b_to_a": b_assigned_to_a}


def visible(user):
    return set(access.complaints_for(user).values_list("number", flat=True))


def test_agent_sees_own_department_and_assigned(people, world):
    assert visible(people["agent"]) == {world["in_a"].number, world["b_to_a"].number}
    assert visible(people["agent2"]) == {world["in_a"].number}


def test_agent_of_other_department_gets_not_found(people, world):
    with pytest.raises(NotFound):
        access.access_complaint(people["other_agent"], world["in_a"].number)


def test_supervisor_sees_department_subtree(people, world):
    # sup_a belongs to store A; the complaint is in team A1 below it
    assert visible(people["supervisor"]) == {world["in_a"].number}
    assert visible(people["other_supervisor"]) == {world["in_b"].number, world["b_to_a"].number}


def test_supervisor_sees_what_is_escalated_to_them(people, world):
    services.escalate_complaint(world["in_b"].number, actor=people["other_agent"], reason="需要主管协调")
    # direct supervisor of store B is sup_b; escalate again → manager
    services.escalate_complaint(world["in_b"].number, actor=people["other_supervisor"], reason="仍未解决")
    world["in_b"].refresh_from_db()
    assert world["in_b"].escalated_to == people["manager"]


def test_manager_and_auditor_see_everything(people, world):
    everything = {c.number for c in world.values()}
    assert visible(people["manager"]) == everything
    assert visible(people["auditor"]) == everything


def test_inactive_or_anonymous_users_see_nothing(people, world):
    people["agent"].is_active = False
    assert visible(people["agent"]) == set()
    from django.contrib.auth.models import AnonymousUser
    assert visible(AnonymousUser()) == set()


def test_moving_a_department_moves_its_subtree(org, people, world):
    team = org["team_a"]
    team.parent = org["store_b"]
    team.save()
    team.refresh_from_db()
    assert team.path.startswith(org["store_b"].path)
    assert world["in_a"].number in visible(people["other_supervisor"])
    assert world["in_a"].number not in visible(people["supervisor"])


def test_department_cannot_move_under_itself(org):
    store = org["store_a"]
    store.parent = org["team_a"]
    with pytest.raises(ValueError):
        store.save()
    assert Department.objects.get(pk=store.pk).parent == org["company"]
