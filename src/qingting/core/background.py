"""Work that can wait a moment: run after the request's transaction commits, off the request.

    DRAIN = background.Coalesced("analytics.drain", drain_queue, task_name="qingting.analytics.drain")
    transaction.on_commit(DRAIN.kick)

`kick()` asks for one run of the function (it takes no arguments and must be idempotent:
it reads what is to do from the database). With a broker (REDIS_URL) the run is the Celery
task `task_name` (the app's `tasks.py` declares it); embedded (`qingting run`, no broker)
one daemon thread runs it `debounce` seconds later, and the kicks that arrive in between
coalesce into that run — a kick during a run schedules exactly one more. A failure is
logged, never raised into a request; a periodic job of the app catches up either way.
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
    e.g. `qingting import`, waits here before it exits instead of leaving the work half-done)."""
    for job in list(_ALL):
        job.wait()


class Coalesced:
    def __init__(self, name: str, func: Callable[[], object], *, task_name: str | None = None,
                 debounce: float = 1.0):
        self.name = name
        self.func = func
        self.task_name = task_name
        self.debounce = debounce
        self._lock = threading.Lock()
        self._scheduled = False
        self._executor: ThreadPoolExecutor | None = None
        _ALL.append(self)

    def kick(self) -> None:
        try:
            if self.task_name and os.environ.get("REDIS_URL"):
                from celery import current_app

                current_app.send_task(self.task_name)
                return
            with self._lock:
                if self._scheduled:
                    return
                self._scheduled = True
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name)
            self._executor.submit(self._run)
        except Exception:
            log.exception("could not schedule %s (the periodic job will catch up)", self.name)

    def wait(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    def _run(self) -> None:
        from django.db import close_old_connections, connection

        time.sleep(self.debounce)
        with self._lock:
            self._scheduled = False  # kicks from now on schedule one more run
        try:
            close_old_connections()
            self.func()
        except Exception:
            log.exception("%s failed (the periodic job will catch up)", self.name)
        finally:
            connection.close()
