"""Benchmark: deadline computations per second (pure SLA core, no database).

Usage: .venv/bin/python bench/sla_clock.py [N]   (default N = 100000)

Prints the machine, then for N deadlines with random starts in 2025–2026 and a mix of
targets (calendar hours, business hours, business days, working days, calendar days):
compute_due, compute_at_risk_at, evaluate (state + remaining), evaluate with pauses,
and the one-off cost of building a calendar's year tables.
"""

import datetime as dt
import os
import platform
import random
import sys
import time

from qingting.sla.calendar import BusinessCalendar
from qingting.sla.clock import Pause, Target, compute_at_risk_at, compute_due, evaluate

CN = dt.timezone(dt.timedelta(hours=8))


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    print(f"machine: nproc={os.cpu_count()} python={platform.python_version()} {platform.machine()} {platform.system()}")
    t0 = time.perf_counter()
    cal = BusinessCalendar(hours="09:00-12:00,13:30-18:00")
    for y in (2025, 2026):
        cal.is_working_day(dt.date(y, 6, 1))
    print(f"calendar year tables 2025+2026 built in {(time.perf_counter() - t0) * 1000:.1f} ms (once per process)")

    rnd = random.Random(4)
    targets = [
        Target("first_response", 1, "calendar_hours"),
        Target("first_response", 4, "business_hours"),
        Target("first_response", 1, "business_days"),
        Target("resolution", 7, "working_days"),
        Target("resolution", 45, "working_days", day_end="midnight"),
        Target("resolution", 15, "calendar_days"),
    ]
    base = dt.datetime(2025, 1, 1, tzinfo=CN)
    jobs = []
    for _ in range(n):
        start = base + dt.timedelta(minutes=rnd.randrange(0, 600 * 24 * 60))
        jobs.append((targets[rnd.randrange(len(targets))], start, start + dt.timedelta(hours=rnd.randrange(1, 300))))

    def run(label, fn):
        t = time.perf_counter()
        for job in jobs:
            fn(*job)
        secs = time.perf_counter() - t
        print(f"{label:<52} {n:>7} in {secs:6.2f} s = {n / secs:>9,.0f}/s")
        return secs

    run("compute_due (no pauses)", lambda tg, s, now: compute_due(tg, s, cal))
    run("compute_at_risk_at (no pauses)", lambda tg, s, now: compute_at_risk_at(tg, s, cal))
    run("evaluate: due + at-risk + state + remaining", lambda tg, s, now: evaluate(tg, s, cal, now=now))
    pauses = lambda s: [Pause(s + dt.timedelta(hours=2), s + dt.timedelta(hours=26)), Pause(s + dt.timedelta(hours=30))]
    run("evaluate with 2 pauses (one open)", lambda tg, s, now: evaluate(tg, s, cal, now=now, pauses=pauses(s)))
    print("note: a sweep over stored deadlines compares the precomputed, indexed due_at / at_risk_at;"
          " evaluate() is only needed when a deadline is created, paused, resumed or extended.")


if __name__ == "__main__":
    main()
