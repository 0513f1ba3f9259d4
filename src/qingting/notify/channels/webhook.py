"""Generic webhook: JSON POST signed with HMAC-SHA256.

Headers: ``X-Qingting-Timestamp: <unix seconds>`` and
``X-Qingting-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>``.
Receivers recompute the signature over the raw body and reject timestamps older than a
few minutes (replay); `verify_signature` does both.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time

CODE = "webhook"
LABEL = "Webhook（签名 JSON）"
TOLERANCE = 300


def validate(endpoint) -> str | None:
    if not endpoint.url.startswith(("http://", "https://")):
        return "Webhook 需要 http(s) 地址"
    if not endpoint.secret:
        return "Webhook 需要签名密钥"
    return None


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: str, body: bytes, timestamp: str | None, signature: str | None, *,
                     tolerance: int = TOLERANCE, now: float | None = None) -> bool:
    """True when `signature` is valid for `body` and `timestamp` is within `tolerance` s."""
    if not secret or not timestamp or not signature:
        return False
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, str(ts), body), signature)


def build(endpoint, message: dict, *, now: float):
    body = json.dumps({"event": message["event"], "title": message["title"], "text": message["text"],
                       "complaint": message.get("complaint"), "url": message.get("url"),
                       "detail": message.get("detail", {}), "sent_at": int(now)},
                      ensure_ascii=False, sort_keys=True).encode()
    ts = str(int(now))
    headers = {"Content-Type": "application/json; charset=utf-8", "X-Qingting-Event": message["event"],
               "X-Qingting-Timestamp": ts, "X-Qingting-Signature": sign(endpoint.secret, ts, body)}
    return endpoint.url, body, headers


def check(status: int, body: bytes) -> str | None:
    return None if 200 <= status < 300 else f"HTTP {status}"
