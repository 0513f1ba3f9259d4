"""A fixed-window rate limiter on the Django cache (Redis in production, shared by workers)."""
from __future__ import annotations

import time

from django.core.cache import cache

from .errors import RateLimited


def hit(key: str, *, limit: int, window: int) -> int:
    """Count one hit for `key` in the current window; raise RateLimited past `limit`."""
    bucket = f"rl:{key}:{int(time.time() // window)}"
    added = cache.add(bucket, 1, timeout=window + 5)
    count = 1 if added else cache.incr(bucket)
    if count > limit:
        raise RateLimited("请求过于频繁，请稍后再试", "Too many attempts, please try again later",
                          fields={"retry_after": window})
    return count


def client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"
