"""Synthetic complaint streams for the detector tests (deterministic, seeded)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from qingting.crisis.detection import Complaint

TZ = timezone(timedelta(hours=8))
START = datetime(2024, 3, 1, tzinfo=TZ)

BRANDS = {
    "甲品牌": ["甲A", "甲B", "甲C"],
    "乙品牌": ["乙A", "乙B"],
    "丙品牌": ["丙A", "丙B", "丙C"],
    "丁品牌": ["丁A", "丁B"],
}
PROBLEMS = {
    "异响": ["行驶中底盘有异响，去店里检查说正常", "车内异响很大，多次维修没有解决"],
    "故障灯亮": ["仪表盘发动机故障灯亮，店里说要更换零件", "故障灯常亮，检测不出原因"],
    "服务态度": ["售后顾问态度很差，不接电话", "前台接待敷衍了事，没人理睬"],
    "漏油": ["发动机漏油，保修期内不给免费维修", "变速箱漏油，维修两次还是漏"],
    "车机": ["中控屏幕经常黑屏死机", "车机系统卡顿，导航无法使用"],
}


def background(days: int, per_day: int = 30, seed: int = 1, start: datetime = START,
               id_prefix: str = "bg") -> list[Complaint]:
    """Stable volume: per_day complaints a day spread over every brand/series/problem,
    at random hours, each by a different customer."""
    rnd = random.Random(seed)
    pairs = [(b, s) for b, series in BRANDS.items() for s in series]
    probs = list(PROBLEMS)
    out: list[Complaint] = []
    n = 0
    for day in range(days):
        for _ in range(per_day):
            b, s = rnd.choice(pairs)
            p = rnd.choice(probs)
            t = start + timedelta(days=day, hours=rnd.randrange(8, 22), minutes=rnd.randrange(60))
            n += 1
            text = rnd.choice(PROBLEMS[p]) + f"，第{rnd.randrange(1, 999)}号单"
            out.append(Complaint(id=f"{id_prefix}{n}", received_at=t, text=text,
                                 about=(("brand", b), ("series", s)), problem=p,
                                 problem_label=p, customer_id=f"c{id_prefix}{n}"))
    out.sort(key=lambda c: c.received_at)
    return out


def burst(day: int, n: int, brand: str = "丙品牌", series: str = "丙B", problem: str = "刹车",
          start: datetime = START, id_prefix: str = "burst", hour: int = 9,
          texts: list[str] | None = None, **extra) -> list[Complaint]:
    texts = texts or ["刹车片两万公里就磨没了，要求免费更换", "刹车片磨损异常，店里说是驾驶习惯",
                      "刚两万公里刹车片报警，厂家不认质量问题"]
    return [Complaint(id=f"{id_prefix}{i}", received_at=start + timedelta(days=day, hours=hour, minutes=7 * i),
                      text=texts[i % len(texts)] + f"（车主{i}）", about=(("brand", brand), ("series", series)),
                      problem=problem, problem_label=problem, customer_id=f"c{id_prefix}{i}", **extra)
            for i in range(n)]


def merge(*streams: list[Complaint]) -> list[Complaint]:
    out = [c for s in streams for c in s]
    out.sort(key=lambda c: c.received_at)
    return out


def run(detector, stream: list[Complaint], tick_daily: bool = True) -> list:
    """Feed a stream in order, ticking at the end of each day, and return all alerts."""
    alerts = []
    day = None
    for c in stream:
        d = c.received_at.date()
        if tick_daily and day is not None and d != day:
            alerts += detector.tick(datetime.combine(day, datetime.min.time(), TZ) + timedelta(hours=23, minutes=59))
        day = d
        alerts += detector.add(c)
    return alerts
