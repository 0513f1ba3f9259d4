#!/usr/bin/env python
"""Benchmark: the SLA sweep over 100k open complaints on PostgreSQL (goal: under 10 s).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qingting_sla_bench .venv/bin/python bench/sla_sweep.py [N]

The database named in DATABASE_URL is DROPPED and re-created (the timeline is append-only,
so a benchmark cannot clean up after itself). Complaints and deadlines are bulk-inserted
directly: N open complaints with two deadlines each (first response, resolution). Then:

  sweep 1  the steady-state minute: 1 % of the first-response deadlines have just come at
           risk and 0.5 % are past due (warnings, breaches, escalations, events, outbox)
  sweep 2  immediately again: nothing left to do (the cost of finding nothing among N)
  sweep 3  a backlog after an outage: 10 % of the complaints breach at once
Prints each time, the rows acted on, and the machine.
"""
from __future__ import annotations

import datetime as dt
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/qingting_sla_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qingting.settings")
os.environ.setdefault("QINGTING_DATA_DIR", "/tmp/qingting-bench")
os.environ.setdefault("QINGTING_LOG_LEVEL", "WARNING")


def recreate_database(url: str) -> None:
    import psycopg

    p = urlparse(url)
    if p.scheme not in ("postgres", "postgresql"):
        sys.exit("bench/sla_sweep.py needs DATABASE_URL=postgres://… (it drops and re-creates that database)")
    name = p.path.lstrip("/")
    admin = p._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    recreate_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    call_command("migrate", verbosity=0)
    from qingting.accounts.models import Department, DepartmentKind, Role, User
    from qingting.complaints.models import Complaint, Customer, Event, IndustryProfile, WorkflowVariant
    from qingting.sla import services
    from qingting.sla.models import Deadline, SlaPolicy

    hq = Department.objects.create(code="hq", name="总部", kind=DepartmentKind.COMPANY)
    stores = [Department.objects.create(code=f"s{i}", name=f"门店{i}", kind=DepartmentKind.STORE, parent=hq)
              for i in range(20)]
    User.objects.create(username="manager", role=Role.MANAGER, department=hq)
    agents = []
    for s in stores:
        User.objects.create(username=f"sup{s.code}", role=Role.SUPERVISOR, department=s)
        agents.append(User.objects.create(username=f"agent{s.code}", role=Role.AGENT, department=s))
    variant = WorkflowVariant.objects.get(is_default=True)
    step = variant.steps.order_by("position").first()
    profile = IndustryProfile.objects.get(code="general")
    policy = SlaPolicy.objects.get(code="enterprise_general")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    rnd = random.Random(4)

    t0 = time.perf_counter()
    customers = Customer.objects.bulk_create([Customer(name=f"客户{i}", mobile=f"139{i:08d}") for i in range(n // 4)],
                                             batch_size=5000)
    rows = []
    for i in range(n):
        k = i % len(stores)
        rows.append(Complaint(number=f"TS-BENCH-{i:07d}", tracking_code=f"B{i:011d}", channel="phone",
                              received_at=now - dt.timedelta(hours=rnd.randint(1, 200)), customer=customers[i % len(customers)],
                              subject="基准测试投诉", description="基准测试", profile=profile, variant=variant, step=step,
                              priority="P3", department=stores[k], assignee=agents[k]))
    complaints = Complaint.objects.bulk_create(rows, batch_size=5000)
    snap_fr = {"kind": "first_response", "amount": 1, "unit": "business_days", "at_risk": 0.75, "label": "首次响应（中）",
               "starts_on": "received", "pause_reasons": [], "extensions": []}
    snap_res = {"kind": "resolution", "amount": 5, "unit": "working_days", "at_risk": 0.75, "label": "办结（中）",
                "starts_on": "received", "pause_reasons": ["customer"], "extensions": []}
    deadlines = []
    n_risk, n_due = n // 100, n // 200
    for i, c in enumerate(complaints):
        if i < n_risk:  # just came at risk
            risk, due = now - dt.timedelta(seconds=30), now + dt.timedelta(hours=2)
        elif i < n_risk + n_due:  # just past due (already warned)
            risk, due = now - dt.timedelta(hours=3), now - dt.timedelta(seconds=30)
        else:
            due = now + dt.timedelta(hours=rnd.randint(3, 400))
            risk = due - dt.timedelta(hours=2)
        warned = now - dt.timedelta(hours=1) if n_risk <= i < n_risk + n_due else None
        common = dict(complaint_id=c.pk, policy=policy, policy_code="enterprise_general", calendar_code="standard",
                      starts_at=c.received_at, created_at=now, updated_at=now)
        deadlines.append(Deadline(kind="first_response", label="首次响应（中）", target=snap_fr, due_at=due,
                                  at_risk_at=risk, warned_at=warned, **common))
        deadlines.append(Deadline(kind="resolution", label="办结（中）", target=snap_res,
                                  due_at=now + dt.timedelta(days=rnd.randint(1, 20)),
                                  at_risk_at=now + dt.timedelta(hours=rnd.randint(2, 300)), **common))
    Deadline.objects.bulk_create(deadlines, batch_size=5000)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    print(f"setup: {n} open complaints, {len(deadlines)} deadlines inserted in {time.perf_counter() - t0:.1f} s")

    def timed(label):
        prof = None
        if os.environ.get("QINGTING_BENCH_PROFILE"):
            import cProfile

            prof = cProfile.Profile()
            prof.enable()
        t = time.perf_counter()
        counts = services.sweep_deadlines(now=now)
        el = time.perf_counter() - t
        if prof is not None:
            import pstats

            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(15)
        print(f"{label}: {el:.2f} s  {counts}")
        return el

    s1 = timed(f"sweep 1 (steady state: {n_risk} at risk, {n_due} past due)")
    s2 = timed("sweep 2 (nothing due)")
    backlog = n // 10
    ids = list(Deadline.objects.filter(kind="first_response", state="running", warned_at__isnull=True)
               .order_by("id").values_list("pk", flat=True)[:backlog])
    with transaction.atomic():
        for start in range(0, len(ids), 10_000):
            Deadline.objects.filter(pk__in=ids[start:start + 10_000]).update(
                due_at=now - dt.timedelta(minutes=1), warned_at=now - dt.timedelta(hours=1))
    s3 = timed(f"sweep 3 (backlog: {len(ids)} breach at once)")
    print(f"events written: {Event.objects.filter(kind__startswith='deadline.').count()} deadline events, "
          f"{Event.objects.filter(kind='complaint.escalated').count()} escalations")
    pg = connection.cursor()
    pg.execute("SHOW server_version")
    print(f"machine: nproc={os.cpu_count()} ({subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()}), "
          f"python {platform.python_version()}, PostgreSQL {pg.fetchone()[0]}, {platform.platform()}")
    print(f"goal < 10 s for the sweep over {n} open complaints: steady {s1:.2f} s, idle {s2:.2f} s, backlog {s3:.2f} s "
          f"→ {'met' if max(s1, s2) < 10 else 'NOT met'} (backlog {'within' if s3 < 10 else 'beyond'} 10 s)")


if __name__ == "__main__":
    main()
