"""WeCom (企业微信) group robot: POST {"msgtype": "markdown", "markdown": {"content": …}} to
https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…; success is {"errcode": 0}."""
from __future__ import annotations

import json

from ._robot import check_json, markdown

CODE = "wecom"
LABEL = "企业微信群机器人"


def validate(endpoint) -> str | None:
    return None if endpoint.url.startswith(("http://", "https://")) else "需要机器人 Webhook 地址"


def build(endpoint, message: dict, *, now: float):
    body = json.dumps({"msgtype": "markdown", "markdown": {"content": markdown(message)[:4000]}},
                      ensure_ascii=False).encode()
    return endpoint.url, body, {"Content-Type": "application/json; charset=utf-8"}


def check(status: int, body: bytes) -> str | None:
    return check_json(status, body, ("errcode",))
