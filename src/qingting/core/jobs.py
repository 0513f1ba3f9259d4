"""Periodic jobs, declared once and run either by Celery beat (production, with Redis) or
in-process by `qingting run` (embedded, no broker).

An app registers its jobs in AppConfig.ready():

    from qingting.core import jobs
    jobs.register("sla.sweep", every=60, func="qingting.sla.services.sweep_deadlines")

`func` is a dotted path to a function without arguments; it must be idempotent and safe
to run on several workers at once (compare-and-set on the rows it claims).
"""
from __future__ import annotations

import importlib
import logging
import threading
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: float  # seconds
    func: str  # dotted path

    def resolve(self):
        module, _, attr = self.func.rpartition(".")
        return getattr(importlib.import_module(module), attr)


REGISTRY: dict[str, PeriodicJob] = {}


def register(name: str, *, every: float, func: str) -> PeriodicJob:
    if every <= 0:
        raise ValueError(f"job {name}: every must be positive")
    job = PeriodicJob(name, float(every), func)
    REGISTRY[name] = job
    return job


def run_once(name: str):
    job = REGISTRY[name]
    return job.resolve()()


class InProcessScheduler(threading.Thread):
    """Runs every registered job on its period in one daemon thread (embedded mode)."""

    def __init__(self, *, tick: float = 1.0):
        super().__init__(name="qingting-jobs", daemon=True)
        self.tick = tick
        self._stop = threading.Event()
        self.next_run: dict[str, float] = {}

    def stop(self):
        self._stop.set()

    def run(self):
        from django.db import close_old_connections

        now = time.monotonic()
        for job in REGISTRY.values():
            self.next_run[job.name] = now + min(job.every, 10)
        while not self._stop.is_set():
            now = time.monotonic()
            for job in list(REGISTRY.values()):
                if now >= self.next_run.get(job.name, 0):
                    self.next_run[job.name] = now + job.every
                    try:
                        close_old_connections()
                        job.resolve()()
                    except Exception:  # a failing job must not stop the others
                        log.exception("periodic job %s failed", job.name)
                    finally:
                        close_old_connections()
            self._stop.wait(self.tick)
