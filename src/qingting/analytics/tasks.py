"""Periodic jobs: registered in `core.jobs` (run by Celery beat with a broker, in-process by
`qingting run` without one). Both functions are idempotent."""
from qingting.core import jobs

try:
    from celery import shared_task
except ImportError:  # pragma: no cover
    shared_task = None


def drain() -> int:
    from .facts import drain_queue

    return drain_queue()


if shared_task is not None:  # the task `facts.DRAIN` sends after a complaint's transaction commits
    drain_task = shared_task(name="qingting.analytics.drain", ignore_result=True)(drain)


def register() -> None:
    jobs.register("analytics.drain", every=30, func="qingting.analytics.facts.drain_queue")
    jobs.register("analytics.sync_facts", every=300, func="qingting.analytics.facts.sync_changed")
    jobs.register("analytics.deliver_reports", every=3600, func="qingting.analytics.delivery.deliver_monthly_reports")
