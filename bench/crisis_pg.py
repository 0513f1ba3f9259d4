#!/usr/bin/env python
"""Benchmark: the crisis early warning on PostgreSQL with 1M complaints (issue 8 goals: the
incremental check on a new complaint ≤ 20 ms; the periodic sweep of the last 30 days ≤ 10 s).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qt_crisis_bench \\
        .venv/bin/python bench/crisis_pg.py [--n 1000000] [--checks 500] [--reuse]

The database named in DATABASE_URL is DROPPED and re-created. The data is generated with
set-based SQL (INSERT … SELECT generate_series), not through the services: N complaints of
the auto4s profile spread evenly over the 365 days before `now`, their texts, brands, series,
models and problem types recycled from the real car complaints in
`../shared/data/car_complaints_…csv` (one level-2 category per problem type), ~0.7·N
customers, a crisis signal (safety, media, regulator, group) on 2 % of them, and one burst in
the last 6 hours (40 owners of one series reporting the same problem), and what the detector's
feed stores for each complaint it is fed: the terms of its text (for the last 31 days). The generated
database is kept as `<name>_tpl`; --reuse copies it instead of generating again (same N).

Measured (wall and CPU of this process; PostgreSQL's own CPU is in the wall time):

  sweep, cold      `sweep_hotspots()` with no detector state: rebuilds the detector from the
                   complaints of the last 30 days, judges the present, saves the snapshot, runs
                   the escalation rules — the periodic sweep of the last 30 days
  sweep, warm      the same 5 minutes later in the same process (the usual case)
  sweep, restart   the same in a new process: the detector restored from the snapshot
  check            `check_new_complaints(profile, rules=False)` after each of --checks new
                   complaints inserted one at a time, after one warm-up complaint that loads
                   the word segmenter (the per-complaint path; the escalation rules run at
                   most every 30 s, measured separately)
  rules            `evaluate_rules()` over the recent complaints
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/qt_crisis_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qingting.settings")
os.environ.setdefault("QINGTING_DATA_DIR", "/tmp/qingting-bench")
os.environ.setdefault("QINGTING_LOG_LEVEL", "WARNING")

from sla_sweep import recreate_database, save_template, template_meta  # noqa: E402

CAR = ROOT.parent / "shared" / "data" / "car_complaints_2024-01-29_to_2024-02-28.csv"
PROFILE = "auto4s"
BURST = 40
INSERT_COMPLAINT = """INSERT INTO complaints_complaint (number, tracking_code, channel, received_at, created_at,
    updated_at, customer_id, subject, description, profile_id, about, department_id, category_id, category_confirmed,
    priority, variant_id, step_id, facts, action_plan, resolution_type, customer_answer, refusal_count, root_cause,
    lessons_learned, reopen_count, escalation_level, triage, emotion, emotion_intensity, persona, suspected_malicious,
    search_keys, version)"""


def machine() -> str:
    return (f"machine: {platform.machine()}, nproc={os.cpu_count()}, python {platform.python_version()}, "
            f"load average {os.getloadavg()[0]:.1f} at start")


class Timer:
    """Wall and CPU (this process) of a block."""

    def __enter__(self):
        self.w0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.w0, time.process_time() - self.c0

    def __str__(self):
        return f"{self.wall:.2f} s wall, {self.cpu:.2f} s CPU"


def templates() -> list[dict]:
    with CAR.open(encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh)]


def burst_template(rows: list[dict]) -> int:
    """The car complaint the burst repeats: the first about brakes."""
    return next(i for i, r in enumerate(rows) if "刹车" in r["投诉简述"])


def generate(n: int, now: dt.datetime) -> None:
    """Migrate, then insert the data set-based."""
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from qingting.accounts.models import Department, DepartmentKind
    from qingting.complaints.models import Category, IndustryProfile, WorkflowVariant

    store = Department.objects.create(code="s1", name="门店1", kind=DepartmentKind.STORE)
    variant = WorkflowVariant.objects.get(is_default=True)
    step = variant.steps.order_by("position").first()
    profile = IndustryProfile.objects.get(code=PROFILE)
    rows = templates()
    parent = Category.objects.create(code="bench_car", name="汽车投诉（基准）")
    cats = {}
    for i, name in enumerate(sorted({r["问题类型"] for r in rows})):
        cats[name] = Category.objects.create(code=f"bench_car_{i}", name=name[:64], parent=parent, profile=profile).pk
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("CREATE TABLE bench_tpl (i integer PRIMARY KEY, brand text, series text, model text, "
                    "subject text, description text, category_id bigint)")
        cur.executemany("INSERT INTO bench_tpl VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        [(i, r["投诉品牌"], r["投诉车系"], r["投诉车型"], (r["投诉简述"] or r["投诉问题"])[:40],
                          r["投诉简述"], cats[r["问题类型"]]) for i, r in enumerate(rows)])
        customers = int(n * 0.7)
        cur.execute("""INSERT INTO complaints_customer (name, mobile, email, other_contacts, tags, notes, created_at)
                       SELECT '客户' || g, '139' || lpad(g::text, 8, '0'), '', '[]', '[]', '', %s
                       FROM generate_series(1, %s) g""", [now, customers])
        cur.execute("SELECT min(id) FROM complaints_customer")
        first_customer = cur.fetchone()[0]
        common = INSERT_COMPLAINT + """
                    SELECT {number}, {number}, 'web', {at}, {at}, {at}, {customer}, t.subject, t.description, %(profile)s,
                        jsonb_build_object('brand', t.brand, 'series', t.series, 'vehicle_model', t.model),
                        %(store)s, t.category_id, false, 'P3', %(variant)s, %(step)s, '', '', '', '', 0, '', '', 0, 0,
                        '{{}}', '', 0, '', false, '{{}}', 1
                    FROM generate_series(1, %(count)s) g JOIN bench_tpl t ON t.i = {template} ORDER BY g"""
        params = {"profile": profile.pk, "store": store.pk, "variant": variant.pk, "step": step.pk, "now": now,
                  "n": n, "customers": customers, "first": first_customer, "tpls": len(rows)}
        # spread evenly over the year before now, templates and customers scattered
        cur.execute(common.format(
            number="'CB' || lpad(g::text, 8, '0')",
            at="%(now)s - interval '365 days' + (g::float8 / %(n)s) * interval '365 days'",
            customer="%(first)s + (g::bigint * 7919) %% %(customers)s",
            template="(g::bigint * 104729) %% %(tpls)s"), {**params, "count": n - BURST})
        # the burst: the last 6 hours, one series, one problem, different owners
        cur.execute(common.format(
            number="'CBB' || lpad(g::text, 7, '0')",
            at="%(now)s - interval '6 hours' + g * interval '8 minutes'",
            customer="%(first)s + (g::bigint * 15485863) %% %(customers)s",
            template="%(burst)s"), {**params, "count": BURST, "burst": burst_template(rows)})
        cur.execute("""INSERT INTO complaints_complaintflag (complaint_id, kind, code, score)
                       SELECT id, 'signal', (ARRAY['safety', 'media', 'regulator', 'group'])[1 + (id / 50) % 4], 0.8
                       FROM complaints_complaint WHERE id % 50 = 0""")
        cur.execute("ANALYZE")
    print(f"setup: {n:,} complaints, {customers:,} customers inserted in {time.perf_counter() - t0:.1f} s")


def store_terms(now: dt.datetime) -> None:
    """What the feed stores for each complaint it is fed — the terms of its text — for the
    complaints of the last 31 days (computed once per text template, inserted set-based)."""
    from django.core.management import call_command
    from django.db import connection

    from qingting.crisis import feed, textsig

    call_command("migrate", verbosity=0)
    freq = feed.thresholds_for(PROFILE).text_common_word_freq
    rows = templates()
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM crisis_complaintterms")
        if cur.fetchone()[0]:
            return
        cur.execute("ALTER TABLE bench_tpl ADD COLUMN IF NOT EXISTS terms text")
        cur.execute("SELECT i, subject, description FROM bench_tpl")
        cur.executemany("UPDATE bench_tpl SET terms = %s WHERE i = %s",
                        [(" ".join(sorted(textsig.raw_terms(f"{subject}\n{description}", freq))), i)
                         for i, subject, description in cur.fetchall()])
        cur.execute("""INSERT INTO crisis_complaintterms (complaint_id, received_at, terms)
                       SELECT c.id, c.received_at, t.terms FROM complaints_complaint c JOIN bench_tpl t
                         ON t.i = CASE WHEN c.number LIKE 'CBB%%' THEN %(burst)s
                                       ELSE (substring(c.number from 3)::bigint * 104729) %% %(tpls)s END
                       WHERE c.received_at >= %(now)s - interval '31 days' AND c.number LIKE 'CB%%'""",
                    {"burst": burst_template(rows), "tpls": len(rows), "now": now})
        cur.execute("ANALYZE crisis_complaintterms")
    print(f"setup: text terms of the last 31 days stored in {time.perf_counter() - t0:.1f} s")


def new_complaint(cur, i: int, at: dt.datetime) -> None:
    """One more complaint like the generated ones (set-based SQL, outside the timing)."""
    cur.execute(INSERT_COMPLAINT + """
                   SELECT 'CN' || %(i)s, 'CNT' || %(i)s, 'web', %(at)s, %(at)s, %(at)s, c.customer_id, t.subject,
                       t.description, c.profile_id, jsonb_build_object('brand', t.brand, 'series', t.series,
                       'vehicle_model', t.model), c.department_id, t.category_id, false, 'P3', c.variant_id,
                       c.step_id, '', '', '', '', 0, '', '', 0, 0, '{}', '', 0, '', false, '{}', 1
                   FROM bench_tpl t, (SELECT * FROM complaints_complaint ORDER BY id LIMIT 1) c
                   WHERE t.i = %(i)s %% (SELECT count(*) FROM bench_tpl)""", {"i": i, "at": at})


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--checks", type=int, default=500)
    ap.add_argument("--reuse", action="store_true")
    args = ap.parse_args()
    url = os.environ["DATABASE_URL"]
    print(machine())
    meta = template_meta(url) if args.reuse else None
    if meta is not None and meta[0] != args.n:
        print(f"template holds N={meta[0]}, not {args.n}: generating again")
        meta = None
    from sla_sweep import _admin

    recreate_database(url, template=f"{_admin(url)[0]}_tpl" if meta else None)
    import django

    django.setup()
    from django.db import connection

    if meta is None:
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        generate(args.n, now)
        store_terms(now)
        save_template(url, args.n, now)
    else:
        now = meta[1].astimezone(dt.timezone.utc)
        print(f"setup: reused the template database ({args.n:,} complaints), now={now.isoformat()}")
        store_terms(now)

    from qingting.crisis import feed, warning
    from qingting.crisis.models import DetectorState, Hotspot

    def state_mb() -> float:
        with connection.cursor() as cur:
            cur.execute("SELECT coalesce(pg_column_size(state), 0) FROM crisis_detectorstate WHERE profile = %s",
                        [PROFILE])
            row = cur.fetchone()
        return (row[0] if row else 0) / 1e6

    with Timer() as t:
        result = warning.sweep_hotspots(now=now)
    st = feed._held[PROFILE].detector.stats()
    print(f"sweep, cold (rebuild from the last {feed.CATCH_UP_DAYS} days = {st['seen']:,} complaints, judge, "
          f"snapshot, rules): {t}  [goal ≤ 10 s]; {result}; hotspots: "
          f"{list(Hotspot.objects.values_list('label', 'count'))}")
    print(f"  detector: {st['groups']:,} groups ({st['text_groups']:,} text terms), "
          f"{st['window_complaints']:,} complaints in the window; snapshot {state_mb():.1f} MB (jsonb, compressed)")
    with Timer() as t:
        result = warning.sweep_hotspots(now=now + dt.timedelta(minutes=5))
    print(f"sweep, warm (5 minutes later, same process): {t}; {result}")
    feed._held.clear()
    with Timer() as t:
        result = warning.sweep_hotspots(now=now + dt.timedelta(minutes=10))
    print(f"sweep, restart (detector restored from the snapshot): {t}; {result}")

    walls, cpus = [], []
    with connection.cursor() as cur:
        new_complaint(cur, -1, now + dt.timedelta(minutes=10))
        warning.check_new_complaints(PROFILE, rules=False)   # warm-up: loads the word segmenter
        for i in range(args.checks):
            new_complaint(cur, i, now + dt.timedelta(minutes=10, seconds=7 * i))
            w0, c0 = time.perf_counter(), time.process_time()
            warning.check_new_complaints(PROFILE, rules=False)
            walls.append((time.perf_counter() - w0) * 1000)
            cpus.append((time.process_time() - c0) * 1000)
    fed = DetectorState.objects.get(profile=PROFILE).last_complaint_id
    print(f"check after each new complaint ({args.checks} complaints, {args.n:,} in the table): "
          f"p50 {statistics.median(walls):.1f} ms, p99 {percentile(walls, 0.99):.1f} ms, max {max(walls):.1f} ms wall; "
          f"CPU p50 {statistics.median(cpus):.1f} ms, p99 {percentile(cpus, 0.99):.1f} ms  [goal ≤ 20 ms]; "
          f"fed up to id {fed}")
    rule_times = []
    for _ in range(5):
        with Timer() as t:
            warning.evaluate_rules(now=now + dt.timedelta(hours=1))
        rule_times.append(t.wall)
    print(f"escalation rules (every 30 s and in the sweep): median {statistics.median(rule_times) * 1000:.0f} ms wall")
    print(f"max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
