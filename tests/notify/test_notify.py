"""Notification channels and delivery: signatures, message formats, retries with backoff,
and endpoints that time out, answer 500 or return garbage — logged, retried, then failed,
never breaking the action that caused them."""
import base64
import datetime as dt
import hashlib
import hmac
import http.server
import json
import socket
import threading
import time
import urllib.parse

import pytest
from django.utils import timezone

from qingting.notify import services
from qingting.notify.channels import dingtalk, feishu, webhook, wecom
from qingting.notify.models import Delivery, DeliveryLog, Endpoint, Preference

pytestmark = pytest.mark.django_db
MSG = {"event": "deadline.breached", "title": "投诉 TS1 已超时", "text": "空调不制冷", "complaint": "TS1",
       "url": "/complaints/TS1/", "link": "", "detail": {}}


class FakeEndpoint:
    def __init__(self, url="http://x/hook", secret="sec"):
        self.url, self.secret = url, secret


def test_webhook_signature_and_replay_window():
    url, body, headers = webhook.build(FakeEndpoint(), MSG, now=1_800_000_000)
    ts, sig = headers["X-Qingting-Timestamp"], headers["X-Qingting-Signature"]
    expected = hmac.new(b"sec", f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    assert sig == "sha256=" + expected
    assert webhook.verify_signature("sec", body, ts, sig, now=1_800_000_100)
    assert not webhook.verify_signature("sec", body, ts, sig, now=1_800_000_000 + 301)  # replayed too late
    assert not webhook.verify_signature("other", body, ts, sig, now=1_800_000_000)
    assert not webhook.verify_signature("sec", body.replace(b"TS1", b"TS2"), ts, sig, now=1_800_000_000)
    assert not webhook.verify_signature("sec", body, "garbage", sig)
    assert json.loads(body)["event"] == "deadline.breached"


def test_dingtalk_signed_url_and_feishu_sign_and_wecom_format():
    url, body, _ = dingtalk.build(FakeEndpoint("https://oapi.dingtalk.com/robot/send?access_token=T", "SEC"), MSG,
                                  now=1_700_000_000.123)
    q = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
    assert q["timestamp"] == ["1700000000123"]
    raw = hmac.new(b"SEC", b"1700000000123\nSEC", hashlib.sha256).digest()
    assert q["sign"] == [base64.b64encode(raw).decode()]  # parse_qs undoes the urlencoding
    assert json.loads(body)["msgtype"] == "markdown"
    _, body, _ = feishu.build(FakeEndpoint("https://open.feishu.cn/x", "FS"), MSG, now=1_700_000_000)
    data = json.loads(body)
    assert data["sign"] == base64.b64encode(hmac.new(b"1700000000\nFS", b"", hashlib.sha256).digest()).decode()
    assert data["msg_type"] == "text" and "已超时" in data["content"]["text"]
    _, body, _ = wecom.build(FakeEndpoint("https://qyapi.weixin.qq.com/x"), MSG, now=0)
    assert json.loads(body)["markdown"]["content"].startswith("### 投诉 TS1")
    assert wecom.check(200, b'{"errcode":0,"errmsg":"ok"}') is None
    assert "93000" in wecom.check(200, b'{"errcode":93000,"errmsg":"invalid webhook url"}')
    assert feishu.check(200, b'{"code":19021,"msg":"sign match fail"}') is not None
    assert dingtalk.check(200, b"<html>not json</html>").startswith("answer is not JSON")


class Handler(http.server.BaseHTTPRequestHandler):
    mode = "ok"

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if Handler.mode == "slow":
            time.sleep(1.5)
        code = 500 if Handler.mode == "500" else 200
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b"{not json" if Handler.mode == "garbage" else b'{"errcode":0}')

    def log_message(self, *a):
        pass


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()


