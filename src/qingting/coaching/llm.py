"""Optional rephrasing by an OpenAI-compatible chat-completions endpoint the organisation runs
itself. Off unless QINGTING_LLM_URL is set (e.g. http://10.0.0.5:8000/v1). Bounded time
(QINGTING_LLM_TIMEOUT seconds, default 8); any failure returns None and the draft is used as
it is. The output is always re-checked by the reply checker by the caller.

QINGTING_LLM_URL     base URL (…/v1); the request goes to {URL}/chat/completions
QINGTING_LLM_MODEL   model name (default "default")
QINGTING_LLM_KEY     bearer key (optional)
QINGTING_LLM_TIMEOUT seconds (default 8, at most 60)
"""
from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request

log = logging.getLogger(__name__)
MAX_OUT = 4000
SYSTEM = ("你是投诉处理专员的写作助手。请在不改变事实、金额、时间、电话和承诺范围的前提下，"
          "把下面的答复改写得更自然、真诚、简洁。先回应客户感受，再说明事实和我们能做的事，"
          "给出明确时间和联系方式。不要争辩、不要指责客户、不要作出超出原文的承诺。只输出改写后的答复。")


def _setting(name: str, default: str = "") -> str:
    from django.conf import settings

    return str(getattr(settings, name, "") or os.environ.get(name, default) or default)


def enabled() -> bool:
    return bool(_setting("QINGTING_LLM_URL"))


def chat(messages: list[dict], *, timeout: float | None = None) -> str | None:
    url = _setting("QINGTING_LLM_URL").rstrip("/")
    if not url:
        return None
    try:
        limit = min(60.0, float(timeout if timeout is not None else _setting("QINGTING_LLM_TIMEOUT", "8")))
    except ValueError:
        limit = 8.0
    body = json.dumps({"model": _setting("QINGTING_LLM_MODEL", "default"), "messages": messages,
                       "temperature": 0.3, "max_tokens": 800}).encode()
    headers = {"Content-Type": "application/json"}
    key = _setting("QINGTING_LLM_KEY")
    if key:
        headers["Authorization"] = f"Bearer {key}"
    req = urllib.request.Request(url + "/chat/completions", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=limit) as resp:  # noqa: S310 - administrator-configured URL
            data = json.loads(resp.read(200_000).decode("utf-8", "replace"))
        text = data["choices"][0]["message"]["content"]
    except (urllib.error.URLError, TimeoutError, OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        log.warning("LLM endpoint unavailable: %s", exc)
        return None
    text = str(text or "").strip()
    return text[:MAX_OUT] or None


def rephrase(draft: str, *, timeout: float | None = None) -> str | None:
    return chat([{"role": "system", "content": SYSTEM}, {"role": "user", "content": draft[:MAX_OUT]}],
                timeout=timeout)
