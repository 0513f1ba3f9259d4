"""Concurrent numbering and concurrent transitions, on a real PostgreSQL.

These run only when DATABASE_URL points at PostgreSQL (CI runs the suite there too);
SQLite serialises writers, so the race cannot happen there.
"""
import threading

import pytest
from django.db import close_old_connections, connection

from qingting.complaints import services
from qingting.complaints.models import Complaint, Event
from qingting.core.errors import Conflict, ServiceError

from ..conftest import COMPLAINT

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("concurrency tests need PostgreSQL (set DATABASE_URL=postgres://…); CI runs them there")
    from qingting.complaints.workflow import seed_defaults

    seed_defaults()  # transactional tests flush the tables, seeds included


def run_threads(n, fn):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def worker(i):
        try:
            barrier.wait()
            results.append(fn(i))
        except Exception as exc:  # collected and asserted on below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results, errors


def test_concurrent_creation_gives_unique_gap_free_numbers(people):
    agent = people["agent"]

    def create(i):
        c, _ = services.create_complaint(actor=agent, **{**COMPLAINT, "subject": f"并发投诉 {i}"})
        return c.number

    numbers, errors = run_threads(12, create)
    assert not errors, errors
    assert len(set(numbers)) == 12
    seqs = sorted(int(n.split("-")[1]) for n in numbers)
    assert seqs == list(range(seqs[0], seqs[0] + 12))


def test_concurrent_transitions_one_wins_the_other_gets_409(people, new_complaint):
    c = new_complaint()
    agent = people["agent"]

    def move(i):
        services.transition_complaint(c.number, actor=agent, to="soothe", data={"note": f"线程 {i}"})
        return i

    wins, errors = run_threads(6, move)
    assert len(wins) == 1, (wins, errors)
    assert len(errors) == 5 and all(isinstance(e, Conflict) for e in errors), errors
    assert Event.objects.filter(complaint=c, kind="step.advanced").count() == 1
    assert Complaint.objects.get(pk=c.pk).step.code == "soothe"


def test_concurrent_idempotent_creates_make_one_complaint(people):
    agent = people["agent"]

    def create(i):
        c, _ = services.create_complaint(actor=agent, idempotency_key="same-key",
                                         fingerprint=services.request_fingerprint(COMPLAINT), **COMPLAINT)
        return c.number

    numbers, errors = run_threads(6, create)
    assert not [e for e in errors if not isinstance(e, ServiceError)], errors
    assert len(set(numbers)) == 1 and Complaint.objects.count() == 1


def test_timeline_is_append_only_in_the_database(new_complaint):
    from django.db import DatabaseError, transaction

    c = new_complaint()
    with pytest.raises(DatabaseError), transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("UPDATE complaints_event SET note = 'x' WHERE complaint_id = %s", [c.pk])
