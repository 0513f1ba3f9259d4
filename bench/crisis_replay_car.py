"""Replay the shared real car-complaint file through the early-warning detector and print
every alert with the hand judgement a complaint handler gave it (act / dismiss).

    .venv/bin/python bench/crisis_replay_car.py [--data ../shared/data/car_complaints_….csv]

The judgements below were made by reading every alert's complaints (2024-11, thresholds
as shipped in src/qingting/crisis/data/thresholds.toml, profile default). When the
thresholds change, alerts that were not judged are listed as "NOT JUDGED": read them and
update the table.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from qingting.crisis.replay import format_alert, read_table, replay  # noqa: E402

DEFAULT = ROOT.parent / "shared" / "data" / "car_complaints_2024-01-29_to_2024-02-28.csv"

# (date, label) → (verdict, reason). verdicts: act-crisis, act-escalate, duplicate, dismiss
JUDGED = {
    ("2024-02-05", "现代 · 库斯途"): (
        "act-escalate", "start of the 库斯途 sold-as-new repainted-car case: 4 filings within minutes, "
        "3 months unresolved, dealer accused of lying; probably one owner — escalate the case, no crisis"),
    ("2024-02-06", "大众 · 探岳"): (
        "act-escalate", "one dealer's after-sales manager refuses repairs and asks for a confidentiality "
        "agreement; 4 filings in 30 min, probably one owner — escalate to the dealer, legal/media risk"),
    ("2024-02-13", "宝马 · 宝马X1 · 刹车片异常磨损"): (
        "act-crisis", "real defect cluster on its first day: X1 front pads worn at ~20,000 km, owners "
        "cite a technical bulletin (PUMA) for a production batch — quality + after-sales, likely campaign"),
    ("2024-02-19", "福特 · 游骑侠Ranger · 其他"): (
        "act-crisis", "several owners over 2 days: advertised seat heating heats only the cushion, "
        "ETC and other features missing — misleading-advertising cluster (legal risk)"),
    ("2024-02-20", "标致 · 标致408"): (
        "act-escalate", "a dealer threatens to refuse repair unless the complaint is withdrawn "
        "(3-4 filings, probably one owner) plus a timing-belt case — escalate the dealer's conduct"),
    ("2024-02-22", "比亚迪 · 变更价格"): (
        "duplicate", "BYD price-cut complaints: the same wave as the 降价 text alert the same day"),
    ("2024-02-22", "相似投诉 · 降价/车主/买车"): (
        "act-crisis", "price-cut wave across brands and models (BYD 秦PLUS/驱逐舰05/汉/唐, 五菱星光, 阿维塔) "
        "since 02-19: owners who bought weeks before ask for the difference — holding statement, price-"
        "protection policy, agents' line to take"),
    ("2024-02-24", "奔驰 · 其他"): (
        "act-crisis", "low coolant temperature, heater not warm, cold feet: winter heating defect "
        "reported by several owners — quality check (minor)"),
    ("2024-02-27", "宝马 · 宝马X1 · 刹车片异常磨损"): (
        "act-crisis", "the brake-pad cluster again after a quiet week: 5 more in a day, copy-pasted "
        "texts (owners organising) and 'nobody contacted me for two weeks' — link to the first hotspot"),
    ("2024-02-28", "大众 · 朗逸"): (
        "dismiss", "5 unrelated problems (headlight cracks, jerking, no reply) on a busy day for a "
        "high-volume series; no common cause"),
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(DEFAULT))
    args = ap.parse_args()
    path = Path(args.data)
    if not path.is_file():
        print(f"data file not found: {path}", file=sys.stderr)
        return 2
    print(f"machine: {platform.machine()}, nproc={os.cpu_count()}, python {platform.python_version()}")
    t0 = time.perf_counter()
    cols, rows = read_table(path)
    alerts = replay(rows, "投诉日期", "投诉简述", "投诉编号", ("投诉品牌", "投诉车系"), "问题类型",
                    columns=cols)
    took = time.perf_counter() - t0
    counts: dict[str, int] = {}
    for a in alerts:
        key = (a.fired_at.date().isoformat(), a.label)
        verdict, reason = JUDGED.get(key, ("NOT JUDGED", "read it and add a judgement"))
        counts[verdict] = counts.get(verdict, 0) + 1
        print(format_alert(a))
        print(f"  >> {verdict}: {reason}\n")
    r = alerts.report
    print("\n".join(r.lines()))
    print(f"{len(alerts)} alerts over {r.days} days = {len(alerts) / r.days:.2f} a day (goal ≤ 3); "
          f"replay took {took:.2f} s")
    act = sum(v for k, v in counts.items() if k.startswith("act"))
    print(f"handler verdicts: act {act} (crisis-level {counts.get('act-crisis', 0)}, escalate one case "
          f"{counts.get('act-escalate', 0)}), duplicate {counts.get('duplicate', 0)}, "
          f"dismiss {counts.get('dismiss', 0)}, not judged {counts.get('NOT JUDGED', 0)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
