"""Benchmark of the early-warning detector itself (qingting.crisis.detection, no database).

1. Replays 100,000 synthetic rows through `replay()` (CSV written and read back), step=hour
   (a tick every hour of data as well as the check on every row).
2. Builds a detector state from N synthetic complaints spread over a year (default
   1,000,000: 50 brands × 8 series × 40 problems, texts mixing ~3,000 content words),
   then measures `Detector.add` per complaint on top of it, the daily `tick`, the state
   size (JSON) and the process memory.

    .venv/bin/python bench/crisis_detection.py [--n 1000000] [--replay-rows 100000] [--skip-state]

Goal (issue 8): replay of 100k rows ≤ 60 s. The database side (incremental check ≤ 20 ms
and the 30-day sweep ≤ 10 s with 1M complaints in PostgreSQL) is `bench/crisis_pg.py`.
Wall and CPU (time.process_time) are printed; the machine is shared, so compare CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from qingting.crisis.detection import Complaint, Detector, load_thresholds  # noqa: E402
from qingting.crisis.replay import read_table, replay  # noqa: E402

TZ = timezone(timedelta(hours=8))
WORDS = ("刹车 变速箱 发动机 异响 漏油 车机 黑屏 降价 补偿 差价 销售 售后 维修 保养 配件 轮胎 "
         "方向盘 空调 暖风 天窗 车门 生锈 油耗 电池 续航 充电 召回 故障灯 抖动 顿挫 自燃 "
         "态度 欺骗 承诺 退款 延保 索赔 检测 更换 免费 收费 经销商 厂家 客服 投诉 赔偿 "
         "底盘 悬挂 减震 刹车片 离合 火花塞 水箱 仪表 导航 雷达 摄像头 座椅 安全带 气囊").split()


def vocabulary(n: int, rnd: random.Random) -> list[str]:
    chars = "车门窗轮胎灯油电池箱盘架管线表屏键锁刹离合器泵阀壳盖板带轴承座椅垫套罩网线束板件体机声响震漏裂锈"
    out = set(WORDS)
    while len(out) < n:
        out.add(rnd.choice(chars) + rnd.choice(chars) + (rnd.choice(chars) if rnd.random() < 0.3 else ""))
    return sorted(out)


def synthetic(n: int, days: int, seed: int = 1):
    rnd = random.Random(seed)
    vocab = vocabulary(3000, rnd)
    brands = [f"品牌{i:02d}" for i in range(50)]
    problems = [f"问题{i:02d}" for i in range(40)]
    start = datetime(2023, 1, 1, tzinfo=TZ)
    step = days * 86400 / n
    for i in range(n):
        b = rnd.choice(brands)
        s = f"{b}-系{rnd.randrange(8)}"
        p = problems[min(int(rnd.expovariate(0.12)), 39)]
        words = rnd.sample(vocab, 6) + rnd.sample(WORDS, 2)
        text = "，".join(words[:4]) + "，我的车" + "，".join(words[4:]) + "，希望厂家尽快处理。"
        yield Complaint(id=f"s{i}", received_at=start + timedelta(seconds=i * step), text=text,
                        about=(("brand", b), ("series", s)), problem=p, problem_label=p,
                        customer_id=f"c{i}")


def machine() -> str:
    return (f"machine: {platform.machine()}, nproc={os.cpu_count()}, python {platform.python_version()}, "
            f"{platform.platform()}")


def bench_incremental(n: int, measure: int) -> None:
    d = Detector(load_thresholds())
    t0, c0 = time.perf_counter(), time.process_time()
    last_tick = None
    alerts = 0
    lat: list[float] = []
    tick_times: list[float] = []
    for i, c in enumerate(synthetic(n + measure, days=365 * (n + measure) // max(n, 1))):
        day = c.received_at.date()
        if last_tick != day:
            if last_tick is not None:
                ts = time.perf_counter()
                alerts += len(d.tick(c.received_at))
                tick_times.append(time.perf_counter() - ts)
            last_tick = day
        if i >= n:
            ts = time.perf_counter()
            alerts += len(d.add(c))
            lat.append((time.perf_counter() - ts) * 1000)
        else:
            alerts += len(d.add(c))
    build = time.perf_counter() - t0
    cpu = time.process_time() - c0
    state = d.to_state()
    ts = time.perf_counter()
    blob = json.dumps(state, ensure_ascii=False)
    dump_s = time.perf_counter() - ts
    ts = time.perf_counter()
    Detector.from_state(json.loads(blob), load_thresholds())
    load_s = time.perf_counter() - ts
    lat.sort()
    print(f"state built from {n:,} complaints over ~365 days in {build:.1f} s wall, {cpu:.1f} s CPU "
          f"({build / (n + measure) * 1e6:.0f} µs per complaint incl. generation); alerts: {alerts}")
    print(f"Detector.add on top, {measure:,} complaints (wall): "
          f"p50 {statistics.median(lat):.3f} ms, p99 {lat[int(len(lat) * 0.99)]:.3f} ms, "
          f"max {lat[-1]:.3f} ms")
    tick_times.sort()
    print(f"periodic tick (daily, wall): median {statistics.median(tick_times) * 1000:.0f} ms, "
          f"max {tick_times[-1] * 1000:.0f} ms over {len(tick_times)} ticks")
    st = d.stats()
    print(f"state: {st['groups']:,} groups ({st['text_groups']:,} text terms), "
          f"{st['window_complaints']:,} complaints in the window; JSON {len(blob) / 1e6:.1f} MB, "
          f"to_state+dumps {dump_s:.2f} s, loads+from_state {load_s:.2f} s")
    print(f"max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def bench_replay(rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rows.csv"
        with path.open("w", encoding="utf-8") as fh:
            fh.write("id,time,brand,series,problem,text\n")
            for c in synthetic(rows, days=180, seed=2):
                fh.write(f"{c.id},{c.received_at.isoformat()},{c.about[0][1]},{c.about[1][1]},"
                         f"{c.problem},\"{c.text}\"\n")
        c0 = time.process_time()
        t0 = time.perf_counter()
        cols, data = read_table(path)
        t1 = time.perf_counter()
        alerts = replay(data, "time", "text", "id", ("brand", "series"), "problem", step="hour",
                        columns=cols)
        t2 = time.perf_counter()
        cpu = time.process_time() - c0
    print(f"replay of {rows:,} rows (180 days, step=hour): read {t1 - t0:.1f} s + replay {t2 - t1:.1f} s "
          f"= {t2 - t0:.1f} s wall, {cpu:.1f} s CPU  [goal ≤ 60 s]; {len(alerts)} alerts "
          f"({len(alerts) / max(alerts.report.days, 1):.2f} a day on random data)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--measure", type=int, default=10_000)
    ap.add_argument("--replay-rows", type=int, default=100_000)
    ap.add_argument("--skip-state", action="store_true", help="only the replay")
    args = ap.parse_args()
    print(machine())
    print(f"load average at start: {os.getloadavg()[0]:.1f} (wall times are inflated when > nproc)")
    bench_replay(args.replay_rows)
    if not args.skip_state:
        bench_incremental(args.n, args.measure)


if __name__ == "__main__":
    main()
