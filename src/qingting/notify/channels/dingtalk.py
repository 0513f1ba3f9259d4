"""DingTalk (钉钉) group robot with the signing secret ("加签").

sign = urlencode(base64(HMAC-SHA256(key=secret, msg="<timestamp ms>\\n<secret>"))), appended
to the webhook URL as &timestamp=…&sign=…; body {"msgtype": "markdown", "markdown": {"title",
"text"}}; success is {"errcode": 0}.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse

from ._robot import check_json, markdown

CODE = "dingtalk"
LABEL = "钉钉群机器人"


def validate(endpoint) -> str | None:
    return None if endpoint.url.startswith(("http://", "https://")) else "需要机器人 Webhook 地址"


def signature(secret: str, timestamp_ms: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(mac).decode())


def signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    if not secret:
        return url
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}timestamp={timestamp_ms}&sign={signature(secret, timestamp_ms)}"


def build(endpoint, message: dict, *, now: float):
    body = json.dumps({"msgtype": "markdown", "markdown": {"title": message["title"][:64],
                                                           "text": markdown(message)[:4000]}},
                      ensure_ascii=False).encode()
    return signed_url(endpoint.url, endpoint.secret, int(now * 1000)), body, {
        "Content-Type": "application/json; charset=utf-8"}


def check(status: int, body: bytes) -> str | None:
    return check_json(status, body, ("errcode",))
