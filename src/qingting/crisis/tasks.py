"""Background work of the crisis app.

- `enqueue_check(profile)`: after a complaint is committed, feed the early-warning detector.
  With a broker (REDIS_URL) it is a Celery task `qingting.crisis.check`; without one (embedded
  `qingting run`) one background thread runs it after the complaint's transaction committed;
  a failure is logged, never raised into the request. The periodic `crisis.sweep` catches up on
  anything missed either way (the detector state remembers the last complaint it saw).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)

try:
    from celery import shared_task
except ImportError:  # pragma: no cover
    shared_task = None


DEBOUNCE_SECONDS = 2.0  # complaints arriving together are fed to the detector in one run
RULES_EVERY_SECONDS = 30.0  # the escalation rules scan recent complaints: not on every complaint
_rules_ran_at = [-1e9]


def check(profile: str, *, background: bool = False) -> int:
    from . import warning

    rules = True
    if background:
        now = time.monotonic()
        rules = now - _rules_ran_at[0] >= RULES_EVERY_SECONDS
        if rules:
            _rules_ran_at[0] = now
    return len(warning.check_new_complaints(profile, rules=rules))


if shared_task is not None:
    check_task = shared_task(name="qingting.crisis.check", ignore_result=True)(check)
else:  # pragma: no cover
    check_task = None


_executor = None
_pending: set[str] = set()
_lock = threading.Lock()


def _background(profile: str) -> None:
    from django.db import close_old_connections, connection

    time.sleep(DEBOUNCE_SECONDS)
    with _lock:
        _pending.discard(profile)  # complaints arriving while this runs schedule one more run
    try:
        close_old_connections()
        check(profile, background=True)
    except Exception:
        log.exception("crisis early-warning check failed for profile %s (the sweep will catch up)", profile)
    finally:
        connection.close()


def enqueue_check(profile: str) -> None:
    """Hand the check to Celery (with a broker) or to one background thread (embedded), so the
    request that registered the complaint never waits for it; runs of the same profile coalesce.
    Tests set QINGTING_CRISIS_CHECK_INLINE to run it synchronously."""
    global _executor
    from django.conf import settings

    try:
        if os.environ.get("REDIS_URL") and check_task is not None:
            check_task.delay(profile)
        elif getattr(settings, "QINGTING_CRISIS_CHECK_INLINE", False):
            check(profile)
        else:
            with _lock:
                if profile in _pending:
                    return
                _pending.add(profile)
                if _executor is None:
                    _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crisis-check")
            _executor.submit(_background, profile)
    except Exception:
        log.exception("crisis early-warning check failed for profile %s (the sweep will catch up)", profile)
