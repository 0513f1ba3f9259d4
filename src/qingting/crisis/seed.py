"""Load the crisis reference data (crisis types, severities, playbooks, escalation rules,
statement approval roles) from `data/playbooks.toml`. Re-runnable: rows whose code exists
are kept as the administrator edited them; playbook items are added only to an empty playbook."""
from __future__ import annotations

import tomllib
from importlib import resources

STEPS = {"assess", "strategy", "gather", "respond", "communicate", "coordinate", "review"}
ROLES = {"commander", "spokesperson", "liaison", "scribe", "legal", "member"}
RULE_KINDS = {"safety_customers", "influencer_p1", "regulator_count", "group_size", "hotspot_score"}
SOURCE = "qingting/crisis/data/playbooks.toml"


class SeedError(ValueError):
    pass


def load(text: str | None = None, source: str = SOURCE) -> dict:
    if text is None:
        text = resources.files("qingting.crisis").joinpath("data/playbooks.toml").read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SeedError(f"{source}: invalid TOML: {exc}") from exc
    known = {"crisis_type", "severity", "playbook", "rule", "statement_policy"}
    for key in data:
        if key not in known:
            raise SeedError(f"{source}: unknown table [[{key}]] (known: {', '.join(sorted(known))})")
    types = {t.get("code") for t in data.get("crisis_type", [])}
    for i, t in enumerate(data.get("crisis_type", []), 1):
        if not t.get("code") or not t.get("name"):
            raise SeedError(f"{source}: crisis_type #{i} needs code and name")
    for i, s in enumerate(data.get("severity", []), 1):
        if not s.get("code") or not s.get("name") or int(s.get("holding_hours", 0)) <= 0:
            raise SeedError(f"{source}: severity #{i} needs code, name and holding_hours > 0")
    for i, p in enumerate(data.get("playbook", []), 1):
        where = f"{source}: playbook #{i} ({p.get('title', '?')})"
        if p.get("step") not in STEPS:
            raise SeedError(f"{where}: step {p.get('step')!r} is not one of {sorted(STEPS)}")
        if p.get("owner_role", "commander") not in ROLES:
            raise SeedError(f"{where}: owner_role {p.get('owner_role')!r} is not one of {sorted(ROLES)}")
        if p.get("crisis_type") and p["crisis_type"] not in types:
            raise SeedError(f"{where}: crisis_type {p['crisis_type']!r} is not defined")
        if not p.get("title"):
            raise SeedError(f"{where}: title is required")
    for i, r in enumerate(data.get("rule", []), 1):
        if r.get("kind") not in RULE_KINDS:
            raise SeedError(f"{source}: rule #{i} kind {r.get('kind')!r} is not one of {sorted(RULE_KINDS)}")
    for i, sp in enumerate(data.get("statement_policy", []), 1):
        for k in ("draft_role", "review_role", "approve_role"):
            if sp.get(k) not in ROLES:
                raise SeedError(f"{source}: statement_policy #{i} {k} {sp.get(k)!r} is not one of {sorted(ROLES)}")
    return data


def seed(apps=None, data: dict | None = None) -> None:
    """Create what is missing. `apps` is the migration app registry (or None for the live models)."""
    if apps is None:
        from django.apps import apps as live
        apps = live
    data = data or load()
    CrisisType = apps.get_model("crisis", "CrisisType")
    Severity = apps.get_model("crisis", "Severity")
    PlaybookItem = apps.get_model("crisis", "PlaybookItem")
    EscalationRule = apps.get_model("crisis", "EscalationRule")
    StatementPolicy = apps.get_model("crisis", "StatementPolicy")
    types = {}
    for i, t in enumerate(data.get("crisis_type", [])):
        types[t["code"]], _ = CrisisType.objects.get_or_create(
            code=t["code"], defaults={"name": t["name"], "description": t.get("description", ""), "position": i})
    sevs = {}
    for i, s in enumerate(data.get("severity", [])):
        sevs[s["code"]], _ = Severity.objects.get_or_create(
            code=s["code"], defaults={"name": s["name"], "description": s.get("description", ""),
                                      "holding_hours": s["holding_hours"], "update_hours": s.get("update_hours", 24),
                                      "position": i})
    if not PlaybookItem.objects.exists():
        for i, p in enumerate(data.get("playbook", [])):
            PlaybookItem.objects.create(
                crisis_type=types.get(p.get("crisis_type")) if p.get("crisis_type") else None, step=p["step"],
                title=p["title"], guidance=p.get("guidance", ""), owner_role=p.get("owner_role", "commander"),
                department=p.get("department", ""), due_hours=p.get("due_hours"),
                due_from_severity=bool(p.get("due_from_severity")), position=i)
    for i, r in enumerate(data.get("rule", [])):
        EscalationRule.objects.get_or_create(code=r["code"], defaults={
            "name": r.get("name", r["code"]), "kind": r["kind"], "min_count": r.get("min_count", 3),
            "within_hours": r.get("within_hours", 24), "min_score": r.get("min_score", 8.0),
            "crisis_type": types.get(r.get("crisis_type")), "severity": sevs.get(r.get("severity")), "position": i})
    for sp in data.get("statement_policy", []):
        StatementPolicy.objects.get_or_create(kind=sp["kind"], defaults={
            "draft_role": sp["draft_role"], "review_role": sp["review_role"], "approve_role": sp["approve_role"]})


def unseed(apps, schema_editor=None) -> None:
    data = load()
    apps.get_model("crisis", "StatementPolicy").objects.all().delete()
    apps.get_model("crisis", "EscalationRule").objects.filter(code__in=[r["code"] for r in data.get("rule", [])]).delete()
    apps.get_model("crisis", "PlaybookItem").objects.all().delete()
    apps.get_model("crisis", "Severity").objects.filter(
        code__in=[s["code"] for s in data.get("severity", [])], crises__isnull=True).delete()
    apps.get_model("crisis", "CrisisType").objects.filter(
        code__in=[t["code"] for t in data.get("crisis_type", [])], crises__isnull=True).delete()
