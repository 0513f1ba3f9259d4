"""Periodic jobs: registered in `core.jobs` (run by Celery beat with a broker, in-process by
`qingting run` without one). Both functions are idempotent."""
from qingting.core import jobs


def register() -> None:
    jobs.register("analytics.sync_facts", every=300, func="qingting.analytics.facts.sync_changed")
    jobs.register("analytics.deliver_reports", every=3600, func="qingting.analytics.delivery.deliver_monthly_reports")
