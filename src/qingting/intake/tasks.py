"""Jobs of the intake app: the periodic mail poll (from the embedded scheduler or Celery beat), and
the background job a bulk import kicks after its commit."""
from __future__ import annotations

try:  # Celery tasks when Celery is installed (production); the plain functions otherwise
    from celery import shared_task
except ImportError:  # pragma: no cover
    shared_task = None


def poll_mailboxes() -> dict:
    from .mail import poll_all

    return poll_all()


def analyse_tables(key: str) -> list[str]:
    """Refresh the planner statistics of the tables a bulk import made stale (`importer.engine.STATISTICS`)."""
    from .importer.engine import analyse_tables as run

    return run(key)


poll_mailboxes_task = shared_task(name="qingting.intake.poll_mailboxes")(poll_mailboxes) if shared_task else None
# the task `importer.engine.STATISTICS` sends after an import commits
analyse_tables_task = (shared_task(name="qingting.intake.analyse_tables", ignore_result=True)(analyse_tables)
                       if shared_task else None)
