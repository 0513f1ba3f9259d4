"""Feishu / Lark (飞书) group robot with the signature check ("签名校验").

sign = base64(HMAC-SHA256(key="<timestamp s>\\n<secret>", msg=b"")), sent in the body with
"timestamp"; body {"msg_type": "text", "content": {"text": …}}; success is {"code": 0}
(older robots answer {"StatusCode": 0}).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json

from ._robot import check_json

CODE = "feishu"
LABEL = "飞书群机器人"


def validate(endpoint) -> str | None:
    return None if endpoint.url.startswith(("http://", "https://")) else "需要机器人 Webhook 地址"


def signature(secret: str, timestamp: int) -> str:
    mac = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def build(endpoint, message: dict, *, now: float):
    text = f"{message['title']}\n{message['text']}" + (f"\n{message['link']}" if message.get("link") else "")
    payload = {"msg_type": "text", "content": {"text": text[:4000]}}
    if endpoint.secret:
        ts = int(now)
        payload = {"timestamp": str(ts), "sign": signature(endpoint.secret, ts), **payload}
    return endpoint.url, json.dumps(payload, ensure_ascii=False).encode(), {
        "Content-Type": "application/json; charset=utf-8"}


def check(status: int, body: bytes) -> str | None:
    return check_json(status, body, ("code", "StatusCode"))