@pytest.fixture
def not_http():
    """A TCP server that answers with bytes that are not HTTP at all."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(5)

    def serve():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.sendall(b"\x00\xffGARBAGE\r\n\r\n")
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield sock.getsockname()[1]
    sock.close()


def _delivery(endpoint):
    return Delivery.objects.create(endpoint=endpoint, channel=endpoint.channel, address=endpoint.url,
                                   event="deadline.breached", payload=MSG)


@pytest.mark.parametrize("mode, channel, error", [
    ("slow", "webhook", "timeout"), ("500", "webhook", "HTTP 500"), ("garbage", "wecom", "not JSON"),
])
def test_failing_endpoint_is_retried_with_backoff_then_failed(server, mode, channel, error):
    Handler.mode = mode
    ep = Endpoint.objects.create(name=mode, channel=channel, secret="s", timeout=0.5,
                                 url=f"http://127.0.0.1:{server.server_port}/hook")
    d = _delivery(ep)
    now = timezone.now()
    started = time.monotonic()
    assert services.attempt(d.pk, now=now) is False
    assert time.monotonic() - started < 3  # bounded by the endpoint's timeout
    d.refresh_from_db()
    assert d.status == "pending" and d.attempts == 1 and error in d.last_error
    assert (d.next_attempt_at - now).total_seconds() >= services.BACKOFF[0] - 1
    assert services.attempt(d.pk, now=now) is None  # not due yet: no second try, no second log row
    t = now
    for _ in range(services.MAX_ATTEMPTS - 1):
        t += dt.timedelta(hours=1)
        services.send_due(now=t)
    d.refresh_from_db()
    assert d.status == "failed" and d.attempts == services.MAX_ATTEMPTS
    logs = list(DeliveryLog.objects.filter(delivery=d).order_by("attempt"))
    assert [entry.attempt for entry in logs] == [1, 2, 3, 4] and not any(entry.ok for entry in logs)
    assert logs[0].endpoint_id == ep.pk and logs[0].event == "deadline.breached"
    if mode == "500":
        assert logs[0].status_code == 500


def test_not_http_answer_and_unreachable_port(not_http):
    ep = Endpoint.objects.create(name="garbage", channel="webhook", secret="s", timeout=1,
                                 url=f"http://127.0.0.1:{not_http}/")
    d = _delivery(ep)
    assert services.attempt(d.pk) is False
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    ep2 = Endpoint.objects.create(name="down", channel="webhook", secret="s", url=f"http://127.0.0.1:{port}/")
    d2 = _delivery(ep2)
    assert services.attempt(d2.pk) is False
    assert DeliveryLog.objects.filter(ok=False).count() == 2


def test_success_and_preferences(server, people, new_complaint, settings, mailoutbox):
    Handler.mode = "ok"
    settings.QINGTING_NOTIFY_INLINE = True
    sup = people["supervisor"]
    sup.email = "sup@example.com"
    sup.save()
    personal = Endpoint.objects.create(name="李主管钉钉", channel="dingtalk", owner=sup,
                                       url=f"http://127.0.0.1:{server.server_port}/robot?access_token=x")
    Preference.objects.create(user=sup, event="complaint.escalated", channel="dingtalk", enabled=True)
    Preference.objects.create(user=sup, event="complaint.escalated", channel="email", enabled=False)
    c = new_complaint()
    rows = services.recipients_for("complaint.escalated", c, [sup])
    assert [(r["channel"], r["endpoint"]) for r in rows] == [("dingtalk", personal)]
    rows = services.recipients_for("deadline.breached", c, [sup])  # no preference: e-mail by default
    assert [(r["channel"], r["address"]) for r in rows] == [("email", "sup@example.com")]
    d = Delivery.objects.create(endpoint=None, channel="email", address="sup@example.com", event="deadline.breached",
                                payload=MSG)
    assert services.attempt(d.pk) is True
    assert mailoutbox[-1].to == ["sup@example.com"] and "已超时" in mailoutbox[-1].subject


def test_broken_endpoint_never_fails_the_users_action(people, new_complaint, settings, django_capture_on_commit_callbacks):
    """A P1 complaint escalates at once and notifies; the robot is down; the complaint is created."""
    settings.QINGTING_NOTIFY_INLINE = True
    Endpoint.objects.create(name="down", channel="wecom", url="http://127.0.0.1:9/never", timeout=0.5)
    with django_capture_on_commit_callbacks(execute=True):
        c = new_complaint(priority="P1")
    c.refresh_from_db()
    assert c.escalation_level == 1
    d = Delivery.objects.get(event="complaint.escalated", channel="wecom")
    assert d.status == "pending" and d.attempts == 1 and d.last_error
