"""Where the real data lives (../shared/data beside the repository)."""
from __future__ import annotations

import os
import pathlib
import random

import pytest

SHARED_DATA = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "data"


def shared_data(name: str) -> pathlib.Path:
    """Path of a file in ../shared/data; skips loudly outside CI, fails in CI."""
    path = SHARED_DATA / name
    if not path.exists():
        message = f"REAL DATA MISSING: {path} not found (tests read ../shared/data beside the repo)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


TEMPLATES = {
    "发动机": ["发动机{a}异响，怠速抖动", "烧机油严重，{a}发动机故障灯亮", "冷启动{a}发动机抖动，动力不足"],
    "服务态度": ["销售顾问态度恶劣{a}，不理人", "4S店服务态度差，{a}挂电话", "客服敷衍推诿{a}，态度很差"],
    "制动系": ["刹车{a}异响，刹车片磨损快", "制动{a}发软，刹车距离长", "踩刹车{a}有异响，abs灯亮"],
}
FILLERS = ["", "两个月了", "多次", "昨天", "一直", "总是", "今天早上", "上周"]


def synthetic(n, seed=1):
    rnd = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        label = rnd.choice(sorted(TEMPLATES))
        texts.append(rnd.choice(TEMPLATES[label]).format(a=rnd.choice(FILLERS)))
        labels.append(label)
    return texts, labels
