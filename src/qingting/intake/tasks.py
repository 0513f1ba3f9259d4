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
