"""A trainer turns a closed complaint into a role-play scenario; personal data is masked and
the scenario plays like the shipped ones."""
import pytest

from qingting.complaints import services as complaint_services
from qingting.core.errors import Conflict, PermissionDenied
from qingting.training import services
from qingting.training.engine import run_script

pytestmark = pytest.mark.django_db

WALK = [("soothe", {}), ("apologize", {}), ("confirm", {"category": "sa_rude", "facts": "核实属实"}),
        ("act", {"resolution_type": "apology", "action_plan": "当面致歉并培训", "resolution_amount": "0"}),
        ("negotiate", {"customer_answer": "accept"}), ("follow_up", {}),
        ("close", {"root_cause": "服务规范执行不到位", "lessons_learned": "接待时放下手机，先倾听"})]


def test_closed_complaint_becomes_a_playable_scenario(new_complaint, people, client):
    c = new_complaint(subject="顾问态度恶劣", description="服务顾问全程玩手机还说我不会看说明书！我的电话13812345678，太气人了！")
    with pytest.raises(Conflict):
        services.scenario_from_complaint(c.number, actor=people["supervisor"])
    for to, data in WALK:
        complaint_services.transition_complaint(c.number, actor=people["agent"], to=to, data=data)
    with pytest.raises(PermissionDenied):
        services.scenario_from_complaint(c.number, actor=people["agent"])
    row = services.scenario_from_complaint(c.number, actor=people["supervisor"])
    assert "13812345678" not in row.content and "服务顾问全程玩手机" in row.content
    sc = services.all_scenarios()[row.scenario_id]
    assert sc.opening.startswith("服务顾问全程玩手机")
    good = run_script(sc, ["非常理解您的心情，让您受委屈了，真的很抱歉。", "请您说说当时的具体情况好吗？",
                           "我们今天下午三点前给您回电，并安排店长当面致歉。"], seed=1)
    bad = run_script(sc, ["这是你自己的问题。", "规定就是这样，没办法。", "不行。"], seed=1)
    assert good.score > bad.score
    client.force_login(people["agent"])
    assert row.title in client.get("/training/").content.decode()
    ts = services.start_session(actor=people["agent"], scenario_id=row.scenario_id)
    assert services.replay(ts).opening == sc.opening
