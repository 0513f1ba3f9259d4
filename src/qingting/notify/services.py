"""Send notifications without ever blocking or failing the user's action.

`notify()` writes outbox rows (`Delivery`) inside the caller's transaction and hands their
ids to `transaction.on_commit`: with a broker (REDIS_URL) a Celery task per delivery, without
one a small in-process thread pool. `attempt()` makes one try, claimed by compare-and-set so
two workers never send the same delivery at once, logs it (`DeliveryLog`: endpoint, event,
attempt, status code, error, duration) and schedules the retry with backoff; after
MAX_ATTEMPTS the delivery is `failed`. The periodic job `notify.retry` (`send_due`) sends what
is due, so retries also happen in embedded mode.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import datetime as dt
import logging
import re
import time

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Q
from django.utils import timezone

from .channels import CHANNELS
from .channels._http import TransportError, post
from .models import Delivery, DeliveryLog, Endpoint, Preference

log = logging.getLogger(__name__)

BACKOFF = (30, 120, 600)  # seconds before attempts 2, 3, 4
MAX_ATTEMPTS = len(BACKOFF) + 1
LEASE = dt.timedelta(seconds=60)  # a 'sending' claim older than this is retried (worker died)
DEFAULT_CHANNELS = ("email",)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_pool: concurrent.futures.ThreadPoolExecutor | None = None


def _link(number: str) -> str:
    base = getattr(settings, "QINGTING_BASE_URL", "") or ""
    return f"{base.rstrip('/')}/complaints/{number}/" if number else ""


_memo: contextvars.ContextVar[dict | None] = contextvars.ContextVar("qingting_notify_memo", default=None)


@contextlib.contextmanager
def batch():
    """Within this block endpoints and preferences are read once (a sweep notifying many)."""
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def _memoised(key, fn):
    memo = _memo.get()
    if memo is None:
        return fn()
    if key not in memo:
        memo[key] = fn()
    return memo[key]


def recipients_for(event: str, complaint, users) -> list[dict]:
    """Destinations for one event: team endpoints subscribed to it, plus each user's channels."""
    out: list[dict] = []
    dept_path = complaint.department.path if getattr(complaint, "department_id", None) else None
    team = _memoised("team", lambda: list(Endpoint.objects.filter(active=True, owner__isnull=True)
                                          .select_related("department")))
    for ep in team:
        if ep.events and event not in ep.events:
            continue
        if ep.department_id and not (dept_path and dept_path.startswith(ep.department.path)):
            continue
        out.append({"endpoint": ep, "channel": ep.channel, "address": ep.address if ep.channel == "email" else ep.url,
                    "user": None})
    users = [u for u in users if u is not None]
    if not users:
        return out
    prefs: dict[int, dict[str, bool]] = {}
    personal: dict[tuple[int, str], list] = {}
    key = (event, tuple(sorted(u.pk for u in users)))
    if _memo.get() is not None and not _memoised("any_personal", lambda: (
            Preference.objects.exists() or Endpoint.objects.filter(owner__isnull=False).exists())):
        pass  # nobody has preferences or personal endpoints: e-mail by default, no queries per user
    else:
        for p in _memoised(("prefs",) + key, lambda: list(Preference.objects.filter(user__in=users, event=event))):
            prefs.setdefault(p.user_id, {})[p.channel] = p.enabled
        for ep in _memoised(("personal",) + key, lambda: list(Endpoint.objects.filter(active=True, owner__in=users))):
            personal.setdefault((ep.owner_id, ep.channel), []).append(ep)
    seen = set()
    for u in users:
        if u.pk in seen:
            continue
        seen.add(u.pk)
        chosen = prefs.get(u.pk)
        channels = [c for c, on in chosen.items() if on] if chosen else list(DEFAULT_CHANNELS)
        for ch in channels:
            if ch == "email" and u.email and not personal.get((u.pk, "email")):
                out.append({"endpoint": None, "channel": "email", "address": u.email, "user": u})
            for ep in personal.get((u.pk, ch), []):
                out.append({"endpoint": ep, "channel": ch, "address": ep.address if ch == "email" else ep.url,
                            "user": u})
    return out


def notify(event: str, *, complaint, title: str, text: str, users=(), detail: dict | None = None,
           now=None) -> list[int]:
    """Queue `event` for the complaint's subscribers and `users`; sent after commit."""
    now = now or timezone.now()
    return _queue(_delivery_rows(event, complaint=complaint, title=title, text=text, users=users, detail=detail,
                                 now=now))


def notify_many(items, *, now=None) -> list[int]:
    """`notify` for many at once (the sweep): one outbox insert and one hand-off after commit.
    `items` are dicts with the keyword arguments of `notify` plus `event`."""
    now = now or timezone.now()
    rows = []
    for it in items:
        rows.extend(_delivery_rows(it["event"], complaint=it["complaint"], title=it["title"], text=it["text"],
                                   users=it.get("users", ()), detail=it.get("detail"), now=now))
    return _queue(rows)


