"""Column mappings: which column feeds which complaint field; presets are TOML data files.

A mapping is a dict:
  name, title, source (with the external id it keeps re-runs idempotent), profile,
  closed (import as closed history, default true), channel (default "import"),
  columns {header: target}, values {target: {cell value: code}}.

Targets: external_id, received_at, closed_at, subject, description, note (appended to the
description as "表头：值"), customer.name, customer.mobile, customer.email, category,
priority, channel, department, about.<profile field>, ignore.
"""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

from qingting.core.errors import Invalid, NotFound

PRESET_DIR = Path(__file__).resolve().parent.parent / "data" / "mappings"
PLAIN_TARGETS = {"external_id", "received_at", "closed_at", "subject", "description", "note", "customer.name",
                 "customer.mobile", "customer.email", "category", "priority", "channel", "department", "reply", "ignore"}
TARGET_LABELS = {
    "external_id": "外部编号", "received_at": "投诉时间", "closed_at": "办结时间", "subject": "投诉简述",
    "description": "投诉内容", "note": "附加说明（并入内容）", "customer.name": "客户姓名", "customer.mobile": "客户手机",
    "customer.email": "客户邮箱", "category": "投诉类别", "priority": "优先级", "channel": "渠道",
    "department": "部门", "reply": "历史答复（存为回复客户的消息）", "ignore": "不导入",
}

# Header names (normalised: lower case, no spaces/punctuation) → target. Order matters: first match wins.
SUGGESTIONS: list[tuple[str, str]] = [
    ("投诉编号", "external_id"), ("留言编号", "external_id"), ("工单编号", "external_id"), ("工单号", "external_id"),
    ("编号", "external_id"), ("complaintid", "external_id"), ("ticketid", "external_id"), ("id", "external_id"),
    ("投诉日期", "received_at"), ("投诉时间", "received_at"), ("留言时间", "received_at"), ("受理时间", "received_at"),
    ("来电时间", "received_at"), ("日期", "received_at"), ("datereceived", "received_at"), ("date", "received_at"),
    ("答复时间", "closed_at"), ("办结时间", "closed_at"), ("结案时间", "closed_at"),
    ("投诉简述", "description"), ("留言详情", "description"), ("投诉内容", "description"), ("问题描述", "description"),
    ("consumercomplaintnarrative", "description"), ("narrative", "description"), ("description", "description"),
    ("留言主题", "subject"), ("投诉主题", "subject"), ("标题", "subject"), ("主题", "subject"), ("issue", "subject"),
    ("subject", "subject"),
    ("投诉问题", "category"), ("投诉类别", "category"), ("问题分类", "category"), ("类别", "category"),
    ("product", "category"), ("category", "category"),
    ("客户姓名", "customer.name"), ("姓名", "customer.name"), ("留言用户", "customer.name"), ("投诉人", "customer.name"),
    ("name", "customer.name"),
    ("客户手机", "customer.mobile"), ("手机号码", "customer.mobile"), ("手机号", "customer.mobile"),
    ("手机", "customer.mobile"), ("联系电话", "customer.mobile"), ("电话", "customer.mobile"), ("mobile", "customer.mobile"),
    ("phone", "customer.mobile"),
    ("邮箱", "customer.email"), ("电子邮件", "customer.email"), ("email", "customer.email"),
    ("优先级", "priority"), ("priority", "priority"), ("渠道", "channel"), ("来源", "channel"),
    ("submittedvia", "channel"), ("部门", "department"),
    ("投诉品牌", "about.brand"), ("品牌", "about.brand"), ("投诉车系", "about.series"), ("车系", "about.series"),
    ("投诉车型", "about.vehicle_model"), ("车型", "about.vehicle_model"), ("车架号", "about.vin"), ("vin", "about.vin"),
    ("订单号", "about.order_no"), ("问题类型", "note"), ("subproduct", "note"), ("subissue", "note"),
    ("company", "note"), ("答复意见", "ignore"),
]
_NORM = re.compile(r"[\s_\-()（）?？:：/]+")


