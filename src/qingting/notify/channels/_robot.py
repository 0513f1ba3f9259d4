"""Shared answer check for the group robots: HTTP 200 and a JSON body whose error code is 0."""
from __future__ import annotations

import json


def check_json(status: int, body: bytes, keys=("errcode",)) -> str | None:
    if not 200 <= status < 300:
        return f"HTTP {status}"
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return "answer is not JSON: " + body[:80].decode("utf-8", "replace")
    if not isinstance(data, dict):
        return "answer is not a JSON object"
    for key in keys:
        if key in data:
            return None if data[key] in (0, "0") else f"{key}={data[key]} {data.get('errmsg') or data.get('msg') or ''}".strip()
    return "answer has no error code"


def markdown(message: dict) -> str:
    lines = [f"### {message['title']}", message["text"]]
    if message.get("link"):
        lines.append(f"[查看投诉单]({message['link']})")
    return "\n\n".join(lines)
