"""A burst of kicks is one background run; a kick after the run starts schedules one more."""
from __future__ import annotations

import threading

from qingting.core import background


def test_kicks_coalesce_into_one_run_and_a_later_kick_runs_again():
    runs = []
    finished = threading.Semaphore(0)

    def work():
        runs.append(threading.current_thread().name)
        finished.release()

    job = background.Coalesced("test-coalesced", work, debounce=0.3)
    for _ in range(20):
        job.kick()
    assert finished.acquire(timeout=10)
    assert not finished.acquire(timeout=0.5)  # no second run for the burst
    assert runs == ["test-coalesced_0"]
    job.kick()
    assert finished.acquire(timeout=10)
    assert len(runs) == 2


def test_a_failing_run_is_logged_not_raised(caplog):
    finished = threading.Event()

    def work():
        finished.set()
        raise RuntimeError("boom")

    job = background.Coalesced("test-failing", work, debounce=0)
    job.kick()
    assert finished.wait(10)
    job._executor.shutdown(wait=True)
    assert "test-failing failed" in caplog.text
