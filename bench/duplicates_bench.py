"""Near-duplicate check against 1M indexed complaints: time of `duplicates.similar_to` (goal < 50 ms).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<throw-away db> QINGTING_DATA_DIR=/tmp/qt-bench \
    .venv/bin/python bench/duplicates_bench.py [--n 1000000] [--queries 300]

Fills the LSH tables (intake_similarityband: 12 rows per complaint; intake_similaritysignature)
with N synthetic complaints (random band keys, as unrelated texts have) plus the real car
complaints from ../shared/data (so the queries find true near-duplicates), then times the
check for texts taken from that file (slightly edited). Prints p50/p95/max and the machine.
"""
from __future__ import annotations

import argparse
import csv
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "car_complaints_2024-01-29_to_2024-02-28.csv"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=300)
    args = ap.parse_args()
    print(f"machine: nproc={os.cpu_count()} python={platform.python_version()} {platform.platform()}")
    subprocess.run([sys.executable, "-m", "qingting", "migrate", "--skip-checks", "-v0"], check=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qingting.settings")
    import django

    django.setup()
    from django.db import connection, transaction

    from qingting.intake import duplicates

    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    if DATA.exists():
        with open(DATA, encoding="utf-8") as fh:
            texts = [r[4] for r in list(csv.reader(fh))[1:] if len(r[4]) > 20]
    else:
        texts = [f"发动机异响第{i}次，4S店不处理，要求退车赔偿，车辆编号{i}" for i in range(1000)]
    base = 10_000_000_000
    with connection.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM intake_similaritysignature WHERE complaint_id >= %s", [base])
        have = cur.fetchone()[0]
    if have < args.n:
        t = time.monotonic()
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("DELETE FROM intake_similarityband WHERE complaint_id >= %s", [base])
            cur.execute("DELETE FROM intake_similaritysignature WHERE complaint_id >= %s", [base])
            if connection.vendor == "postgresql":
                cur.execute("INSERT INTO intake_similarityband (band_key, complaint_id) "
                            "SELECT (random() * 9.2e18 - 4.6e18)::bigint, %s + g "
                            "FROM generate_series(1, %s) g, generate_series(1, 12) b", [base, args.n])
                cur.execute("INSERT INTO intake_similaritysignature (complaint_id, customer_id, received_at, signature) "
                            "SELECT %s + g, g, now(), decode(md5(g::text) || md5(g::text), 'hex') "
                            "FROM generate_series(1, %s) g", [base, args.n])
            else:
                rnd = random.Random(1)
                for start in range(0, args.n, 100_000):
                    ids = range(base + start + 1, base + min(args.n, start + 100_000) + 1)
                    cur.executemany("INSERT INTO intake_similarityband (band_key, complaint_id) VALUES (%s, %s)",
                                    [(rnd.getrandbits(63) - 2**62, i) for i in ids for _ in range(12)])
                    cur.executemany("INSERT INTO intake_similaritysignature VALUES (%s, %s, '2024-01-01', %s)",
                                    [(i, i, b"\0" * 240) for i in ids])
            real = [(base + args.n + 1 + i, 900_000_000 + i, "2024-01-01T00:00:00+08:00", t_) for i, t_ in enumerate(texts)]
        duplicates.index_complaints(real)
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("ANALYZE intake_similarityband; ANALYZE intake_similaritysignature")
        print(f"filled {args.n:,} synthetic + {len(texts)} real complaints in {time.monotonic() - t:.0f} s")
    with connection.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM intake_similarityband")
        print(f"band rows: {cur.fetchone()[0]:,}")
    rnd = random.Random(7)
    times, hits = [], 0
    for i in range(args.queries):
        text = rnd.choice(texts)
        query = text + rnd.choice(["请尽快处理。", "", "希望厂家给个说法！"])
        t = time.perf_counter()
        found = duplicates.similar_to(query, threshold=0.5)
        times.append((time.perf_counter() - t) * 1000)
        hits += bool(found)
    times.sort()
    print(f"{args.queries} checks: p50 {statistics.median(times):.1f} ms, p95 {times[int(len(times) * .95)]:.1f} ms, "
          f"max {times[-1]:.1f} ms; {hits} of {args.queries} found their near-duplicate")


if __name__ == "__main__":
    main()
