"""One bounded HTTP POST (standard library only). Never raises for an HTTP status."""
from __future__ import annotations

import http.client
import socket
import time
import urllib.error
import urllib.request

MAX_TIMEOUT = 5.0
MAX_BODY = 64 * 1024


class TransportError(Exception):
    pass


def post(url: str, body: bytes, headers: dict, timeout: float) -> tuple[int, bytes, int]:
    """POST and return (status, first 64 KiB of the body, duration ms); TransportError on
    connection problems, timeouts and answers that are not HTTP."""
    timeout = max(0.1, min(float(timeout or MAX_TIMEOUT), MAX_TIMEOUT))
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"User-Agent": "Qingting-Notify/1", **headers})
    start = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - admin-configured URL
            data = resp.read(MAX_BODY)
            return resp.status, data, int((time.monotonic() - start) * 1000)
    except urllib.error.HTTPError as exc:
        try:
            data = exc.read(MAX_BODY)
        except Exception:
            data = b""
        return exc.code, data, int((time.monotonic() - start) * 1000)
    except (socket.timeout, TimeoutError) as exc:
        raise TransportError(f"timeout after {timeout:g}s") from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TransportError(f"{type(exc).__name__}: {reason}"[:500]) from exc
