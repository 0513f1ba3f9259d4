"""Webhook intake: other systems (order system, call centre, social media monitoring) post
complaints to /api/v1/intake/webhooks/<source code>, signed with the source's shared secret.

Signature: header `X-Qingting-Timestamp: <unix seconds>` and
`X-Qingting-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>`.
A timestamp outside the replay window (default ±300 s) is refused, and so is a signature
already seen (each accepted delivery is a `WebhookDelivery` row). With `external_id` in the
body, re-sending the same complaint returns the same complaint (idempotent).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time

from django.db import IntegrityError, transaction

from qingting.complaints import services as complaint_services
from qingting.core.errors import Conflict, Invalid, NotFound, PermissionDenied

from . import conf
from .actors import system_user
from .models import WebhookDelivery, WebhookSource

ALLOWED_KEYS = {"external_id", "subject", "description", "customer", "about", "received_at", "priority", "category",
                "profile"}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def receive(code: str, *, body: bytes, timestamp: str | None, signature: str | None, now: float | None = None):
    """Verify and turn one delivery into a complaint. Returns (complaint, created)."""
    source = WebhookSource.objects.filter(code=code, active=True).select_related("department").first()
    unauthorised = PermissionDenied("签名无效或已过期", "Invalid or expired signature", code="bad_signature", status=401)
    if source is None:
        # same answer as a bad signature: sources cannot be probed
        raise unauthorised
    now = time.time() if now is None else now
    try:
        ts = int(timestamp or "")
    except ValueError:
        raise unauthorised from None
    if abs(now - ts) > conf.get("QINGTING_WEBHOOK_WINDOW_SECONDS"):
        raise unauthorised
    expected = sign(source.secret, str(ts), body)
    if not signature or not hmac.compare_digest(expected, signature.strip()):
        raise unauthorised
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise Invalid("请求体不是有效的 JSON（UTF-8）", "The body is not valid JSON (UTF-8)", code="bad_json") from None
    if not isinstance(payload, dict):
        raise Invalid("请求体必须是 JSON 对象", "The body must be a JSON object")
    unknown = set(payload) - ALLOWED_KEYS
    if unknown:
        raise Invalid("未知字段：" + "、".join(sorted(unknown)), "Unknown fields: " + ", ".join(sorted(unknown)),
                      fields={k: "unknown" for k in unknown})
    digest = expected[7:]
    try:
        with transaction.atomic():
            WebhookDelivery.objects.create(source=source, signature=digest,
                                           external_id=str(payload.get("external_id") or "")[:128])
    except IntegrityError:
        raise Conflict("重复的投递（签名已使用过）", "Replayed delivery (signature already used)", code="replay") from None
    ext = str(payload.get("external_id") or "").strip()[:128]
    complaint, created = complaint_services.create_complaint(
        actor=system_user("webhook"), subject=payload.get("subject") or (payload.get("description") or "")[:40],
        description=payload.get("description"), channel=source.channel, priority=payload.get("priority"),
        received_at=payload.get("received_at"), customer=payload.get("customer"),
        profile=payload.get("profile") or source.profile, about=payload.get("about"),
        department=source.department.code if source.department_id else None, category=payload.get("category"),
        idempotency_key=f"webhook:{source.code}:{ext}" if ext else None,
        fingerprint=complaint_services.request_fingerprint({k: v for k, v in payload.items()}) if ext else None)
    WebhookDelivery.objects.filter(source=source, signature=digest).update(complaint=complaint)
    return complaint, created