def norm_header(header: str) -> str:
    return _NORM.sub("", str(header or "")).lower()


def suggest(headers: list[str], profile_fields: set[str] | None = None) -> dict[str, str]:
    """Auto-suggest a target per header (each single-valued target used once)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    single = {"external_id", "received_at", "closed_at", "customer.name", "customer.mobile", "customer.email",
              "category", "priority", "channel", "department", "subject"}
    for header in headers:
        key = norm_header(header)
        target = "ignore"
        for pattern, cand in SUGGESTIONS:
            if key == pattern or (len(pattern) >= 2 and pattern in key and not pattern.isascii()):
                target = cand
                break
        if target.startswith("about.") and profile_fields is not None and target[6:] not in profile_fields:
            target = "note"
        if target in single and target in used:
            target = "note"
        if target == "description" and "description" in used:
            target = "note"
        used.add(target)
        out[header] = target
    return out


def list_presets() -> list[dict]:
    return [load_preset_file(p) for p in sorted(PRESET_DIR.glob("*.toml"))]


def load_preset_file(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path.name}: {exc}") from None
    data.setdefault("name", path.stem)
    data["preset"] = True
    problems = check_mapping(data)
    if problems:
        raise ValueError(f"{path.name}: " + "; ".join(problems))
    return data


def check_mapping(data: dict, profile_fields: set[str] | None = None) -> list[str]:
    problems = []
    if not isinstance(data.get("columns"), dict) or not data["columns"]:
        problems.append("columns: 需要至少一列映射 / at least one column mapping")
        return problems
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", str(data.get("source", ""))):
        problems.append("source: 需要来源标识（小写字母、数字、-） / source slug required")
    targets = []
    for header, value in data["columns"].items():
        for target in ([value] if isinstance(value, str) else value if isinstance(value, list) else [value]):
            if not isinstance(target, str) or not (target in PLAIN_TARGETS or re.fullmatch(r"about\.[a-z0-9_]+", target)):
                problems.append(f"columns.{header}: 未知字段 {target!r} / unknown target")
            elif profile_fields is not None and target.startswith("about.") and target[6:] not in profile_fields:
                problems.append(f"columns.{header}: 行业配置没有字段 {target[6:]} / profile has no field {target[6:]}")
            targets.append(target)
    if "external_id" not in targets:
        problems.append("需要把一列映射为 external_id（外部编号），重复导入才能识别 / map a column to external_id")
    if "received_at" not in targets:
        problems.append("需要把一列映射为 received_at（投诉时间） / map a column to received_at")
    if not {"description", "subject"} & set(targets):
        problems.append("需要映射 description 或 subject（投诉内容） / map description or subject")
    values = data.get("values", {})
    if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
        problems.append("values: 需要 {字段: {原值: 代码}} / values must be {target: {value: code}}")
    return problems


def get_mapping(name: str) -> dict:
    """A saved mapping (database) or a shipped preset, by name."""
    from qingting.intake.models import ImportMapping

    row = ImportMapping.objects.filter(name=name).first()
    if row is not None:
        return {"name": row.name, "title": row.title, "source": row.source, "profile": row.profile,
                "closed": row.closed, "columns": row.columns, "values": row.values or {}}
    for preset in list_presets():
        if preset["name"] == name:
            return preset
    names = [p["name"] for p in list_presets()] + list(ImportMapping.objects.values_list("name", flat=True))
    raise NotFound(f"映射「{name}」不存在；可用：{'、'.join(names)}", f"No mapping {name!r}; available: {', '.join(names)}")


def parse_cli_maps(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise Invalid(f"--map 需要 列名=字段：{pair}", f"--map expects column=field: {pair}")
        col, target = pair.rsplit("=", 1)
        out[col.strip()] = target.strip()
    return out
