"""Work that can wait a moment: run after the request's transaction commits, off the request.

    DRAIN = background.Coalesced("analytics-drain", drain_queue, task_name="qingting.analytics.drain")
    transaction.on_commit(DRAIN.kick)             # or JOB.kick(key) for a job run per key

`kick()` asks for one run of the function (no arguments, or the key). It must be idempotent
and read what is to do from the database. With a broker (REDIS_URL) the run is the Celery
task `task_name` (the app's `tasks.py` declares it; the key is its argument); embedded
(`qingting run`, no broker) one daemon thread runs it `debounce` seconds later, and the
kicks of the same key that arrive in between coalesce into that run — a kick during a run
schedules exactly one more. A failure is logged, never raised into a request; a periodic
job of the app catches up either way. A forked child (gunicorn's worker) starts with no
scheduled runs: threads do not survive a fork, so their bookkeeping must not either.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

log = logging.getLogger(__name__)
_ALL: list["Coalesced"] = []


def wait_all() -> None:
    """Wait until every run scheduled in this process has finished (a command that wrote a lot,
    e.g. `qingting import`, waits here before it exits; `qingting run` before it forks)."""
    for job in list(_ALL):
        job.wait()


class Coalesced:
    def __init__(self, name: str, func: Callable, *, task_name: str | None = None, debounce: float = 1.0):
        self.name = name
        self.func = func
        self.task_name = task_name
        self.debounce = debounce
        self._reset()
        _ALL.append(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._pending: set = set()
        self._executor: ThreadPoolExecutor | None = None

    def kick(self, key=None) -> None:
        try:
            if self.task_name and os.environ.get("REDIS_URL"):
                from celery import current_app

                current_app.send_task(self.task_name, args=[] if key is None else [key])
                return
            with self._lock:
                if key in self._pending:
                    return
                self._pending.add(key)
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name)
                executor = self._executor
            executor.submit(self._run, key)
        except Exception:
            log.exception("could not schedule %s (the periodic job will catch up)", self.name)

    def wait(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    def _run(self, key) -> None:
        from django.db import close_old_connections, connection

        time.sleep(self.debounce)
        with self._lock:
            self._pending.discard(key)  # kicks from now on schedule one more run
        try:
            close_old_connections()
            self.func() if key is None else self.func(key)
        except Exception:
            log.exception("%s failed for %s (the periodic job will catch up)", self.name, key)
        finally:
            connection.close()


def _after_fork_in_child() -> None:
    for job in _ALL:
        job._reset()


os.register_at_fork(after_in_child=_after_fork_in_child)