def _delivery_rows(event, *, complaint, title, text, users, detail, now) -> list[Delivery]:
    number = getattr(complaint, "number", "") or ""
    payload = {"event": event, "title": title, "text": text, "complaint": number, "url": f"/complaints/{number}/",
               "link": _link(number), "detail": detail or {}}
    return [Delivery(endpoint=r["endpoint"], user=r["user"], channel=r["channel"], address=r["address"] or "",
                     event=event, complaint_number=number, payload=payload, next_attempt_at=now, created_at=now)
            for r in recipients_for(event, complaint, list(users))]


def _queue(rows: list[Delivery]) -> list[int]:
    if not rows:
        return []
    created = Delivery.objects.bulk_create(rows, batch_size=1000)
    ids = [d.pk for d in created if d.pk is not None]
    if not ids:  # backends that do not return ids from bulk_create: the periodic job sends them
        return []
    transaction.on_commit(lambda: dispatch(ids))
    return ids


def dispatch(ids: list[int]) -> None:
    """Hand deliveries to the background (never raises)."""
    try:
        if getattr(settings, "QINGTING_NOTIFY_INLINE", False):
            for i in ids:
                attempt(i)
        elif settings.REDIS_URL:
            from .tasks import deliver

            for i in ids:
                deliver.delay(i)
        else:
            global _pool
            if _pool is None:
                _pool = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="qingting-notify")
            for i in ids:
                _pool.submit(_attempt_in_thread, i)
    except Exception:  # the broker is down: the periodic job retries from the outbox
        log.exception("could not hand %d notification(s) to the background; the retry job will send them", len(ids))


def _attempt_in_thread(delivery_id: int) -> None:
    close_old_connections()
    try:
        attempt(delivery_id)
    except Exception:
        log.exception("notification %s failed", delivery_id)
    finally:
        close_old_connections()


def _claim(delivery_id: int, now) -> bool:
    due = Q(status=Delivery.Status.PENDING) | Q(status=Delivery.Status.SENDING)
    return Delivery.objects.filter(due, pk=delivery_id, next_attempt_at__lte=now).update(
        status=Delivery.Status.SENDING, next_attempt_at=now + LEASE) == 1


def attempt(delivery_id: int, *, now=None) -> bool | None:
    """One try at one delivery. True sent, False failed (retry scheduled or given up), None not due."""
    now = now or timezone.now()
    if not _claim(delivery_id, now):
        return None
    d = Delivery.objects.select_related("endpoint").get(pk=delivery_id)
    number = d.attempts + 1
    status_code, error, started = None, "", time.monotonic()
    channel = CHANNELS.get(d.channel)
    try:
        if channel is None:
            raise ValueError(f"unknown channel {d.channel}")
        if d.channel == "email":
            channel.send(d.address, d.payload, timeout=min(5.0, d.endpoint.timeout if d.endpoint else 5.0))
        else:
            if d.endpoint is None or not d.endpoint.active:
                raise ValueError("endpoint removed or disabled")
            url, body, headers = channel.build(d.endpoint, d.payload, now=time.time())
            status_code, answer, _ = post(url, body, headers, d.endpoint.timeout)
            error = channel.check(status_code, answer) or ""
    except TransportError as exc:
        error = str(exc)
    except Exception as exc:  # SMTP errors, bad configuration …: logged, retried, never raised
        error = f"{type(exc).__name__}: {exc}"[:1000]
    duration = int((time.monotonic() - started) * 1000)
    error = _CONTROL.sub("?", error)  # a garbage answer may carry NUL bytes (PostgreSQL text refuses them)
    ok = not error
    DeliveryLog.objects.create(delivery=d, endpoint=d.endpoint, event=d.event, attempt=number, ok=ok,
                               status_code=status_code, error=error[:2000], duration_ms=duration)
    fields = {"attempts": number, "last_error": error[:2000]}
    if ok:
        fields.update(status=Delivery.Status.SENT, sent_at=timezone.now())
    elif number >= MAX_ATTEMPTS:
        fields.update(status=Delivery.Status.FAILED)
    else:
        fields.update(status=Delivery.Status.PENDING,
                      next_attempt_at=timezone.now() + dt.timedelta(seconds=BACKOFF[number - 1]))
    Delivery.objects.filter(pk=d.pk).update(**fields)
    if not ok:
        log.warning("notification %s (%s → %s) attempt %d failed: %s", d.pk, d.event, d.channel, number, error)
    return ok


def send_due(*, now=None, limit: int = 200) -> int:
    """Periodic job: try every delivery whose (re)try time has come. Returns attempts made."""
    now = now or timezone.now()
    ids = list(Delivery.objects.filter(status__in=[Delivery.Status.PENDING, Delivery.Status.SENDING],
                                       next_attempt_at__lte=now).order_by("next_attempt_at")
               .values_list("pk", flat=True)[:limit])
    done = 0
    for i in ids:
        if attempt(i, now=now) is not None:
            done += 1
    return done


def send_test(endpoint: Endpoint) -> Delivery:
    """Admin action: queue a test message to one endpoint and try it now."""
    payload = {"event": "test", "title": "倾听测试通知", "text": "这是一条测试通知 / a test notification",
               "complaint": "", "url": "", "link": "", "detail": {}}
    d = Delivery.objects.create(endpoint=endpoint, channel=endpoint.channel,
                                address=endpoint.address if endpoint.channel == "email" else endpoint.url,
                                event="test", payload=payload)
    attempt(d.pk)
    d.refresh_from_db()
    return d
