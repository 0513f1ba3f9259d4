"""Analytics benchmark: N complaints in PostgreSQL, then every dashboard query, the page and the month PDF.

    createdb -h 127.0.0.1 -U postgres qingting_bench          # once
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qingting_bench \
        .venv/bin/python bench/analytics_dashboard.py --n 1000000

Generates complaints with realistic distributions (2 years of dates with weekly rhythm and
growth, Zipf-skewed stores/categories/products, channel and priority mixes, steps, closure
and first-response times, reopen/escalation/malicious flags, triage snapshots, root causes,
SLA deadlines and satisfaction surveys when those apps are installed) with COPY, builds the
analytics facts and rollups (`analytics-rebuild`), then times each query (P50/P95) for a
month, a quarter and a year, for the whole company and for one store, plus the full page
and the month PDF. Goals: P95 < 300 ms per query at 1M, PDF < 10 s.
Real car brands/series come from ../shared/data when present (synthetic names otherwise).
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/qingting_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qingting.settings")
os.environ.setdefault("QINGTING_DATA_DIR", "/tmp/qingting-bench")
os.environ.setdefault("QINGTING_ALLOWED_HOSTS", "testserver,localhost")

CAR_CSV = ROOT.parent / "shared" / "data" / "car_complaints_2024-01-29_to_2024-02-28.csv"
CHANNELS = [("phone", 35), ("web", 20), ("chat", 15), ("in_person", 10), ("social", 8), ("email", 5),
            ("regulator", 3), ("letter", 2), ("api", 2)]
PRIORITIES = [("P1", 3), ("P2", 17), ("P3", 60), ("P4", 20)]
EMOTIONS = [("anger", 30), ("anxiety", 20), ("disappointment", 25), ("grievance", 15), ("calm", 10)]
PERSONAS = [("", 40), ("rational", 20), ("emotional", 15), ("demanding", 10), ("influential", 6), ("professional", 5),
            ("elderly", 4)]
CAUSES = ["配件批次质量问题", "维修技师操作不规范", "销售顾问承诺未兑现", "预约排期不足", "收费标准未公示", "交车前检查遗漏",
          "客服响应不及时", "厂家政策变更未告知", "备件缺货等待过久", "服务流程不清晰", "话术不当引发误解", "质保条款解释不一致",
          "系统故障导致信息错误", "质检漏检", "人员培训不足", "物流延误", "供应商来料不良", "宣传材料夸大", "回访未落实", "投诉转办延误"]


def weighted(rng, pairs):
    items, weights = zip(*pairs)
    return rng.choices(items, weights=weights)[0]


def zipf_weights(n, s=1.1):
    return [1 / (i + 1) ** s for i in range(n)]


def machine() -> str:
    cpu = ""
    try:
        cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "")
    except OSError:
        pass
    mem = ""
    try:
        mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "")
        mem = f"{int(mem) / 1024 / 1024:.1f} GB RAM"
    except (OSError, ValueError):
        pass
    return f"{os.cpu_count()} cores ({subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} nproc), " \
           f"{cpu}, {mem}, Python {platform.python_version()}"


def ensure_database():
    from urllib.parse import urlparse

    url = urlparse(os.environ["DATABASE_URL"])
    name = url.path.lstrip("/")
    args = ["-h", url.hostname or "127.0.0.1", "-U", url.username or "postgres", "-p", str(url.port or 5432)]
    exists = subprocess.run(["psql", *args, "-tAc", f"SELECT 1 FROM pg_database WHERE datname='{name}'", "postgres"],
                            capture_output=True, text=True).stdout.strip()
    if exists != "1":
        subprocess.run(["createdb", *args, name], check=True)


def car_models():
    """(brand, series, model) triples from the real car complaints, else synthetic ones."""
    triples = []
    if CAR_CSV.exists():
        with CAR_CSV.open(encoding="utf-8", errors="replace") as fh:
            for row in csv.DictReader(fh):
                b, s, m = (row.get("投诉品牌") or "").strip(), (row.get("投诉车系") or "").strip(), (row.get("投诉车型") or "").strip()
                if b and s:
                    triples.append((b[:50], s[:50], m[:100]))
    if not triples:
        for i in range(12):
            for j in range(6):
                triples.append((f"品牌{i}", f"品牌{i}车系{j}", f"品牌{i}车系{j} 2024款"))
    return triples


def setup_org(rng):
    from qingting.accounts.models import Department, Role, User

    if Department.objects.filter(code="bench-hq").exists():
        hq = Department.objects.get(code="bench-hq")
    else:
        hq = Department.objects.create(code="bench-hq", name="集团总部", kind="company", region="上海")
    regions = ["华东", "华北", "华南", "西南", "华中"]
    stores = []
    for i in range(30):
        code = f"bench-store-{i:02d}"
        d = Department.objects.filter(code=code).first() or Department.objects.create(
            code=code, name=f"{regions[i % 5]}{i:02d}店", kind="store", parent=hq, region=regions[i % 5])
        stores.append(d)
    agents = []
    for i in range(90):
        u = User.objects.filter(username=f"bench_agent_{i}").first() or User.objects.create_user(
            username=f"bench_agent_{i}", password=None, role=Role.AGENT, department=stores[i % 30],
            display_name=f"专员{i:02d}")
        agents.append(u)
    manager = User.objects.filter(username="bench_manager").first() or User.objects.create_user(
        username="bench_manager", password=None, role=Role.MANAGER, department=hq, display_name="总经理")
    sup = User.objects.filter(username="bench_sup").first() or User.objects.create_user(
        username="bench_sup", password=None, role=Role.SUPERVISOR, department=stores[0], display_name="店长")
    return hq, stores, agents, manager, sup


def _copy_value(field, value):
    return value


def generic_row(model, explicit: dict) -> list:
    """Values for every concrete column of `model` (explicit ones, else NULL/default) — for optional apps."""
    from django.db import models as djm

    row = []
    for f in model._meta.concrete_fields:
        if f.primary_key and isinstance(f, (djm.AutoField, djm.BigAutoField)):
            continue
        if f.attname in explicit:
            v = explicit[f.attname]
        elif f.null:
            v = None
        elif f.has_default():
            v = f.get_default()
        elif isinstance(f, (djm.CharField, djm.TextField)):
            v = ""
        else:
            v = 0
        if isinstance(f, djm.JSONField) and v is not None:
            v = json.dumps(v, ensure_ascii=False)
        row.append(v)
    return row


def generic_columns(model) -> list[str]:
    from django.db import models as djm

    return [f.column for f in model._meta.concrete_fields
            if not (f.primary_key and isinstance(f, (djm.AutoField, djm.BigAutoField)))]


def generate(n: int, seed: int = 7):
    from django.apps import apps
    from django.db import connection
    from django.utils import timezone

    from qingting.complaints.models import Category, Complaint, IndustryProfile, Step, WorkflowVariant

    rng = random.Random(seed)
    hq, stores, agents, manager, sup = setup_org(rng)
    profile = IndustryProfile.objects.get(code="auto4s")
    variant = WorkflowVariant.objects.get(code="standard")
    steps = {s.code: s.pk for s in Step.objects.filter(variant=variant)}
    cats = list(Category.objects.filter(parent__isnull=False).filter(
        profile__isnull=True).values_list("id", flat=True)) + \
        list(Category.objects.filter(profile=profile).values_list("id", flat=True))
    rng.shuffle(cats)
    cat_w = zipf_weights(len(cats), 1.2)
    store_w = zipf_weights(len(stores), 0.8)
    cars = car_models()
    series_keys = sorted({(b, s) for b, s, _ in cars})
    rng.shuffle(series_keys)
    series_w = zipf_weights(len(series_keys), 1.0)
    models_by_series = {}
    for b, s, m in cars:
        models_by_series.setdefault((b, s), []).append(m)
    agents_by_store = {}
    for a in agents:
        agents_by_store.setdefault(a.department_id, []).append(a.pk)
    Deadline = apps.get_model("sla", "Deadline") if apps.is_installed("qingting.sla") else None
    Survey = apps.get_model("intake", "SatisfactionSurvey") if apps.is_installed("qingting.intake") else None

    now = timezone.now()
    start = now - dt.timedelta(days=730)
    tz = timezone.get_default_timezone()
    n_customers = max(1, int(n * 0.75))
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("SELECT COALESCE(MAX(id), 0) FROM complaints_customer")
        cust_base = cur.fetchone()[0]
        cur.execute("SELECT COALESCE(MAX(id), 0) FROM complaints_complaint")
        comp_base = cur.fetchone()[0]
    raw = connection.connection  # psycopg connection
    with raw.cursor() as cur:
        with cur.copy("COPY complaints_customer (id, name, mobile, email, other_contacts, tags, notes, created_at) "
                      "FROM STDIN") as cp:
            for i in range(n_customers):
                cp.write_row((cust_base + i + 1, f"客户{i}", f"139{(i + cust_base) % 100000000:08d}", "", "[]", "[]", "", start))
    print(f"  customers: {n_customers:,} in {time.perf_counter() - t0:.1f}s", flush=True)

    cols = ["id", "number", "tracking_code", "channel", "received_at", "created_at", "updated_at", "customer_id",
            "subject", "description", "profile_id", "about", "department_id", "category_id", "category_confirmed",
            "priority", "variant_id", "step_id", "assignee_id", "facts", "action_plan", "resolution_type",
            "customer_answer", "refusal_count", "root_cause", "lessons_learned", "closed_at", "reopen_count",
            "escalation_level", "triage", "search_keys", "version"]
    open_steps = ["accept", "soothe", "apologize", "confirm", "act", "negotiate", "follow_up"]
    events, deadlines, surveys = [], [], []
    t1 = time.perf_counter()
    span = (now - start).total_seconds()
    with raw.cursor() as cur:
        with cur.copy(f"COPY complaints_complaint ({', '.join(cols)}) FROM STDIN") as cp:
            for i in range(n):
                pk = comp_base + i + 1
                frt = None
                # growth over two years + weekday rhythm (fewer on Sundays)
                while True:
                    u = rng.random() ** 0.8
                    received = start + dt.timedelta(seconds=u * span)
                    local = received.astimezone(tz)
                    if rng.random() < (0.6 if local.weekday() == 6 else 1.0):
                        break
                received = received.replace(hour=rng.choice(range(0, 14)), minute=rng.randrange(60))  # 8–22h Beijing
                store = rng.choices(stores, weights=store_w)[0]
                brand, series = rng.choices(series_keys, weights=series_w)[0]
                model = rng.choice(models_by_series[(brand, series)])
                age = (now - received).days
                closed = age > 30 and rng.random() < 0.93 or age > 3 and rng.random() < 0.5
                res_s = int(rng.lognormvariate(12.5, 0.9))  # median ≈ 3 days
                closed_at = received + dt.timedelta(seconds=res_s) if closed else None
                if closed_at and closed_at > now:
                    closed, closed_at = False, None
                step = "close" if closed else rng.choice(open_steps)
                reopen = 1 if closed is False and rng.random() < 0.04 else (1 if rng.random() < 0.02 else 0)
                esc = 1 if rng.random() < 0.06 else 0
                cust = cust_base + (rng.randrange(n_customers) if rng.random() < 0.3 else (i % n_customers)) + 1
                emo = weighted(rng, EMOTIONS)
                per = weighted(rng, PERSONAS)
                triage = {"emotion": {"code": emo}, "personas": [{"code": per}] if per else [],
                          "nature": {"code": "suspected_malicious" if rng.random() < 0.015 else "good_faith"}}
                cat = rng.choices(cats, weights=cat_w)[0]
                assignee = rng.choice(agents_by_store.get(store.pk) or [agents[0].pk]) if rng.random() < 0.95 else None
                cause = CAUSES[min(int(rng.paretovariate(1.2)) - 1, len(CAUSES) - 1)] if closed else ""
                cp.write_row((pk, f"B{pk:012d}", f"BENCH-{pk:011d}", weighted(rng, CHANNELS), received, received, closed_at or received,
                              cust, f"{series} 投诉", "", profile.pk,
                              json.dumps({"brand": brand, "series": series, "vehicle_model": model}, ensure_ascii=False),
                              store.pk, cat, True, weighted(rng, PRIORITIES), variant.pk, steps[step], assignee, "", "",
                              "repair" if closed else "", "accept" if closed else "", 0, cause,
                              "整改：" + cause if closed else "", closed_at, reopen, esc,
                              json.dumps(triage, ensure_ascii=False), [], 1))
                if rng.random() < 0.95:
                    frt = dt.timedelta(seconds=int(rng.lognormvariate(8.9, 1.1)))  # median ≈ 2 h
                    at = min(received + frt, now)
                    events.append((pk, at, "message.sent" if rng.random() < 0.6 else "step.advanced"))
                if Deadline is not None:
                    due1 = received + dt.timedelta(hours=24)
                    met1 = received + frt if frt is not None else None
                    s1 = "met" if met1 and met1 <= due1 else ("breached" if due1 < now else "running")
                    deadlines.append((pk, "first_response", received, due1, s1, met1 if s1 == "met" else None,
                                      due1 if s1 == "breached" else None))
                    due2 = received + dt.timedelta(days=7)
                    if closed_at:
                        s2 = "met" if closed_at <= due2 else "breached"
                    else:
                        s2 = "breached" if due2 < now else "running"
                    deadlines.append((pk, "resolution", received, due2, s2, closed_at if s2 == "met" else None,
                                      due2 if s2 == "breached" else None))
                if Survey is not None and closed and rng.random() < 0.4:
                    surveys.append((pk, rng.choices([1, 2, 3, 4, 5], weights=[6, 6, 13, 35, 40])[0], closed_at))
                if (i + 1) % 200000 == 0:
                    print(f"  complaints: {i + 1:,} ({time.perf_counter() - t1:.0f}s)", flush=True)
    print(f"  complaints: {n:,} in {time.perf_counter() - t1:.1f}s", flush=True)
    t2 = time.perf_counter()
    with raw.cursor() as cur:
        with cur.copy("COPY complaints_event (complaint_id, at, kind, before, after, note, customer_visible) FROM STDIN") as cp:
            for pk, at, kind in events:
                cp.write_row((pk, at, kind, "{}", "{}", "", True))
        if Deadline is not None:
            dcols = generic_columns(Deadline)
            with cur.copy(f"COPY {Deadline._meta.db_table} ({', '.join(dcols)}) FROM STDIN") as cp:
                for pk, kind, starts, due, state, met, breached in deadlines:
                    cp.write_row(generic_row(Deadline, {
                        "complaint_id": pk, "kind": kind, "policy_code": "bench", "calendar_code": "cn",
                        "starts_at": starts, "due_at": due, "at_risk_at": due - dt.timedelta(hours=4), "state": state,
                        "met_at": met, "breached_at": breached, "target": {}}))
        if Survey is not None:
            scols = generic_columns(Survey)
            with cur.copy(f"COPY {Survey._meta.db_table} ({', '.join(scols)}) FROM STDIN") as cp:
                for pk, stars, at in surveys:
                    cp.write_row(generic_row(Survey, {"complaint_id": pk, "stars": stars, "created_at": at,
                                                      "reasons": [], "comment": ""}))
    with connection.cursor() as cur:
        for table in ("complaints_customer", "complaints_complaint", "complaints_event"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
        cur.execute("ANALYZE")
    print(f"  events {len(events):,}, deadlines {len(deadlines):,}, surveys {len(surveys):,} "
          f"in {time.perf_counter() - t2:.1f}s", flush=True)
    return manager, sup


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--regenerate", action="store_true", help="drop the benchmark's complaints and generate again")
    ap.add_argument("--skip-rebuild", action="store_true")
    ap.add_argument("--reuse", action="store_true",
                    help="reuse the generated database: never regenerate; rebuild the analytics tables only when "
                         "their row count differs from the complaints'")
    ap.add_argument("--generate-only", action="store_true", help="generate the complaints and stop")
    ap.add_argument("--cases", default="", help="comma-separated case labels to time (default all)")
    ap.add_argument("--queries", default="", help="comma-separated query names to time (default all)")
    args = ap.parse_args()
    print(f"machine: {machine()}")
    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from qingting.analytics import facts, queries, reports
    from qingting.analytics.scope import parse_scope
    from qingting.complaints.models import Complaint

    call_command("migrate", verbosity=0)
    existing = Complaint.objects.count()
    print(f"database: {connection.settings_dict['NAME']} (PostgreSQL {connection.pg_version})  complaints present: {existing:,}")
    if args.regenerate or (existing < args.n and not args.reuse):
        if existing:
            with connection.cursor() as cur:
                cur.execute("SET session_replication_role = replica")  # skip the append-only trigger for the wipe
                cur.execute("TRUNCATE complaints_complaint, complaints_customer, complaints_event, complaints_stepowner, "
                            "analytics_complaintfact, analytics_rollup, analytics_tally CASCADE")
                cur.execute("SET session_replication_role = DEFAULT")
        t = time.perf_counter()
        generate(args.n)
        print(f"generated {args.n:,} complaints in {time.perf_counter() - t:.1f}s")
        args.skip_rebuild = False
    from qingting.accounts.models import User

    manager = User.objects.get(username="bench_manager")
    sup = User.objects.get(username="bench_sup")
    n = Complaint.objects.count()
    if args.generate_only:
        return
    if args.reuse and not args.regenerate:
        from qingting.analytics.models import ComplaintFact as _F

        args.skip_rebuild = args.skip_rebuild or _F.objects.count() == n
    if not args.skip_rebuild:
        t = time.perf_counter()
        facts.rebuild(batch=10000)
        print(f"analytics-rebuild: {n:,} facts in {time.perf_counter() - t:.1f}s")
        t = time.perf_counter()
        with connection.cursor() as cur:  # autocommit: VACUUM sets the visibility map for index-only scans
            cur.execute("VACUUM (ANALYZE) analytics_complaintfact, analytics_rollup, analytics_tally")
        print(f"vacuum analyze: {time.perf_counter() - t:.1f}s")
    with connection.cursor() as cur:
        cur.execute("SELECT grain, channel = '' AS lite, COUNT(*) FROM analytics_rollup GROUP BY 1, 2 ORDER BY 1, 2")
        sets = ", ".join(f"{'day' if g == 'd' else 'month'}×{'lite' if lite else 'full'} {c:,}"
                         for g, lite, c in cur.fetchall())
        cur.execute("SELECT COUNT(*) FROM analytics_tally")
        print(f"rollup rows for {n:,} complaints: {sets}; monthly tally rows: {cur.fetchone()[0]:,}")

    from django.db.models import Count

    from qingting.analytics.models import ComplaintFact

    top_series = (ComplaintFact.objects.exclude(series="").values_list("series").annotate(n=Count("pk"))
                  .order_by("-n").values_list("series", flat=True)[:1].first() if False else
                  ComplaintFact.objects.filter(pk__lte=1000).exclude(series="").values_list("series", flat=True).first() or "")
    from qingting.complaints.models import Category

    top_l1 = (ComplaintFact.objects.values_list("category1_id").annotate(n=Count("day")).order_by("-n")
              .values_list("category1_id", flat=True).first())
    top_category = Category.objects.filter(pk=top_l1).values_list("code", flat=True).first() or ""
    today = timezone.localdate()
    last_month = (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    q = (today.month - 1) // 3
    last_q = f"{today.year}-Q{q}" if q else f"{today.year - 1}-Q4"
    year = str(today.year - 1)
    cases = [("month", manager, {"period": last_month}), ("month·store", manager, {"period": last_month, "department": "bench-store-00"}),
             ("month·supervisor", sup, {"period": last_month}),
             ("month·series", manager, {"period": last_month, "series": top_series}),
             ("quarter", manager, {"period": last_q}), ("year", manager, {"period": year}),
             ("year·channel", manager, {"period": year, "channel": "phone"}),
             ("year·priority", manager, {"period": year, "priority": "P2"}),
             ("year·category", manager, {"period": year, "category": top_category})]
    if args.cases:
        wanted = set(args.cases.split(","))
        cases = [c for c in cases if c[0] in wanted]
    names = [q for q in queries.DASHBOARD_QUERIES if not args.queries or q in args.queries.split(",")]
    print(f"\nper-query timings in ms over {args.repeat} runs (P50 / P95); goal P95 < 300 ms")
    worst = 0.0
    header = f"{'query':12s}" + "".join(f"{c[0]:>20s}" for c in cases)
    print(header)
    results = {}
    for name in names:
        fn = queries.DASHBOARD_QUERIES[name]
        line = f"{name:12s}"
        for label, user, params in cases:
            scope = parse_scope(user, params)
            fn(scope)  # warm
            ts = timed(lambda: fn(scope), args.repeat)
            p50, p95 = pct(ts, 0.5), pct(ts, 0.95)
            worst = max(worst, p95)
            results[(name, label)] = (p50, p95)
            line += f"{p50:9.1f} / {p95:7.1f} "
        print(line, flush=True)
    print(f"worst per-query P95: {worst:.1f} ms")

    client = Client()
    client.force_login(manager)
    for label, params in (("month", f"period={last_month}"), ("quarter", f"period={last_q}"), ("year", f"period={year}"),
                          ("30 days", "")):
        resp = client.get(f"/analytics/?{params}")
        assert resp.status_code == 200, resp.status_code

        def cold():
            facts.bump_version()  # as a complaint write would: the cached payload is stale
            client.get(f"/analytics/?{params}")

        ts = timed(cold, max(5, args.repeat // 2))
        warm = timed(lambda: client.get(f"/analytics/?{params}"), max(5, args.repeat // 2))
        print(f"full dashboard page ({label}): uncached P50 {pct(ts, 0.5):.0f} ms, P95 {pct(ts, 0.95):.0f} ms; "
              f"cached P50 {pct(warm, 0.5):.0f} ms, P95 {pct(warm, 0.95):.0f} ms; {len(resp.content):,} bytes", flush=True)
    scope = parse_scope(None, {"period": last_month})
    ts = timed(lambda: reports.build_report(scope, "pdf"), 3)
    content, _ = reports.build_report(scope, "pdf")
    print(f"month report PDF: P50 {pct(ts, 0.5) / 1000:.2f} s, max {max(ts) / 1000:.2f} s, {len(content):,} bytes (goal < 10 s)")
    ts = timed(lambda: reports.build_report(scope, "xlsx"), 3)
    print(f"month report XLSX: P50 {pct(ts, 0.5) / 1000:.2f} s")
    ts = timed(lambda: reports.build_regulatory(scope, "pdf"), 3)
    print(f"month regulatory PDF: P50 {pct(ts, 0.5) / 1000:.2f} s")
    out = Path(os.environ.get("QINGTING_DATA_DIR", "/tmp")) / f"bench-report-{last_month}.pdf"
    out.write_bytes(content)
    print(f"sample PDF written to {out}")


if __name__ == "__main__":
    main()
