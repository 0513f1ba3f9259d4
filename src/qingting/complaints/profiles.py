"""Validation of the industry profile fields ('what the complaint is about')."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from qingting.core.errors import Invalid

MAX_STR = 500


def validate_about(profile, about) -> dict:
    """Return the cleaned `about` dict for `profile`, or raise Invalid naming each bad field."""
    if about is None:
        return {}
    if not isinstance(about, dict):
        raise Invalid("投诉对象（about）必须是对象", "about must be an object", fields={"about": "not an object"})
    spec = {f["key"]: f for f in (profile.fields or [])}
    errors: dict[str, str] = {}
    clean: dict = {}
    for key, value in about.items():
        field = spec.get(key)
        if field is None:
            errors[key] = f"「{profile.name}」没有此字段 / unknown field for profile {profile.code}"
            continue
        if value is None or value == "":
            continue
        label, kind = field.get("label", key), field.get("type", "str")
        try:
            if kind == "str":
                if not isinstance(value, (str, int)):
                    raise ValueError("需要文本 / expected text")
                value = str(value).strip()
                limit = int(field.get("max_length", MAX_STR))
                if len(value) > limit:
                    raise ValueError(f"最长 {limit} 个字符 / at most {limit} characters")
                if field.get("pattern"):
                    value = value.upper() if key == "vin" else value
                    if not re.fullmatch(field["pattern"], value):
                        raise ValueError(f"格式不正确 / invalid format ({field.get('pattern_hint', field['pattern'])})")
            elif kind == "int":
                if isinstance(value, bool) or not isinstance(value, (int, str)):
                    raise ValueError("需要整数 / expected an integer")
                value = int(str(value).strip())
                if "min" in field and value < field["min"] or "max" in field and value > field["max"]:
                    raise ValueError(f"超出范围 / out of range {field.get('min')}–{field.get('max')}")
            elif kind == "decimal":
                value = str(Decimal(str(value)))
            elif kind == "date":
                value = dt.date.fromisoformat(str(value)).isoformat()
            elif kind == "datetime":
                value = dt.datetime.fromisoformat(str(value)).isoformat()
            elif kind == "choice":
                if value not in field.get("choices", []):
                    raise ValueError("可选值 / allowed: " + "、".join(field.get("choices", [])))
        except (ValueError, InvalidOperation, TypeError) as exc:
            errors[key] = f"{label}: {exc}"
            continue
        clean[key] = value
    for key, field in spec.items():
        if field.get("required") and key not in clean:
            errors[key] = f"{field.get('label', key)}: 必填 / required"
    if errors:
        raise Invalid("投诉对象字段有误", "Some 'about' fields are invalid", code="invalid_about",
                      fields={f"about.{k}": v for k, v in errors.items()})
    return clean
