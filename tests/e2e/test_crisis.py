"""A burst of complaints becomes a hotspot; a manager opens a crisis from it, messages every affected
customer, gets a statement drafted, reviewed, approved and published, closes the crisis with its
review and downloads the handbook as PDF — in a real browser."""
import datetime as dt
import random
import pathlib
import re

import pytest
from django.utils import timezone
from qingting.complaints import services as complaint_services
from qingting.complaints.models import Category, Complaint, Customer, Event
from qingting.crisis import warning
from qingting.crisis.models import Crisis, Hotspot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _clone(base, n, *, prefix, about, category, text, received):
    customers = Customer.objects.bulk_create([Customer(name=f"车主{prefix}{i}", mobile=f"137{i:08d}") for i in range(n)])
    return Complaint.objects.bulk_create([Complaint(
        number=f"{prefix}{i:06d}", tracking_code=f"{prefix}T{i:06d}", channel="phone", received_at=received(i),
        customer=c, subject=text, description=text, profile=base.profile, about=about(i), department=base.department,
        category=category(i), variant=base.variant, step=base.step, assignee=base.assignee) for i, c in enumerate(customers)])


def _complaints(people):
    base, _ = complaint_services.create_complaint(
        actor=people["agent"], subject="刹车片异常磨损", description="新车三个月刹车片磨没了，刹车异响", channel="phone",
        customer={"name": "钱先生", "mobile": "13700000001"}, profile="auto4s", about={"brand": "丁", "series": "丁A"})
    cats = list(Category.objects.filter(parent__isnull=False, profile__code="auto4s"))
    rnd = random.Random(5)
    series = [("甲", "甲A"), ("甲", "甲B"), ("乙", "乙A"), ("乙", "乙B"), ("丙", "丙A"), ("丙", "丙B")]
    now = timezone.now()
    for day in range(12, 0, -1):
        _clone(base, 12, prefix=f"B{day:02d}", about=lambda i: dict(zip(("brand", "series"), rnd.choice(series))),
               category=lambda i: rnd.choice(cats), text=rnd.choice(["车辆异响", "售后推诿", "车机死机"]),
               received=lambda i, d=day: now - dt.timedelta(days=d, hours=rnd.randint(0, 23)))
    brake = Category.objects.get(code="pq_brake")
    Complaint.objects.filter(pk=base.pk).update(category=brake)
    _clone(base, 7, prefix="H", about=lambda i: {"brand": "丁", "series": "丁A"}, category=lambda i: brake,
           text="刹车片异常磨损，行驶中刹车异响", received=lambda i: now - dt.timedelta(minutes=10 * i + 5))


def test_hotspot_to_closed_crisis(live_server, page, people, artifacts):
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _complaints(people)
    assert warning.sweep_hotspots()["hotspots"] >= 1  # the periodic job `crisis.sweep`
    hotspot = Hotspot.objects.get(group__series="丁A")

    page.goto(live_server.url + "/accounts/login/")
    page.fill("input[name=username]", "manager")
    page.fill("input[name=password]", "Pass-word-2026")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))
    page.goto(live_server.url + "/crisis/")
    assert "丁A" in page.locator("table.hotspots").inner_text()
    page.screenshot(path=str(artifacts / "crisis-hotspots.png"), full_page=True)
    page.click(f"a[href='/crisis/hotspots/{hotspot.pk}/']")
    page.fill("#open-crisis-form input[name=title]", "丁A 刹车片异常磨损")
    page.select_option("#open-crisis-form select[name=severity]", "II")
    page.click("#open-crisis-form button")
    page.wait_for_url(re.compile(r".*/crisis/WJ\d{8}-\d{2}/$"))
    number = page.locator("#crisis-number").inner_text()
    linked = int(page.locator("#linked-total").inner_text())
    assert linked >= 6

    # the manager (commander) also takes the spokesperson and legal roles for this small team
    for role in ("spokesperson", "legal"):
        page.select_option("#team-form select[name=username]", "manager")
        page.select_option("#team-form select[name=role]", role)
        page.click("#team-form button")
        page.wait_for_load_state()

    page.select_option("#mass-form select[name=kind]", "message")
    page.fill("#mass-form textarea[name=template]", "{name}您好：关于您的投诉 {number}，我们已为{series}车主安排免费检测，请拨打400-800-1234预约。")
    page.click("#mass-form button")
    assert f"{linked}/{linked} 件成功" in page.locator(".flash").inner_text()
    crisis = Crisis.objects.get(number=number)
    assert Event.objects.filter(kind="message.sent", complaint__crisis_links__crisis=crisis).count() == linked

    page.select_option("#draft-form select[name=kind]", "holding")
    page.fill("#draft-form input[name=title]", "关于丁A车型刹车片问题的说明")
    page.fill("#draft-form textarea[name=body]", "我们已成立专项小组，正在为丁A车主免费检测刹车片，将于48小时内通报进展。"
                                                  "请拨打热线400-800-1234或到就近门店预约。")
    page.click("#draft-form button")
    page.click("article.statement[data-status=draft] button[name=approve][value='1']")
    page.click("article.statement[data-status=reviewed] button.btn-primary")
    page.select_option("article.statement[data-status=approved] select[name=channel]", "weibo")
    page.click("article.statement[data-status=approved] .publish-form button")
    assert "已发布：微博" in page.locator("#statements").inner_text()

    page.fill("#review-form textarea[name=what_worked]", "热点预警当天发现，4 小时内发布初步声明")
    page.fill("#review-form textarea[name=what_did_not]", "一线口径下发晚了半天")
    page.click("#review-form button")
    page.fill("#action-form input[name=title]", "刹车片供应商质量审核")
    page.fill("#action-form input[name=due_date]", "2026-12-31")
    page.click("#action-form button")
    page.select_option("#transition-form select[name=to]", "closed")
    page.click("#transition-form button")
    page.wait_for_selector("#crisis-steps .current >> text=已结束")
    page.screenshot(path=str(artifacts / "crisis-closed.png"), full_page=True)

    page.goto(live_server.url + "/crisis/handbook/")
    assert "一线口径下发晚了半天" in page.locator("main").inner_text()
    with page.expect_download() as info:
        page.click("#handbook-pdf")
    path = info.value.path()
    assert pathlib.Path(path).read_bytes()[:4] == b"%PDF"
    crisis.refresh_from_db()
    assert crisis.status == "closed" and crisis.statements.get().publications.count() == 1
    assert errors == []
