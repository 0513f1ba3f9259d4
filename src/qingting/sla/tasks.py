"""Celery tasks of the SLA app (the periodic sweep also runs via qingting.core.run_periodic)."""
from celery import shared_task


@shared_task(name="qingting.sla.sweep", ignore_result=True)
def sweep():
    from .services import sweep_deadlines

    return sweep_deadlines()
