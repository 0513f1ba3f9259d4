"""Bulk import benchmark: rows/s and peak memory for a 100k-row CSV (goal ≥ 2,000 rows/s on
PostgreSQL, 2 cores; memory flat: a 10k and a 100k file should peak alike). It also prints
the CPU time per row of the importing process, of its analysis workers and of the
PostgreSQL server processes (read from /proc), which says where the time goes, and how long
the analysis alone takes on one core just before each run — the ceiling of one worker, and a
reading of this virtual machine's speed at the time, which swings by a third and more.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qingting_bench_import \
    QINGTING_DATA_DIR=/tmp/qt-bench .venv/bin/python bench/import_bench.py [--rows 100000] [--repeat N]

It builds the file from ../shared/data/car_complaints_*.csv (texts recycled with new
ids and dates) or from synthetic texts when that file is absent, migrates the database,
then runs each size in a fresh subprocess (`qingting import … --mapping car-complaints`)
and reads that process's peak RSS. `--repeat N` imports the large file N times, each into the
database the runs before it left; the last line says how many of the large runs reached the
goal. The database must be a throw-away one.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "car_complaints_2024-01-29_to_2024-02-28.csv"
GOAL_ROWS_PER_SECOND = 2_000  # the intake issue's goal for the large file
HEADER = ["投诉编号", "投诉品牌", "投诉车系", "投诉车型", "投诉简述", "投诉问题", "问题类型", "投诉日期"]


def make_file(path: Path, rows: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    if DATA.exists():
        with open(DATA, encoding="utf-8") as fh:
            base = [r for r in csv.reader(fh)][1:]
    else:
        words = ["发动机异响", "变速箱顿挫", "车门生锈", "4S店态度恶劣", "承诺不兑现", "刹车失灵", "车机死机", "漏油"]
        base = [["0", "某品牌", "某车系", "2023款", "，".join(rnd.sample(words, 3)), "发动机", "异响", "2024-02-01"]
                for _ in range(500)]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for i in range(rows):
            r = list(base[i % len(base)])
            r[0] = f"B{i:09d}"
            r[4] = f"{r[4]}（第{i % 97}次反映）" if r[4] else r[4]
            r[7] = f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}"
            w.writerow(r)


def run_one(path: Path, source: str) -> dict:
    code = f"""
import os, resource, time, json, django
os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'qingting.settings')
django.setup()
from qingting.intake.importer.engine import run_import
from qingting.intake.importer.mapping import get_mapping
from qingting.intake.actors import system_user
actor = system_user('import')
m = dict(get_mapping('car-complaints')); m['source'] = {source!r}
import qingting.complaints.triage_link as tl; tl.analyze_complaint(subject='预热', description='发动机异响', channel='import', profile='auto4s')
def server_cpu():  # CPU seconds of all PostgreSQL server processes on this machine (0 when none are visible)
    total = 0.0
    for pid in os.listdir('/proc'):
        try:
            with open(f'/proc/{{pid}}/stat') as fh:
                stat = fh.read()
        except OSError:
            continue
        if '(postgres)' in stat:
            f = stat.rsplit(')', 1)[1].split()
            total += (int(f[11]) + int(f[12])) / os.sysconf('SC_CLK_TCK')
    return total
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t, c, s = time.monotonic(), time.process_time(), server_cpu()
r = run_import({str(path)!r}, m, actor=actor)
secs, main_cpu, srv_cpu = time.monotonic() - t, time.process_time() - c, server_cpu() - s
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
from qingting.core import background
t = time.monotonic()
background.wait_all()  # after the commit: the dashboard facts of the imported rows, and the planner statistics
facts_secs = time.monotonic() - t
print(json.dumps({{'rows': r.imported, 'seconds': secs, 'rss_before_mb': base / 1024, 'rss_peak_mb': peak / 1024,
                  'facts_seconds': facts_secs, 'main_cpu': main_cpu, 'workers_cpu': kids.ru_utime + kids.ru_stime,
                  'server_cpu': srv_cpu, 'load': os.getloadavg()[0]}}))
