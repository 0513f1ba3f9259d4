"""The 8-step workflow as data: every step leaves an event; guards say what is missing."""
import pytest

from qingting.complaints import services
from qingting.complaints.models import Event, Step, StepOwner, Transition, WorkflowVariant
from qingting.core.errors import Conflict, Invalid, PermissionDenied

pytestmark = pytest.mark.django_db


def walk(number, actor, *steps):
    for to, data in steps:
        services.transition_complaint(number, actor=actor, to=to, data=data)


FULL_WALK = [
    ("soothe", {"note": "客户情绪激动，先倾听安抚"}),
    ("apologize", {"note": "为维修拖延真诚致歉"}),
    ("confirm", {"category": "as_repair_delay", "facts": "工单显示配件缺货两周未告知客户"}),
    ("act", {"resolution_type": "repair", "action_plan": "调拨配件，三天内修好并提供代步车", "resolution_amount": "300"}),
    ("negotiate", {"customer_answer": "accept"}),
    ("follow_up", {}),
    ("close", {"root_cause": "配件库存预警缺失", "lessons_learned": "缺件时当天告知客户并给出时间"}),
]


def test_default_workflow_is_data_with_eight_steps_in_order(db):
    variant = WorkflowVariant.objects.get(is_default=True)
    names = list(Step.objects.filter(variant=variant).order_by("position").values_list("name", flat=True))
    assert names == ["受理投诉", "安抚情绪", "真诚道歉", "确认问题", "迅速行动", "谈判认可", "双向跟进", "闭环处理"]


def test_walk_through_all_steps_leaves_an_event_for_each(new_complaint, people):
    c = new_complaint()
    assert c.step.code == "accept"
    walk(c.number, people["agent"], *FULL_WALK)
    c.refresh_from_db()
    assert c.step.code == "close" and c.closed_at is not None
    kinds = list(Event.objects.filter(complaint=c).order_by("id").values_list("kind", "after__step"))
    advanced = [step for kind, step in kinds if kind == "step.advanced"]
    assert advanced == [s for s, _ in FULL_WALK]
    assert kinds[0][0] == "complaint.created"
    # one responsible owner per step, defaulting to the assignee (none here → None) and closed when left
    assert StepOwner.objects.filter(complaint=c).count() == 8
    assert StepOwner.objects.filter(complaint=c, completed_at__isnull=True).count() == 1


def test_skipping_to_close_is_refused_with_409_and_the_allowed_steps(new_complaint, people):
    c = new_complaint()
    before = Event.objects.filter(complaint=c).count()
    with pytest.raises(Conflict) as exc:
        services.transition_complaint(c.number, actor=people["agent"], to="close")
    assert "安抚情绪" in exc.value.zh or "soothe" in exc.value.zh
    assert Event.objects.filter(complaint=c).count() == before


def test_confirm_needs_a_category_and_the_facts(new_complaint, people):
    c = new_complaint()
    walk(c.number, people["agent"], ("soothe", {}), ("apologize", {}))
    with pytest.raises(Invalid) as exc:
        services.transition_complaint(c.number, actor=people["agent"], to="confirm", data={})
    codes = {p.code for p in exc.value.problems}
    assert codes == {"category_confirmed", "facts_recorded"}
    assert "投诉类别" in exc.value.zh and "事实" in exc.value.zh
    c.refresh_from_db()
    assert c.step.code == "apologize"  # nothing half-written


def test_soothe_and_apologise_may_be_recorded_together_with_a_note(new_complaint, people):
    c = new_complaint()
    with pytest.raises(Invalid):
        services.transition_complaint(c.number, actor=people["agent"], to="apologize", data={})
    services.transition_complaint(c.number, actor=people["agent"], to="apologize",
                                  data={"note": "首次来电时已安抚并致歉"})
    c.refresh_from_db()
    assert c.step.code == "apologize"


def test_refusal_goes_back_to_act_and_twice_escalates_to_the_direct_supervisor(new_complaint, people):
    c = new_complaint()
    walk(c.number, people["agent"], *FULL_WALK[:4])
    services.transition_complaint(c.number, actor=people["agent"], to="negotiate",
                                  data={"customer_answer": "reject", "answer_reason": "金额太低"})
    c.refresh_from_db()
    assert c.step.code == "act" and c.refusal_count == 1 and c.escalation_level == 0
    assert Event.objects.filter(complaint=c, kind="resolution.refused").count() == 1
    services.transition_complaint(c.number, actor=people["agent"], to="negotiate", data={"customer_answer": "拒绝"})
    c.refresh_from_db()
    assert c.refusal_count == 2 and c.escalation_level == 1
    assert c.escalated_to == people["supervisor"]
    ev = Event.objects.get(complaint=c, kind="complaint.escalated")
    assert ev.after["trigger"] == "refused_twice"


