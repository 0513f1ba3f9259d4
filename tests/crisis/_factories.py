"""Complaints for the crisis tests, inserted in bulk (no services, no hooks)."""
from __future__ import annotations

import datetime as dt
import random

from django.utils import timezone
from qingting.complaints.models import Category, Complaint, Customer

SERIES = [("甲", "甲A"), ("甲", "甲B"), ("乙", "乙A"), ("乙", "乙B"), ("丙", "丙A"), ("丙", "丙B")]
TEXTS = ["车辆异响", "保养后故障灯亮", "售后推诿", "漆面问题", "变速箱顿挫", "车机死机"]


def clone_complaints(base: Complaint, n: int, *, about=None, category=None, received=None, prefix="X", text=None):
    """n complaints like `base` (ORM bulk insert; each a different customer)."""
    customers = Customer.objects.bulk_create([Customer(name=f"客户{prefix}{i}", mobile=f"139{i:08d}") for i in range(n)])
    rows = []
    for i, cust in enumerate(customers):
        rows.append(Complaint(
            number=f"{prefix}{i:06d}", tracking_code=f"{prefix}T{i:06d}", channel="phone",
            received_at=received(i) if received else timezone.now(), customer=cust,
            subject=text or base.subject, description=text or base.description, profile=base.profile,
            about=about(i) if callable(about) else (about or {}), department=base.department,
            category=category(i) if callable(category) else category, variant=base.variant, step=base.step,
            assignee=base.assignee, priority="P3"))
    return Complaint.objects.bulk_create(rows)


def background(base: Complaint, days: int, per_day: int = 12, *, seed: int = 3, now=None) -> None:
    """`per_day` ordinary complaints a day over the `days` days before `now` (random series,
    categories and texts of the auto4s profile)."""
    now = now or timezone.now()
    cats = list(Category.objects.filter(parent__isnull=False, profile__code="auto4s"))
    rnd = random.Random(seed)
    for day in range(days, 0, -1):
        clone_complaints(base, per_day, prefix=f"B{seed}-{day:02d}-",
                         about=lambda i: dict(zip(("brand", "series"), rnd.choice(SERIES))),
                         category=lambda i: rnd.choice(cats), text=rnd.choice(TEXTS),
                         received=lambda i, d=day: now - dt.timedelta(days=d, hours=rnd.randint(0, 23)))
