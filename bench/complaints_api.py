"""Benchmark of the complaint core: creates/s through the service, and API list, filter,
keyword search and detail latency with N complaints in the database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qingting_bench \
      .venv/bin/python bench/complaints_api.py --n 100000 --creates 500

Complaints beyond the measured creates are bulk-inserted (not through the services) so that
large N is quick to set up; they carry realistic text, steps, departments and dates.
Prints the figures and the machine.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qingting.settings")
os.environ.setdefault("QINGTING_DATA_DIR", "/tmp/qingting-bench")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000, help="complaints in the database")
    parser.add_argument("--creates", type=int, default=300, help="complaints created through the service")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from qingting.accounts.models import ApiToken, Department, Role, User
    from qingting.complaints import services
    from qingting.complaints.models import Category, Complaint, Customer, Event, IndustryProfile, Step, WorkflowVariant
    from qingting.core.text import search_keys

    call_command("migrate", verbosity=0)
    print(f"machine: {platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"database {connection.vendor}")
    dept, _ = Department.objects.get_or_create(code="bench", defaults={"name": "基准测试门店"})
    agent = User.objects.filter(username="bench_agent").first() or User.objects.create_user(
        "bench_agent", password="x-bench-2026", role=Role.AGENT, department=dept)
    manager = User.objects.filter(username="bench_manager").first() or User.objects.create_user(
        "bench_manager", password="x-bench-2026", role=Role.MANAGER)

    texts = ["车辆送修三周还没修好，服务态度很差，我要投诉到12315！", "刹车异响，制动距离变长，太危险了",
             "理财产品收益远低于宣传，客户经理误导销售", "退货后一直不退款，客服不回复", "菜品里吃出异物，要求赔偿",
             "医生问诊态度冷漠，排队两个小时", "The refund has not arrived after two weeks", "发动机漏油，机油消耗过大"]
    t0 = time.perf_counter()
    for i in range(args.creates):
        services.create_complaint(actor=agent, subject=f"基准投诉 {i}", description=random.choice(texts), channel="phone",
                                  customer={"name": "基准客户", "mobile": f"139{i % 100_000_000:08d}"})
    elapsed = time.perf_counter() - t0
    print(f"create through the service (with triage): {args.creates / elapsed:,.0f} complaints/s "
          f"({elapsed / args.creates * 1000:.1f} ms each)")

    have = Complaint.objects.count()
    missing = max(0, args.n - have)
    if missing:
        rng = random.Random(7)
        variant = WorkflowVariant.objects.get(is_default=True)
        steps = list(Step.objects.filter(variant=variant))
        cats = list(Category.objects.filter(parent__isnull=False))
        profile = IndustryProfile.objects.get(code="general")
        depts = [dept] + [Department.objects.get_or_create(code=f"bench-{k}", defaults={"name": f"门店{k}"})[0]
                          for k in range(20)]
        cust = Customer.objects.create(name="批量客户", mobile="13900000000")
        now = timezone.now()
        t1 = time.perf_counter()
        batch = []
        for i in range(missing):
            text = rng.choice(texts) + f" 编号{i}"
            received = now - dt.timedelta(minutes=rng.randint(0, 60 * 24 * 730))
            number = f"BX{i:010d}"
            batch.append(Complaint(number=number, tracking_code=f"B{i:012d}", channel=rng.choice(["phone", "web", "email"]),
                                   received_at=received, created_at=received, updated_at=received, customer=cust,
                                   subject=text[:20], description=text, profile=profile, department=rng.choice(depts),
                                   category=rng.choice(cats), priority=rng.choice(["P1", "P2", "P3", "P3", "P4"]),
                                   variant=variant, step=rng.choice(steps),
                                   search_keys=search_keys(number, text[:20], text)))
            if len(batch) == 5000:
                Complaint.objects.bulk_create(batch)
                batch.clear()
        if batch:
            Complaint.objects.bulk_create(batch)
        print(f"bulk-inserted {missing:,} complaints in {time.perf_counter() - t1:.1f} s")
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE complaints_complaint")
    total = Complaint.objects.count()
    print(f"complaints in the database: {total:,}")

    _, raw = ApiToken.issue(manager, "bench")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    agent_raw = ApiToken.issue(agent, "bench")[1]
    agent_client = Client(HTTP_AUTHORIZATION=f"Bearer {agent_raw}")
    some = Complaint.objects.order_by("-id").values_list("number", flat=True).first()

    def timed(label, fn):
        samples = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            response = fn()
            samples.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200, (label, response.status_code, response.content[:200])
        samples.sort()
        p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
        print(f"{label:<52} median {statistics.median(samples):7.1f} ms   p95 {p95:7.1f} ms")

    first = client.get("/api/v1/complaints?limit=50").json()
    timed("GET /complaints (first page, 50, manager)", lambda: client.get("/api/v1/complaints?limit=50"))
    timed("GET /complaints?cursor= (second page)", lambda: client.get(f"/api/v1/complaints?limit=50&cursor={first['next']}"))
    timed("GET /complaints?priority=P1&step=act", lambda: client.get("/api/v1/complaints?priority=P1&step=act"))
    timed("GET /complaints (agent: own department)", lambda: agent_client.get("/api/v1/complaints?limit=50"))
    timed("GET /complaints?q=刹车异响", lambda: client.get("/api/v1/complaints?q=刹车异响"))
    timed("GET /complaints?q=refund", lambda: client.get("/api/v1/complaints?q=refund"))
    timed("GET /complaints?received_after=…&department=bench", lambda: client.get(
        "/api/v1/complaints?received_after=2026-01-01&department=bench"))
    timed("GET /complaints/{number}", lambda: client.get(f"/api/v1/complaints/{some}"))
    Event.objects.count()


if __name__ == "__main__":
    sys.exit(main())
