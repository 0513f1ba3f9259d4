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
    job.wait()
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


def test_keys_coalesce_separately():
    seen = []
    done = threading.Semaphore(0)

    def work(key):
        seen.append(key)
        done.release()

    job = background.Coalesced("test-keyed", work, debounce=0.2)
    for key in ["auto4s", "finance", "auto4s", "finance", "auto4s"]:
        job.kick(key)
    assert done.acquire(timeout=10) and done.acquire(timeout=10)
    job.wait()
    assert sorted(seen) == ["auto4s", "finance"]


def test_a_forked_child_starts_with_nothing_scheduled():
    import os

    job = background.Coalesced("test-fork", lambda: None, debounce=5)
    job.kick()
    assert job._pending == {None}
    pid = os.fork()
    if pid == 0:  # the child: a kick must schedule a run of its own, not wait for the parent's
        os._exit(0 if job._pending == set() and job._executor is None else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
