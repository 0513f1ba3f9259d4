"""Demo data: an organisation with every role, and a few hundred realistic complaints in
every industry and step, created through the same services the product uses.

Other apps extend the demo by registering a function in `EXTENSIONS`
(fn(rng, complaints, users) → None), called after the complaints exist.
"""
from __future__ import annotations

import datetime as dt
import random
import tomllib
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from qingting.accounts.models import Department, DepartmentKind, Role, User

DEMO_PASSWORD = "qingting-demo-2026"
TEXTS = Path(__file__).with_name("demo_texts.toml")
EXTENSIONS: list = []

ORG = [
    # code, name, kind, parent, region, profile
    ("hq", "倾听示范集团", DepartmentKind.COMPANY, None, "", None),
    ("auto-east", "汽车事业部·华东区", DepartmentKind.REGION, "hq", "华东", None),
    ("auto-pudong", "浦东4S店", DepartmentKind.STORE, "auto-east", "上海", "auto4s"),
    ("auto-xihu", "西湖4S店", DepartmentKind.STORE, "auto-east", "杭州", "auto4s"),
    ("bank-sh", "零售银行上海分行", DepartmentKind.STORE, "hq", "上海", "finance"),
    ("shop-flagship", "电商旗舰店", DepartmentKind.STORE, "hq", "线上", "ecommerce"),
    ("food-nanjinglu", "南京路餐厅", DepartmentKind.STORE, "hq", "上海", "catering"),
    ("clinic-main", "门诊部", DepartmentKind.STORE, "hq", "上海", "medical"),
    ("service-center", "客户服务中心", DepartmentKind.TEAM, "hq", "上海", "general"),
]

USERS = [
    # username, display name, role, department
    ("admin", "系统管理员", Role.ADMIN, "hq"),
    ("manager", "周经理", Role.MANAGER, "hq"),
    ("auditor", "审计·孙", Role.AUDITOR, "hq"),
    ("sup_auto", "李主管", Role.SUPERVISOR, "auto-east"),
    ("agent_pudong", "王专员", Role.AGENT, "auto-pudong"),
    ("agent_xihu", "赵专员", Role.AGENT, "auto-xihu"),
    ("sup_bank", "钱主管", Role.SUPERVISOR, "bank-sh"),
    ("agent_bank", "吴专员", Role.AGENT, "bank-sh"),
    ("sup_service", "郑主管", Role.SUPERVISOR, "service-center"),
    ("agent_shop", "冯专员", Role.AGENT, "shop-flagship"),
    ("agent_food", "陈专员", Role.AGENT, "food-nanjinglu"),
    ("agent_clinic", "褚专员", Role.AGENT, "clinic-main"),
    ("agent_service", "卫专员", Role.AGENT, "service-center"),
]

SURNAMES = "张王李赵刘陈杨黄周吴徐孙胡朱高林何郭马罗"
SERIES = ["朗逸", "速腾", "帕萨特", "途观L", "雅阁", "凯美瑞", "Model 3", "汉EV", "宋PLUS", "理想L7"]
BRANDS = {"朗逸": "大众", "速腾": "大众", "帕萨特": "大众", "途观L": "大众", "雅阁": "本田", "凯美瑞": "丰田",
          "Model 3": "特斯拉", "汉EV": "比亚迪", "宋PLUS": "比亚迪", "理想L7": "理想"}
CHANNELS = ["phone"] * 5 + ["in_person"] * 2 + ["web"] * 3 + ["email", "chat", "chat", "social", "regulator", "letter"]
WALK = [
    ("soothe", {"note": "耐心倾听，客户情绪逐渐平稳"}),
    ("apologize", {"note": "就给客户带来的不便真诚致歉"}),
    ("confirm", {"facts": "已调取记录并与相关人员核实，情况属实"}),
    ("act", {"resolution_type": "compensation", "action_plan": "按政策给予补偿并在三个工作日内落实", "resolution_amount": "200"}),
    ("negotiate", {"customer_answer": "accept"}),
    ("follow_up", {}),
    ("close", {"root_cause": "流程缺少主动告知环节", "lessons_learned": "处理进度每两天主动告知客户一次"}),
]


