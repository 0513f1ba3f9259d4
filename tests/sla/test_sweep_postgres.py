"""Two workers sweeping at once never warn (or breach, or escalate) twice — on PostgreSQL,
where the race is real. Skipped on SQLite (it serialises writers)."""
import datetime as dt
import threading

import pytest
from django.db import close_old_connections, connection

from qingting.complaints.models import Event
from qingting.sla import services
from qingting.sla.models import Deadline

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("sweep concurrency needs PostgreSQL (DATABASE_URL=postgres://…); CI runs it there")
    from qingting.complaints.workflow import seed_defaults
    from qingting.sla.config import seed_presets

    seed_defaults()  # transactional tests flush the tables, seeds included
    seed_presets()


def _race(fn, n=2):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(fn())
        except Exception as exc:  # asserted below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results, errors


def test_two_sweeps_at_once_warn_and_breach_exactly_once(new_complaint):
    now = dt.datetime.now(dt.timezone.utc)
    complaints = [new_complaint(priority="P3", subject=f"并发时限 {i}") for i in range(30)]
    ids = list(Deadline.objects.filter(complaint__in=complaints, kind="first_response").values_list("pk", flat=True))
    warn_ids, breach_ids = ids[:20], ids[20:]
    Deadline.objects.filter(pk__in=warn_ids).update(at_risk_at=now - dt.timedelta(minutes=5),
                                                    due_at=now + dt.timedelta(hours=1))
    Deadline.objects.filter(pk__in=breach_ids).update(at_risk_at=now - dt.timedelta(hours=2),
                                                      due_at=now - dt.timedelta(minutes=1), warned_at=now)
    for _ in range(3):  # several rounds: the race window is small, try it more than once
        results, errors = _race(lambda: services.sweep_deadlines(now=now, batch=7), n=2)
        assert not errors, errors
    assert Event.objects.filter(kind="deadline.at_risk").count() == 20
    assert Event.objects.filter(kind="deadline.breached").count() == 10
    # each breached complaint escalated once (to the direct supervisor)
    assert Event.objects.filter(kind="complaint.escalated", after__trigger="sla_breach").count() == 10
    assert Deadline.objects.filter(pk__in=warn_ids, warned_at=now).count() == 20
