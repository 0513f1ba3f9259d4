"""The SLA configuration as the pure cores see it, read from the database rows.

`current()` returns a `presets.Presets` (calendars and policies) built from the
BusinessCalendar / SlaPolicy / SlaTarget / SlaExtensionRule rows, cached per process and
invalidated when any of those rows changes (a version number in the shared cache, so
every worker sees an administrator's edit). `seed_presets()` copies presets.toml into
the tables (used by migration 0002 and by tests after a flush).
"""
from __future__ import annotations

import threading
import time

from django.core.cache import cache

from .calendar import BusinessCalendar as CoreCalendar
from .clock import Target
from .presets import ExtensionRule, Match, MATCH_KEYS, Policy, Presets, TargetRule, load_presets

_VERSION_KEY = "qingting:sla:config-version"
_lock = threading.Lock()
_cached: dict = {"version": None, "presets": None, "checked": 0.0}
_CHECK_EVERY = 2.0  # seconds between looks at the shared version number


def bump_version(*_args, **_kwargs) -> None:
    """Called on every save/delete of a configuration row."""
    try:
        cache.set(_VERSION_KEY, time.time_ns(), None)
    except Exception:  # a cache outage must not stop an admin from saving
        pass
    _cached["version"] = None


def _match(data) -> Match:
    data = data or {}
    return Match(**{k: tuple(data.get(k) or ()) for k in MATCH_KEYS})


def build_from_db() -> Presets:
    from .models import BusinessCalendar, SlaExtensionRule, SlaPolicy, SlaTarget

    calendars = {c.code: c.build() for c in BusinessCalendar.objects.all()}
    rules: dict[int, list] = {}
    for r in SlaExtensionRule.objects.order_by("target_id", "step"):
        rules.setdefault(r.target_id, []).append(
            ExtensionRule(step=r.step, label=r.label, amount=r.amount, approval=r.approval, notice=r.notice))
    targets: dict[int, list] = {}
    for t in SlaTarget.objects.order_by("policy_id", "position", "id"):
        amount = int(t.amount) if float(t.amount).is_integer() else t.amount
        targets.setdefault(t.policy_id, []).append(TargetRule(
            target=Target(kind=t.kind, amount=amount, unit=t.unit, day_end=t.day_end,
                          roll_to_working_day=t.roll_to_working_day, at_risk=t.at_risk, name=t.name),
            label=t.label or t.get_kind_display(), match=_match(t.match), starts_on=t.starts_on,
            pause_reasons=tuple(t.pause_reasons or ()), extensions=tuple(rules.get(t.pk, ()))))
    policies = []
    for p in SlaPolicy.objects.select_related("calendar").order_by("order", "id"):
        policies.append(Policy(code=p.code, name=p.name, calendar=p.calendar.code, order=p.order, name_en=p.name_en,
                               basis=p.basis, enabled=p.enabled, match=_match(p.match),
                               targets=tuple(targets.get(p.pk, ()))))
    return Presets(calendars=calendars, policies=tuple(policies), source="database")


def current() -> Presets:
    now = time.monotonic()
    if _cached["presets"] is not None and _cached["version"] is not None and now - _cached["checked"] < _CHECK_EVERY:
        return _cached["presets"]
    try:
        version = cache.get(_VERSION_KEY)
    except Exception:
        version = None
    if version is None:
        version = time.time_ns()
        try:
            cache.add(_VERSION_KEY, version, None)
            version = cache.get(_VERSION_KEY, version)
        except Exception:
            pass
    with _lock:
        if _cached["presets"] is None or _cached["version"] != version:
            _cached["presets"] = build_from_db()
            _cached["version"] = version
        _cached["checked"] = now
        return _cached["presets"]


def calendar(code: str) -> CoreCalendar:
    cals = current().calendars
    if code in cals:
        return cals[code]
    return CoreCalendar(code=code)  # a deleted calendar: fall back to the standard PRC calendar


def seed_presets(apps=None, path=None) -> None:
    """Create calendars and policies from presets.toml when absent (idempotent)."""
    if apps is None:
        from django.apps import apps as global_apps
        apps = global_apps
    Cal = apps.get_model("sla", "BusinessCalendar")
    Pol = apps.get_model("sla", "SlaPolicy")
    Tgt = apps.get_model("sla", "SlaTarget")
    Ext = apps.get_model("sla", "SlaExtensionRule")
    presets = load_presets(path)
    cal_rows = {}
    for code, cal in presets.calendars.items():
        cfg = cal.to_config()
        hours = cfg["hours"]
        row, _ = Cal.objects.get_or_create(code=code, defaults={
            "name": cal.name, "timezone": cfg["timezone"], "mode": cfg["mode"], "hours": hours,
            "makeup_hours": "", "holidays": cfg["holidays"], "workdays": cfg["workdays"],
            "special_hours": cfg["special_hours"], "declared_years": cfg["declared_years"],
            "use_package": cal.mode == "statutory"})
        cal_rows[code] = row
    for policy in presets.policies:
        p, created = Pol.objects.get_or_create(code=policy.code, defaults={
            "name": policy.name, "name_en": policy.name_en, "basis": policy.basis,
            "calendar": cal_rows[policy.calendar], "order": policy.order, "enabled": policy.enabled,
            "match": policy.match.to_dict()})
        if not created:
            continue
        for pos, rule in enumerate(policy.targets):
            t = rule.target
            row = Tgt.objects.create(
                policy=p, position=pos, kind=t.kind, name=t.name, label=rule.label, amount=t.amount, unit=t.unit,
                day_end=t.day_end, roll_to_working_day=t.roll_to_working_day, at_risk=t.at_risk,
                starts_on=rule.starts_on, pause_reasons=list(rule.pause_reasons), match=rule.match.to_dict())
            for e in rule.extensions:
                Ext.objects.create(target=row, step=e.step, label=e.label, amount=e.amount, approval=e.approval,
                                   notice=e.notice)
    bump_version()


def unseed_presets(apps, schema_editor=None, path=None) -> None:
    """Reverse of `seed_presets`: remove the preset policies and calendars (if unused)."""
    Cal = apps.get_model("sla", "BusinessCalendar")
    Pol = apps.get_model("sla", "SlaPolicy")
    presets = load_presets(path)
    Pol.objects.filter(code__in=[p.code for p in presets.policies]).delete()
    Cal.objects.filter(code__in=list(presets.calendars), policies__isnull=True).delete()
    bump_version()