"""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # background work in this process
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if out.returncode:
        sys.stderr.write(out.stderr)
        raise SystemExit(out.returncode)
    return json.loads(out.stdout.strip().splitlines()[-1])


def analysis_alone(path: Path) -> float:
    """CPU µs per row of the analysis workers' work (`engine.analyse`: triage, MinHash, search
    keys) on one core, best of 3 over the file's first 2,000 rows: the ceiling of one worker,
    and a reading of how fast this (virtual) machine is at the moment."""
    code = f"""
import os, time, django
os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'qingting.settings')
django.setup()
from qingting.intake.importer import engine
from qingting.intake.importer.mapping import get_mapping
from qingting.intake.importer.readers import open_table
table = open_table({str(path)!r})
m = dict(get_mapping('car-complaints')); m['source'] = 'bench-calibration'
plan = engine.Plan(m, table.headers)
rows = []
for rownum, values in table.rows():
    row, errors = engine.parse_row(plan, rownum, values)
    rows.append((row.subject, row.description, row.channel, plan.profile.code, row.customer.get('name', '')))
    if len(rows) == 2000:
        break
table.close()
engine.analyse(rows[:50])
os.sched_setaffinity(0, {{min(os.sched_getaffinity(0))}})
best = min((lambda t: (engine.analyse(rows), time.process_time() - t)[1])(time.process_time()) for _ in range(3))
print(best / len(rows) * 1e6)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode:
        sys.stderr.write(out.stderr)
        raise SystemExit(out.returncode)
    return float(out.stdout.strip().splitlines()[-1])


def interpreter() -> str:
    """Which Python runs the benchmark, and whether its interpreter is linked to a shared
    libpython: such builds (e.g. a plain `pyenv install`) ran the analysis 10–30 % slower here
    than the distribution's statically linked, optimised python3 (docs/import.md)."""
    try:
        with open("/proc/self/maps") as fh:
            linked = "shared libpython" if any("libpython" in line for line in fh) else "libpython linked in"
    except OSError:  # not Linux
        linked = "libpython linkage unknown"
    return f"python {platform.python_version()} ({sys.base_prefix}), {linked}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--small", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=1,
                    help="import the large file this many times (each into the database as the runs before left it)")
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    print(f"machine: nproc={os.cpu_count()} {platform.platform()}")
    print(f"interpreter: {interpreter()}")
    print(f"database: {os.environ.get('DATABASE_URL', 'sqlite (default)')}")
    subprocess.run([sys.executable, "-m", "qingting", "migrate", "--skip-checks", "-v0"], check=True)
    stamp = str(int(time.time()))
    rates = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, n in enumerate([args.small] + [args.rows] * args.repeat):
            path = Path(tmp) / f"bench_{n}.csv"
            if not path.exists():
                make_file(path, n)
            size_mb = path.stat().st_size / 1048576
            alone = analysis_alone(path)
            res = run_one(path, f"bench-{stamp}-{n}-{k}")
            rate = res["rows"] / res["seconds"] if res["seconds"] else 0
            if k:
                rates.append(rate)
            print(f"{n:>7} rows ({size_mb:.1f} MB): {res['seconds']:.1f} s, {rate:,.0f} rows/s, "
                  f"RSS before {res['rss_before_mb']:.0f} MB, peak {res['rss_peak_mb']:.0f} MB "
                  f"(+{res['rss_peak_mb'] - res['rss_before_mb']:.0f} MB); then the background work (facts, statistics): "
                  f"{res['facts_seconds']:.1f} s")
            per = 1000 / max(res["rows"], 1)
            print(f"        CPU per row: importing process {res['main_cpu'] * per:.2f} ms, analysis workers "
                  f"{res['workers_cpu'] * per:.2f} ms, PostgreSQL server {res['server_cpu'] * per:.2f} ms "
                  f"(load average {res['load']:.1f})")
            print(f"        the analysis alone, just before: {alone:.0f} µs per row on one core (the ceiling of one "
                  f"worker: {1e6 / alone:,.0f} rows/s)")
    ok = sum(r >= GOAL_ROWS_PER_SECOND for r in rates)
    print(f"goal ≥ {GOAL_ROWS_PER_SECOND:,} rows/s for {args.rows:,} rows: {ok} of {len(rates)} run(s) reached it "
          f"({', '.join(f'{r:,.0f}' for r in rates)} rows/s)")


if __name__ == "__main__":
    main()