def build_org() -> tuple[dict, dict]:
    depts: dict[str, Department] = {}
    for code, name, kind, parent, region, _ in ORG:
        depts[code], _ = Department.objects.get_or_create(
            code=code, defaults={"name": name, "kind": kind, "parent": depts.get(parent), "region": region})
    users: dict[str, User] = {}
    for username, display, role, dept in USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username, display_name=display, role=role, department=depts[dept],
                        is_staff=role == Role.ADMIN, is_superuser=role == Role.ADMIN)
            user.set_password(DEMO_PASSWORD)
            user.save()
        users[username] = user
    return depts, users


def _fill(text: str, rng: random.Random, series: str) -> str:
    return text.format(series=series, store=rng.choice(["浦东店", "西湖店", "南京路店", "徐汇网点", "陆家嘴支行"]),
                       staff=rng.choice(["小刘", "小陈", "张经理"]), order=f"E{rng.randint(10**11, 10**12 - 1)}",
                       shop=rng.choice(["官方旗舰店", "品牌直营店"]), clinic=rng.choice(["内科门诊", "骨科门诊", "儿科门诊"]))


def create_demo(count: int = 300, seed: int = 2026) -> dict:
    from qingting.complaints import services
    from qingting.complaints.models import Complaint

    rng = random.Random(seed)
    with transaction.atomic():
        depts, users = build_org()
    cases = tomllib.loads(TEXTS.read_text(encoding="utf-8"))["case"]
    agents_by_profile = {}
    for code, *_rest, profile in ORG:
        if profile:
            agents_by_profile.setdefault(profile, []).extend(
                u for u in users.values() if u.department_id == depts[code].pk and u.role == Role.AGENT)
    now = timezone.now()
    created = []
    customers = [(rng.choice(SURNAMES) + rng.choice(["先生", "女士"]), f"1{rng.choice('3578')}{rng.randint(10**8, 10**9 - 1)}")
                 for _ in range(int(count * 0.8) + 1)]
    for i in range(count):
        case = rng.choice(cases)
        agent = rng.choice(agents_by_profile[case["profile"]])
        series = rng.choice(SERIES)
        about = {}
        if case["profile"] == "auto4s":
            about = {"brand": BRANDS[series], "series": series, "mileage": rng.randint(800, 90000)}
        elif case["profile"] == "ecommerce":
            about = {"order_no": f"E{rng.randint(10**11, 10**12 - 1)}", "shop": "官方旗舰店"}
        elif case["profile"] == "finance":
            about = {"business_category": rng.choice(["理财", "银行卡", "信用卡", "贷款"])}
        name, mobile = rng.choice(customers)
        received = now - dt.timedelta(days=rng.betavariate(1.2, 3) * 90, minutes=rng.randint(0, 600))
        complaint, _ = services.create_complaint(
            actor=agent, subject=case["subject"], description=_fill(case["text"], rng, series),
            channel=rng.choice(CHANNELS), received_at=received, customer={"name": name, "mobile": mobile},
            profile=case["profile"], about=about, assignee=agent.username)
        age_days = (now - received).days
        depth = min(len(WALK), max(0, int(age_days / 4 + rng.random() * 3)))
        for to, data in WALK[:depth]:
            data = dict(data)
            if to == "confirm":
                data["category"] = case["category"]
            try:
                services.transition_complaint(complaint.number, actor=agent, to=to, data=data)
            except Exception:
                break
        created.append(Complaint.objects.get(pk=complaint.pk))
    for extension in EXTENSIONS:
        extension(rng, created, users)
    return {"users": users, "complaints": created}
