"""Channel registry. Each channel is a self-contained module with:

CODE, LABEL; validate(endpoint) -> error text or None; and either
  build(endpoint, message, *, now) -> (url, body_bytes, headers) and check(status, body) -> error or None
  (HTTP channels), or send(address, message) (e-mail).
`message` is a plain dict: event, title, text, complaint, url, detail.
"""
from __future__ import annotations

from . import dingtalk, email, feishu, webhook, wecom

CHANNELS = {m.CODE: m for m in (email, webhook, wecom, dingtalk, feishu)}


def get(code: str):
    return CHANNELS[code]