def test_close_needs_root_cause_lessons_and_acceptance_unless_a_supervisor_overrides(new_complaint, people):
    c = new_complaint()
    walk(c.number, people["agent"], *FULL_WALK[:6])
    with pytest.raises(Invalid) as exc:
        services.transition_complaint(c.number, actor=people["agent"], to="close", data={})
    assert {p.code for p in exc.value.problems} == {"root_cause", "lessons_learned"}
    # an agent cannot override
    with pytest.raises(Invalid):
        services.transition_complaint(c.number, actor=people["agent"], to="close", data={"override_reason": "客户失联"})
    services.transition_complaint(c.number, actor=people["supervisor"], to="close",
                                  data={"override_reason": "客户失联三次，按规定结案"})
    c.refresh_from_db()
    assert c.closed_at is not None
    ev = Event.objects.filter(complaint=c, kind="step.advanced").latest("id")
    assert ev.after["override"]["reason"].startswith("客户失联")


def test_reopen_by_supervisor_keeps_history(new_complaint, people):
    c = new_complaint()
    walk(c.number, people["agent"], *FULL_WALK)
    with pytest.raises(PermissionDenied):
        services.transition_complaint(c.number, actor=people["agent"], to="confirm", data={"reason": "客户不满意"})
    services.transition_complaint(c.number, actor=people["supervisor"], to="confirm", data={"reason": "回访客户不满意"})
    c.refresh_from_db()
    assert c.step.code == "confirm" and c.closed_at is None and c.reopen_count == 1
    assert Event.objects.filter(complaint=c, kind="step.reopened").exists()
    assert Event.objects.filter(complaint=c, kind="step.advanced").count() == 7


def test_unknown_step_and_unknown_fields_are_rejected(new_complaint, people):
    c = new_complaint()
    with pytest.raises(Invalid):
        services.transition_complaint(c.number, actor=people["agent"], to="teleport")
    with pytest.raises(Invalid):
        services.transition_complaint(c.number, actor=people["agent"], to="soothe", data={"step": "close"})


def test_administrator_can_rename_a_step_and_add_a_variant(new_complaint, people):
    variant = WorkflowVariant.objects.get(is_default=True)
    Step.objects.filter(variant=variant, code="soothe").update(name="情绪安抚")
    c = new_complaint()
    services.transition_complaint(c.number, actor=people["agent"], to="情绪安抚")
    c.refresh_from_db()
    assert c.step.name == "情绪安抚"
    bank = new_complaint(variant="bank7")
    assert bank.variant.code == "bank7" and bank.step.name == "受理登记"
    services.transition_complaint(bank.number, actor=people["agent"], to="apologize")
    with pytest.raises(Invalid):
        services.transition_complaint(bank.number, actor=people["agent"], to="soothe")  # not a step of bank7
    assert Transition.objects.filter(variant__code="bank7").count() >= 8


def test_auditor_cannot_change_anything(new_complaint, people):
    c = new_complaint()
    with pytest.raises(PermissionDenied):
        services.transition_complaint(c.number, actor=people["auditor"], to="soothe")
    with pytest.raises(PermissionDenied):
        services.add_note(c.number, actor=people["auditor"], body="x")


def test_timeline_is_append_only(new_complaint):
    c = new_complaint()
    ev = Event.objects.filter(complaint=c).first()
    ev.note = "tampered"
    with pytest.raises(PermissionError):
        ev.save()
    with pytest.raises(PermissionError):
        ev.delete()
    with pytest.raises(PermissionError):
        Event.objects.filter(complaint=c).update(note="x")
    with pytest.raises(PermissionError):
        Event.objects.filter(complaint=c).delete()


def test_stale_version_is_a_conflict(new_complaint, people):
    c = new_complaint()
    services.transition_complaint(c.number, actor=people["agent"], to="soothe", data={"expected_version": c.version})
    with pytest.raises(Conflict):
        services.transition_complaint(c.number, actor=people["agent"], to="apologize", data={"expected_version": c.version})


def test_numbers_reserved_for_many_days_continue_each_day_without_gaps(db):
    import datetime as dt

    d1, d2 = dt.date(2024, 1, 6), dt.date(2024, 2, 29)
    assert services.reserve_numbers(d1, 2) == ["TS20240106-000001", "TS20240106-000002"]
    out = services.reserve_numbers_by_day({d2: 2, d1: 3, dt.date(2024, 3, 1): 0})
    assert out == {d1: ["TS20240106-000003", "TS20240106-000004", "TS20240106-000005"],
                   d2: ["TS20240229-000001", "TS20240229-000002"]}
    assert services.reserve_numbers(d2, 1) == ["TS20240229-000003"]
    assert services.reserve_numbers_by_day({}) == {}
