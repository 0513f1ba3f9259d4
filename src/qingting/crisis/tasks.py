"""Background work of the crisis app.

- `enqueue_check(profile)`: after a complaint is committed, feed the early-warning detector.
  With a broker (REDIS_URL) it is a Celery task `qingting.crisis.check`; without one (embedded
  `qingting run`, tests) it runs right away, after the complaint's transaction committed, and a
  failure is logged, never raised into the request. The periodic `crisis.sweep` catches up on
  anything missed either way (the detector state remembers the last complaint it saw).
"""
from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

try:
    from celery import shared_task
except ImportError:  # pragma: no cover
    shared_task = None


def check(profile: str) -> int:
    from . import warning

    return len(warning.check_new_complaints(profile))


if shared_task is not None:
    check_task = shared_task(name="qingting.crisis.check", ignore_result=True)(check)
else:  # pragma: no cover
    check_task = None


def enqueue_check(profile: str) -> None:
    try:
        if os.environ.get("REDIS_URL") and check_task is not None:
            check_task.delay(profile)
        else:
            check(profile)
    except Exception:
        log.exception("crisis early-warning check failed for profile %s (the sweep will catch up)", profile)
