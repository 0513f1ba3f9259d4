"""Celery tasks of the notify app (called with ids, never ORM objects)."""
from celery import shared_task


@shared_task(name="qingting.notify.deliver", ignore_result=True)
def deliver(delivery_id: int):
    from .services import attempt

    return attempt(delivery_id)
