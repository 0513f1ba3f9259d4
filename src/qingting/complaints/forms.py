"""Form definitions for the workbench pages.

The pages validate nothing the services do not: these helpers only decide which inputs a
page shows and turn POST data into the arguments of a service call. Rules live in
`services.py` and `workflow.py`; their Invalid/Conflict messages are shown next to the form.
"""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from qingting.accounts import access

from .models import Channel, CustomerAnswer, Priority, ResolutionType, Transition
from .workflow import GuardContext, check_guards

# Every input a step form may show: name → (label, widget, required in the form, help)
STEP_FIELDS: dict[str, dict] = {
    "category": {"label": _("投诉类别"), "widget": "category", "required": True},
    "facts": {"label": _("核实的事实"), "widget": "textarea", "required": True,
              "help": _("时间、地点、经过、客户诉求，已核实的写清依据")},
    "resolution_type": {"label": _("解决方式"), "widget": "select", "required": True,
                        "choices": ResolutionType.choices},
    "resolution_amount": {"label": _("金额（元）"), "widget": "number", "required": False},
    "action_plan": {"label": _("处理方案"), "widget": "textarea", "required": True},
    "customer_answer": {"label": _("客户意见"), "widget": "select", "required": True,
                        "choices": CustomerAnswer.choices, "help": _("选择“拒绝”会退回到“迅速行动”并计入升级次数")},
    "answer_reason": {"label": _("客户意见说明"), "widget": "textarea", "required": False},
    "root_cause": {"label": _("根本原因"), "widget": "textarea", "required": True},
    "lessons_learned": {"label": _("经验教训"), "widget": "textarea", "required": True},
    "note": {"label": _("说明"), "widget": "textarea", "required": False},
    "reason": {"label": _("原因"), "widget": "textarea", "required": True},
    "override_reason": {"label": _("越过条件的理由（主管）"), "widget": "textarea", "required": False,
                        "help": _("条件未满足时，主管填写理由即可越过，理由记入处理记录")},
}

# The inputs each guard needs, so a variant's transitions get the right fields without code.
GUARD_FIELDS = {
    "category_confirmed": ["category"],
    "facts_recorded": ["facts"],
    "action_planned": ["resolution_type", "resolution_amount", "action_plan"],
    "customer_answer_recorded": ["customer_answer", "answer_reason"],
    "resolution_accepted": ["customer_answer"],
    "root_cause_recorded": ["root_cause"],
    "lessons_recorded": ["lessons_learned"],
    "note_required": ["note"],
    "reason_required": ["reason"],
    "supervisor_override": ["override_reason"],
}

# What entering a step records, whether or not its guard is already satisfied.
TARGET_FIELDS = {
    "confirm": ["category", "facts"],
    "act": ["resolution_type", "resolution_amount", "action_plan"],
    "negotiate": ["customer_answer", "answer_reason"],
    "close": ["root_cause", "lessons_learned"],
}
FIELD_ORDER = list(STEP_FIELDS)


def transition_forms(complaint, user) -> list[dict]:
    """One form description per transition the user may take from the current step."""
    role = access.role_of(user)
    out = []
    transitions = Transition.objects.filter(from_step=complaint.step_id).select_related("to_step") \
        .order_by("to_step__position")
    for t in transitions:
        if t.roles and role not in t.roles:
            continue
        overridable = role in (t.override_roles or [])
        guards = list(t.guards or [])
        if "supervisor_override" in guards and not overridable:
            continue  # only a supervisor can take this path
        names: set[str] = set()
        if t.kind in (Transition.Kind.FORWARD, Transition.Kind.SKIP):
            names.update(TARGET_FIELDS.get(t.to_step.code, []))
        ctx = GuardContext(complaint, {}, user)
        for g in guards:
            if check_guards([g], ctx):
                names.update(GUARD_FIELDS.get(g, []))
        if overridable and guards:
            names.add("override_reason")
        if not names:
            names.add("note")
        fields = []
        for name in FIELD_ORDER:
            if name in names:
                spec = dict(STEP_FIELDS[name])
                if name == "override_reason" and "supervisor_override" in guards:
                    spec["required"] = True
                fields.append({"name": name, **spec, "value": _current_value(complaint, name)})
        out.append({"to": t.to_step.code, "name": t.to_step.name, "name_en": t.to_step.name_en, "kind": t.kind,
                    "fields": fields, "overridable": overridable})
    return out


def _current_value(complaint, name: str) -> str:
    if name == "category":
        return complaint.category.code if complaint.category_id else ""
    if name == "resolution_amount":
        return "" if complaint.resolution_amount is None else str(complaint.resolution_amount)
    if name in ("facts", "action_plan", "resolution_type", "root_cause", "lessons_learned"):
        return getattr(complaint, name) or ""
    return ""


def transition_data(post, form: dict) -> dict:
    """The service's `data` from a step form's POST: only that form's fields, blanks dropped."""
    data = {}
    for f in form["fields"]:
        value = post.get(f["name"])
        if value is None:
            continue
        value = value.strip()
        if value == "":
            continue
        data[f["name"]] = value
    return data


CHANNEL_INTAKE = [Channel.PHONE, Channel.IN_PERSON, Channel.LETTER, Channel.EMAIL, Channel.CHAT, Channel.SOCIAL,
                  Channel.WEB, Channel.REGULATOR]
PRIORITY_CHOICES = Priority.choices


def about_fields(profile) -> list[dict]:
    """The profile's fields as inputs: key, label, HTML input type, choices."""
    out = []
    for f in profile.fields or []:
        if not isinstance(f, dict) or not f.get("key"):
            continue
        kind = f.get("type", "str")
        html = {"int": "number", "decimal": "text", "date": "date", "datetime": "datetime-local"}.get(kind, "text")
        out.append({"key": str(f["key"]), "label": str(f.get("label") or f["key"]), "type": kind, "html": html,
                    "choices": [str(c) for c in f.get("choices", [])] if kind == "choice" else [],
                    "required": bool(f.get("required")), "max_length": f.get("max_length"),
                    "hint": f.get("pattern_hint", "")})
    return out


def about_from_post(post, profile, prefix: str) -> dict:
    about = {}
    for f in about_fields(profile):
        value = (post.get(f"{prefix}{f['key']}") or "").strip()
        if value:
            about[f["key"]] = value
    return about
