"""Intake API: the signed webhook endpoint per source (no token: the HMAC signature is the auth)."""
from __future__ import annotations

from ninja import Router, Status

from . import webhooks

router = Router(tags=["intake"])
PREFIX = "/intake"


@router.post("/webhooks/{code}", auth=None, response={200: dict, 201: dict})
def webhook(request, code: str):
    """Create a complaint from another system. Headers: X-Qingting-Timestamp (unix seconds),
    X-Qingting-Signature: sha256=HMAC-SHA256(secret, "<timestamp>." + body). 401 bad/expired
    signature, 409 replayed delivery or same external_id with another body."""
    complaint, created = webhooks.receive(code, body=request.body,
                                          timestamp=request.headers.get("X-Qingting-Timestamp"),
                                          signature=request.headers.get("X-Qingting-Signature"))
    return Status(201 if created else 200, {"number": complaint.number, "tracking_code": complaint.tracking_code,
                                            "created": created})
