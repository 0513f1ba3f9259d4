"""SLA policy presets: load and validate ``presets.toml`` (pure Python, no Django).

Schema (one file; see ``presets.toml`` for a commented example)::

    schema_version = 1
    [calendars.<code>]            # → BusinessCalendar row; keys = BusinessCalendar.from_config
    name, name_en, timezone, mode = "statutory"|"weekly", hours = "09:00-18:00" | {mon=…, …},
    makeup_hours, holidays = [dates], workdays = [dates], special_hours = {date = "…"},
    declared_years = [2027], use_package = true

    [[policies]]                  # → SlaPolicy row
    code (unique, [a-z0-9_]), name, name_en, basis (legal source, optional),
    calendar (a calendar code), order (int, smaller first), enabled (bool, default true)
    [policies.match]              # → SlaPolicy match columns (JSON)
    priority = ["P1"…], category = [...], channel = [...], profile = [...],
    customer_tags = [...], tags = [...]

    [[policies.targets]]          # → SlaTarget row (FK policy; position = index)
    kind = first_response|contact|resolution|follow_up|promise, name (promises: a code),
    label, amount (> 0), unit (see clock.UNITS), day_end = "close"|"midnight",
    roll_to_working_day (calendar_days), at_risk (0–1, default 0.75),
    starts_on = received|accepted|resolved|promised (default by kind),
    pause_reasons = [customer|appraisal|mediation|third_party]
    [policies.targets.match]      # → SlaTarget match columns, same keys as above
    [[policies.targets.extensions]]  # → SlaExtensionRule row (FK target; step = index + 1)
    label, amount (> 0, target's unit), approval (bool), notice (bool: tell the customer)

Errors raise :class:`PresetError` (a ValueError) naming the file and the key path, e.g.
``presets.toml: policies[1] (samr_12315).targets[0].unit: …``; TOML syntax errors keep
tomllib's line and column.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

from .calendar import BusinessCalendar, CalendarConfigError
from .clock import KINDS, UNITS, Extension, Target

__all__ = [
    "PresetError",
    "Match",
    "ExtensionRule",
    "TargetRule",
    "Policy",
    "Presets",
    "load_presets",
    "parse_presets",
    "check_extension",
    "MATCH_KEYS",
    "PAUSE_REASONS",
    "STARTS_ON",
]

MATCH_KEYS = ("priority", "category", "channel", "profile", "customer_tags", "tags")
_TAG_KEYS = ("customer_tags", "tags")
PRIORITIES = ("P1", "P2", "P3", "P4")
CHANNELS = ("phone", "in_person", "letter", "web", "email", "chat", "social", "regulator", "api", "import")
PAUSE_REASONS = {
    "customer": ("等待客户", "Waiting for the customer"),
    "appraisal": ("外部鉴定/检测/评估", "External appraisal or testing"),
    "mediation": ("调解中", "Mediation"),
    "third_party": ("等待第三方", "Waiting for a third party"),
}
STARTS_ON = ("received", "accepted", "resolved", "promised")
_DEFAULT_START = {
    "first_response": "received",
    "contact": "received",
    "resolution": "received",
    "follow_up": "resolved",
    "promise": "promised",
}
_CODE = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")


class PresetError(ValueError):
    """A preset file that cannot be used; the message names the file and key."""


@dataclass(frozen=True)
class Match:
    """A match rule. Empty tuples match everything."""

    priority: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    channel: tuple[str, ...] = ()
    profile: tuple[str, ...] = ()
    customer_tags: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def matches(self, facts: Mapping[str, Any]) -> bool:
        """``facts``: ``{"priority": "P3", "category": …, "channel": …, "profile": …,
        "customer_tags": [...], "tags": [...]}`` (missing keys are unknown)."""
        for key in MATCH_KEYS:
            wanted = getattr(self, key)
            if not wanted:
                continue
            value = facts.get(key)
            if key in _TAG_KEYS:
                have = set(value or ())
                if not have.intersection(wanted):
                    return False
            elif value not in wanted:
                return False
        return True

    def to_dict(self) -> dict:
        return {k: list(getattr(self, k)) for k in MATCH_KEYS if getattr(self, k)}


@dataclass(frozen=True)
class ExtensionRule:
    step: int
    label: str
    amount: float
    approval: bool = False
    notice: bool = True


@dataclass(frozen=True)
class TargetRule:
    target: Target
    label: str
    match: Match = Match()
    starts_on: str = "received"
    pause_reasons: tuple[str, ...] = ()
    extensions: tuple[ExtensionRule, ...] = ()

    @property
    def kind(self) -> str:
        return self.target.kind

    @property
    def name(self) -> str:
        return self.target.name


@dataclass(frozen=True)
class Policy:
    code: str
    name: str
    calendar: str
    order: int = 100
    name_en: str = ""
    basis: str = ""
    enabled: bool = True
    match: Match = Match()
    targets: tuple[TargetRule, ...] = ()

    def targets_for(self, facts: Mapping[str, Any]) -> list[TargetRule]:
        """For each (kind, name), the first target whose match applies."""
        seen: set[tuple[str, str]] = set()
        out = []
        for t in self.targets:
            key = (t.kind, t.name)
            if key in seen or not t.match.matches(facts):
                continue
            seen.add(key)
            out.append(t)
        return out


@dataclass(frozen=True)
class Presets:
    calendars: Mapping[str, BusinessCalendar]
    policies: tuple[Policy, ...]
    source: str = "presets.toml"

    def select_policy(self, facts: Mapping[str, Any]) -> Policy | None:
        for p in self.policies:  # already sorted by (order, file position)
            if p.enabled and p.match.matches(facts):
                return p
        return None

    def policy(self, code: str) -> Policy:
        for p in self.policies:
            if p.code == code:
                return p
        raise KeyError(code)


def check_extension(rule: TargetRule, granted: Sequence[Extension], new: Extension) -> ExtensionRule:
    """Which extension rule ``new`` uses, given the approved extensions ``granted`` so far.

    Raises :class:`PresetError` when the target allows no (further) extension, when
    ``new`` asks for more than the rule allows, or when the rule needs an approval and
    ``new`` is not approved.
    """
    used = [e for e in granted if e.approved]
    if len(used) >= len(rule.extensions):
        raise PresetError(
            f"“{rule.label}”不能再延期（已延期 {len(used)} 次，规则允许 {len(rule.extensions)} 次）/ "
            f"no further extension allowed for {rule.kind} ({len(used)} of {len(rule.extensions)} used)"
        )
    step = rule.extensions[len(used)]
    if new.amount > step.amount:
        raise PresetError(
            f"“{step.label}”最多延长 {step.amount}，申请了 {new.amount} / "
            f"extension step {step.step} allows at most {step.amount}, asked {new.amount}"
        )
    if step.approval and not new.approved:
        raise PresetError(f"“{step.label}”需要审批 / extension step {step.step} needs an approval")
    return step


# --------------------------------------------------------------------------- parsing


class _Ctx:
    def __init__(self, source: str):
        self.source = source

    def fail(self, where: str, msg: str):
        raise PresetError(f"{self.source}: {where}: {msg}")

    def keys(self, table: Mapping, allowed: set[str], where: str):
        if not isinstance(table, Mapping):
            self.fail(where, "应为表（table）/ expected a table")
        extra = sorted(set(table) - allowed)
        if extra:
            self.fail(
                f"{where}.{extra[0]}",
                f"未知的设置项，可用：{', '.join(sorted(allowed))} / unknown key; allowed: {', '.join(sorted(allowed))}",
            )

    def string(self, table, key, where, *, required=True, default=""):
        if key not in table:
            if required:
                self.fail(f"{where}.{key}", "缺少必填项 / missing required key")
            return default
        v = table[key]
        if not isinstance(v, str) or (required and not v.strip()):
            self.fail(f"{where}.{key}", f"应为非空字符串，收到 {v!r} / expected a non-empty string")
        return v

    def boolean(self, table, key, where, default):
        v = table.get(key, default)
        if not isinstance(v, bool):
            self.fail(f"{where}.{key}", f"应为 true 或 false，收到 {v!r} / expected true or false")
        return v

    def strings(self, table, key, where, allowed=None):
        v = table.get(key, [])
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
            self.fail(f"{where}.{key}", f"应为字符串列表，收到 {v!r} / expected a list of strings")
        if allowed is not None:
            for x in v:
                if x not in allowed:
                    self.fail(
                        f"{where}.{key}",
                        f"未知的取值“{x}”，可用：{', '.join(allowed)} / unknown value '{x}'; allowed: {', '.join(allowed)}",
                    )
        return tuple(v)


def _match(ctx: _Ctx, table, where) -> Match:
    if table is None:
        return Match()
    ctx.keys(table, set(MATCH_KEYS), where)
    return Match(
        priority=ctx.strings(table, "priority", where, PRIORITIES),
        category=ctx.strings(table, "category", where),
        channel=ctx.strings(table, "channel", where, CHANNELS),
        profile=ctx.strings(table, "profile", where),
        customer_tags=ctx.strings(table, "customer_tags", where),
        tags=ctx.strings(table, "tags", where),
    )


_TARGET_KEYS = {
    "kind", "name", "label", "amount", "unit", "day_end", "roll_to_working_day", "at_risk", "starts_on",
    "pause_reasons", "match", "extensions",
}
_POLICY_KEYS = {"code", "name", "name_en", "basis", "calendar", "order", "enabled", "match", "targets"}


def _target(ctx: _Ctx, table, where) -> TargetRule:
    ctx.keys(table, _TARGET_KEYS, where)
    kind = ctx.string(table, "kind", where)
    if kind not in KINDS:
        ctx.fail(f"{where}.kind", f"未知的时限类型“{kind}”，可用：{', '.join(KINDS)} / unknown kind")
    name = ctx.string(table, "name", where, required=kind == "promise")
    unit = ctx.string(table, "unit", where)
    if unit not in UNITS:
        ctx.fail(f"{where}.unit", f"未知的时间单位“{unit}”，可用：{', '.join(UNITS)} / unknown unit")
    if "amount" not in table:
        ctx.fail(f"{where}.amount", "缺少必填项 / missing required key")
    try:
        target = Target(
            kind=kind,
            amount=table["amount"],
            unit=unit,
            day_end=table.get("day_end", "close"),
            roll_to_working_day=ctx.boolean(table, "roll_to_working_day", where, False),
            at_risk=table.get("at_risk", 0.75),
            name=name,
        )
    except ValueError as e:
        ctx.fail(where, str(e))
    starts_on = ctx.string(table, "starts_on", where, required=False, default=_DEFAULT_START[kind])
    if starts_on not in STARTS_ON:
        ctx.fail(f"{where}.starts_on", f"未知的起算点“{starts_on}”，可用：{', '.join(STARTS_ON)} / unknown start event")
    exts = []
    raw = table.get("extensions", [])
    if not isinstance(raw, list):
        ctx.fail(f"{where}.extensions", "应为 [[…extensions]] 列表 / expected an array of tables")
    for i, e in enumerate(raw):
        w = f"{where}.extensions[{i}]"
        ctx.keys(e, {"label", "amount", "approval", "notice"}, w)
        amount = e.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount <= 0:
            ctx.fail(f"{w}.amount", f"延期时长应为正数，收到 {amount!r} / an extension must be a positive number")
        if target.measure in ("calendar_days", "working_days") and int(amount) != amount:
            ctx.fail(f"{w}.amount", "按日计算的时限只能整天延期 / day-counted targets extend by whole days")
        exts.append(
            ExtensionRule(
                step=i + 1,
                label=ctx.string(e, "label", w),
                amount=amount,
                approval=ctx.boolean(e, "approval", w, False),
                notice=ctx.boolean(e, "notice", w, True),
            )
        )
    return TargetRule(
        target=target,
        label=ctx.string(table, "label", where, required=False, default=KINDS[kind][0]),
        match=_match(ctx, table.get("match"), f"{where}.match"),
        starts_on=starts_on,
        pause_reasons=ctx.strings(table, "pause_reasons", where, tuple(PAUSE_REASONS)),
        extensions=tuple(exts),
    )


def parse_presets(data: Mapping, source: str = "presets.toml") -> Presets:
    """Validate already-parsed TOML data (e.g. from an admin upload)."""
    ctx = _Ctx(source)
    ctx.keys(data, {"schema_version", "calendars", "policies"}, "(top level)")
    if data.get("schema_version") != 1:
        ctx.fail("schema_version", f"应为 1，收到 {data.get('schema_version')!r} / expected 1")
    calendars: dict[str, BusinessCalendar] = {}
    cal_tables = data.get("calendars", {})
    ctx.keys(cal_tables, set(cal_tables) if isinstance(cal_tables, Mapping) else set(), "calendars")
    for code, table in cal_tables.items():
        where = f"calendars.{code}"
        if not _CODE.match(code):
            ctx.fail(where, "日历代码只能用小写字母、数字和下划线 / calendar codes use a-z, 0-9 and _")
        if not isinstance(table, Mapping):
            ctx.fail(where, "应为表（table）/ expected a table")
        try:
            calendars[code] = BusinessCalendar.from_config({"code": code, **table})
        except (CalendarConfigError, TypeError) as e:
            ctx.fail(where, str(e))
    policies = []
    raw = data.get("policies", [])
    if not isinstance(raw, list):
        ctx.fail("policies", "应为 [[policies]] 列表 / expected an array of tables")
    codes: set[str] = set()
    for i, table in enumerate(raw):
        where = f"policies[{i}]"
        ctx.keys(table, _POLICY_KEYS, where)
        code = ctx.string(table, "code", where)
        where = f"policies[{i}] ({code})"
        if not _CODE.match(code):
            ctx.fail(f"{where}.code", "规则代码只能用小写字母、数字和下划线 / policy codes use a-z, 0-9 and _")
        if code in codes:
            ctx.fail(f"{where}.code", f"重复的规则代码“{code}” / duplicate policy code")
        codes.add(code)
        cal = ctx.string(table, "calendar", where)
        if cal not in calendars:
            ctx.fail(f"{where}.calendar", f"未定义的日历“{cal}”，已有：{', '.join(calendars) or '无'} / unknown calendar")
        order = table.get("order", 100)
        if isinstance(order, bool) or not isinstance(order, int):
            ctx.fail(f"{where}.order", f"应为整数，收到 {order!r} / expected an integer")
        traw = table.get("targets", [])
        if not isinstance(traw, list) or not traw:
            ctx.fail(f"{where}.targets", "至少需要一个时限目标 / at least one target is required")
        targets = tuple(_target(ctx, t, f"{where}.targets[{j}]") for j, t in enumerate(traw))
        policies.append(
            (
                order,
                i,
                Policy(
                    code=code,
                    name=ctx.string(table, "name", where),
                    name_en=ctx.string(table, "name_en", where, required=False),
                    basis=ctx.string(table, "basis", where, required=False),
                    calendar=cal,
                    order=order,
                    enabled=ctx.boolean(table, "enabled", where, True),
                    match=_match(ctx, table.get("match"), f"{where}.match"),
                    targets=targets,
                ),
            )
        )
    policies.sort(key=lambda x: (x[0], x[1]))
    return Presets(calendars=calendars, policies=tuple(p for _, _, p in policies), source=source)


def load_presets(path: str | Path | None = None) -> Presets:
    """Load ``path`` (default: the ``presets.toml`` shipped in this package)."""
    if path is None:
        text = resources.files(__package__).joinpath("presets.toml").read_text(encoding="utf-8")
        source = "qingting/sla/presets.toml"
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise PresetError(f"{source}: 无法读取 / cannot read: {e}") from None
        except UnicodeDecodeError:
            raise PresetError(f"{source}: 不是 UTF-8 文本 / not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PresetError(f"{source}: TOML 语法错误 / TOML syntax error: {e}") from None
    return parse_presets(data, source)
