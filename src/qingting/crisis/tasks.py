"""Background work of the crisis app.

- `enqueue_check(profile)`: after a complaint is committed, feed the early-warning detector.
  With a broker (REDIS_URL) it is a Celery task `qingting.crisis.check`; without one (embedded
  `qingting run`) one background thread runs it after the complaint's transaction committed;
  a failure is logged, never raised into the request. The periodic `crisis.sweep` catches up on
  anything missed either way (the detector state remembers the last complaint it saw).
"""
from __future__ import annotations

import logging
import time

from qingting.core import background

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


def _check_in_background(profile: str) -> int:
    return check(profile, background=True)


CHECK = background.Coalesced("crisis-check", _check_in_background, task_name="qingting.crisis.check",
                             debounce=DEBOUNCE_SECONDS)


def enqueue_check(profile: str) -> None:
    """Hand the check to Celery (with a broker) or to one background thread (embedded), so the
    request that registered the complaint never waits for it; runs of the same profile coalesce
    (`core.background.Coalesced`). Tests set QINGTING_CRISIS_CHECK_INLINE to run it synchronously."""
    from django.conf import settings

    if not getattr(settings, "QINGTING_CRISIS_CHECK_INLINE", False):
        CHECK.kick(profile)
        return
    try:
        check(profile)
    except Exception:
        log.exception("crisis early-warning check failed for profile %s (the sweep will catch up)", profile)
