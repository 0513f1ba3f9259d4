"""The workflow's guards and the loader that turns defaults.toml into rows.

Steps and transitions are data (tables an administrator edits); the guards a
transition may name are code, registered here by stable code. Each guard looks at
the complaint (with the step's data already applied) and the request, and returns the
problems that stop the move, in Chinese and English.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from qingting.core.errors import Problem

DEFAULTS_FILE = Path(__file__).parent / "data" / "defaults.toml"
ESCALATE_AFTER_REFUSALS = 2
OVERRIDE_ROLES_DEFAULT = ("supervisor", "manager", "admin")


@dataclass(frozen=True)
class GuardContext:
    complaint: object
    data: dict
    actor: object


def _category_confirmed(ctx):
    c = ctx.complaint
    if not c.category_id or not c.category_confirmed:
        return [Problem("category_confirmed", "需要确认投诉类别（category）", "A confirmed category is required (category)", "category")]
    return []


def _facts_recorded(ctx):
    if not (ctx.complaint.facts or "").strip():
        return [Problem("facts_recorded", "需要记录核实的事实（facts）", "The verified facts must be recorded (facts)", "facts")]
    return []


def _action_planned(ctx):
    c, out = ctx.complaint, []
    if not c.resolution_type:
        out.append(Problem("resolution_type", "需要选择解决方式（resolution_type）", "Choose a resolution type (resolution_type)", "resolution_type"))
    if not (c.action_plan or "").strip():
        out.append(Problem("action_plan", "需要填写处理方案（action_plan）", "Describe the action plan (action_plan)", "action_plan"))
    return out


def _customer_answer_recorded(ctx):
    if not ctx.complaint.customer_answer:
        return [Problem("customer_answer", "需要记录客户对方案的意见：接受/部分接受/拒绝（customer_answer）",
                        "Record the customer's answer: accept / partial / reject (customer_answer)", "customer_answer")]
    return []


def _resolution_accepted(ctx):
    if ctx.complaint.customer_answer not in ("accept", "partial"):
        return [Problem("resolution_accepted", "客户尚未接受解决方案（customer_answer 需为 accept 或 partial）",
                        "The customer has not accepted the resolution (customer_answer must be accept or partial)",
                        "customer_answer")]
    return []


def _root_cause_recorded(ctx):
    if not (ctx.complaint.root_cause or "").strip():
        return [Problem("root_cause", "需要记录根本原因（root_cause）", "The root cause must be recorded (root_cause)", "root_cause")]
    return []


def _lessons_recorded(ctx):
    if not (ctx.complaint.lessons_learned or "").strip():
        return [Problem("lessons_learned", "需要记录经验教训（lessons_learned）", "Lessons learned must be recorded (lessons_learned)", "lessons_learned")]
    return []


def _note_required(ctx):
    if not (ctx.data.get("note") or "").strip():
        return [Problem("note", "合并环节需要填写说明（note），例如首次接触时已一并安抚并致歉",
                        "Combining steps needs a note (note), e.g. soothed and apologised on the first contact", "note")]
    return []


def _reason_required(ctx):
    if not (ctx.data.get("reason") or "").strip():
        return [Problem("reason", "需要填写原因（reason）", "A reason is required (reason)", "reason")]
    return []


def _supervisor_override(ctx):
    # Only satisfiable through the override path (a supervisor with override_reason).
    return [Problem("supervisor_override", "跳过回访结案需要主管批准并填写理由（override_reason）",
                    "Closing without follow-up needs a supervisor's override with a reason (override_reason)",
                    "override_reason")]


GUARDS: dict[str, Callable[[GuardContext], list[Problem]]] = {
    "category_confirmed": _category_confirmed,
    "facts_recorded": _facts_recorded,
    "action_planned": _action_planned,
    "customer_answer_recorded": _customer_answer_recorded,
    "resolution_accepted": _resolution_accepted,
    "root_cause_recorded": _root_cause_recorded,
    "lessons_recorded": _lessons_recorded,
    "note_required": _note_required,
    "reason_required": _reason_required,
    "supervisor_override": _supervisor_override,
}


def check_guards(codes: list[str], ctx: GuardContext) -> list[Problem]:
    problems: list[Problem] = []
    for code in codes:
        guard = GUARDS.get(code)
        if guard is None:
            problems.append(Problem("unknown_guard", f"流程配置错误：未知条件 {code}", f"Workflow misconfigured: unknown guard {code}"))
            continue
        problems.extend(guard(ctx))
    return problems


def load_defaults(path: Path = DEFAULTS_FILE) -> dict:
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    for wf in data.get("workflow", []):
        codes = {s["code"] for s in wf["steps"]}
        for t in wf.get("transitions", []):
            for end in ("from", "to"):
                if t[end] not in codes:
                    raise ValueError(f"{path.name}: workflow {wf['code']}: transition names unknown step {t[end]!r}")
            for g in t.get("guards", []):
                if g not in GUARDS:
                    raise ValueError(f"{path.name}: workflow {wf['code']}: unknown guard {g!r}")
    return data


def seed_defaults(apps=None, path: Path = DEFAULTS_FILE) -> None:
    """Create the default workflow, profiles and categories if they are absent (idempotent)."""
    if apps is None:
        from django.apps import apps as global_apps
        apps = global_apps
    get = lambda name: apps.get_model("complaints", name)  # noqa: E731
    WorkflowVariant, Step, Transition = get("WorkflowVariant"), get("Step"), get("Transition")
    IndustryProfile, Category = get("IndustryProfile"), get("Category")
    data = load_defaults(path)
    for wf in data.get("workflow", []):
        variant, _ = WorkflowVariant.objects.get_or_create(
            code=wf["code"], defaults={"name": wf["name"], "is_default": wf.get("is_default", False),
                                       "description": wf.get("description", "")})
        steps = {}
        for pos, s in enumerate(wf["steps"], start=1):
            steps[s["code"]], _ = Step.objects.get_or_create(
                variant=variant, code=s["code"],
                defaults={"name": s["name"], "name_en": s.get("name_en", ""), "position": pos,
                          "description": s.get("description", ""), "customer_text": s.get("customer_text", ""),
                          "is_final": s.get("is_final", False)})
        for t in wf.get("transitions", []):
            Transition.objects.get_or_create(
                from_step=steps[t["from"]], to_step=steps[t["to"]],
                defaults={"variant": variant, "kind": t.get("kind", "forward"), "guards": t.get("guards", []),
                          "roles": t.get("roles", []), "override_roles": t.get("override_roles", []),
                          "counts_as_refusal": t.get("counts_as_refusal", False)})
    profiles = {}
    for pos, p in enumerate(data.get("profile", [])):
        profiles[p["code"]], _ = IndustryProfile.objects.get_or_create(
            code=p["code"], defaults={"name": p["name"], "fields": p.get("fields", []), "position": pos})
    for pos, cat in enumerate(data.get("category", [])):
        parent, _ = Category.objects.get_or_create(code=cat["code"], defaults={"name": cat["name"], "position": pos})
        for cpos, child in enumerate(cat.get("children", [])):
            Category.objects.get_or_create(
                code=child["code"],
                defaults={"name": child["name"], "parent": parent, "position": cpos,
                          "profile": profiles.get(child.get("profile")) if child.get("profile") else None})


def unseed_defaults(apps, schema_editor=None) -> None:
    data = load_defaults()
    get = lambda name: apps.get_model("complaints", name)  # noqa: E731
    codes = [c["code"] for cat in data.get("category", []) for c in cat.get("children", [])]
    get("Category").objects.filter(code__in=codes).delete()
    get("Category").objects.filter(code__in=[c["code"] for c in data.get("category", [])]).delete()
    get("IndustryProfile").objects.filter(code__in=[p["code"] for p in data.get("profile", [])]).delete()
    get("WorkflowVariant").objects.filter(code__in=[w["code"] for w in data.get("workflow", [])]).delete()
