"""Celery application (production background work with Redis as the broker).

    REDIS_URL=redis://127.0.0.1:6379/0 celery -A qingting worker -l info
    REDIS_URL=redis://127.0.0.1:6379/0 celery -A qingting beat -l info

Periodic jobs come from `qingting.core.jobs.REGISTRY` (the same list `qingting run`
executes in-process when no broker is configured).
"""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qingting.settings")

app = Celery("qingting")
app.conf.update(
    broker_url=os.environ.get("REDIS_URL") or "memory://",
    result_backend=None,
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    timezone="Asia/Shanghai",
    broker_connection_retry_on_startup=True,
)
app.autodiscover_tasks(lambda: [a for a in __import__("django.conf").conf.settings.INSTALLED_APPS
                               if a.startswith("qingting.")])


@app.task(name="qingting.core.run_periodic")
def run_periodic(name: str):
    from qingting.core import jobs

    return jobs.run_once(name)


@app.on_after_finalize.connect
def _schedule(sender, **kwargs):
    import django

    django.setup()
    from qingting.core import jobs

    for job in jobs.REGISTRY.values():
        sender.add_periodic_task(job.every, run_periodic.s(job.name), name=job.name)
