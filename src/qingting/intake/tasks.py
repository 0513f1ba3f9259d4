"""Periodic jobs of the intake app (call from the embedded scheduler or Celery beat)."""
from __future__ import annotations


def poll_mailboxes() -> dict:
    from .mail import poll_all

    return poll_all()


try:  # a Celery task when Celery is installed (production); the plain function otherwise
    from celery import shared_task

    poll_mailboxes_task = shared_task(name="qingting.intake.poll_mailboxes")(poll_mailboxes)
except ImportError:  # pragma: no cover
    poll_mailboxes_task = None


def analyse_tables(key: str) -> list[str]:
    """Refresh the planner statistics of the tables a bulk import made stale (`importer.engine.STATISTICS`)."""
    from .importer.engine import analyse_tables as run

    return run(key)


if poll_mailboxes_task is not None:  # the task `importer.engine.STATISTICS` sends after an import commits
    analyse_tables_task = shared_task(name="qingting.intake.analyse_tables", ignore_result=True)(analyse_tables)
