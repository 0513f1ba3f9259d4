"""A real Celery worker (in-thread, consuming from Redis on 127.0.0.1:6379) runs the SLA
sweep; the at-risk notification goes through the broker to the `qingting.notify.deliver`
task and reaches a local HTTP receiver, whose signature check passes."""
import datetime as dt
import http.server
import json
import os
import socket
import threading
import uuid

import pytest

from qingting.notify.channels.webhook import verify_signature
from qingting.notify.models import Delivery, DeliveryLog, Endpoint
from qingting.sla.models import Deadline

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]
REDIS = os.environ.get("QINGTING_TEST_REDIS", "redis://127.0.0.1:6379/11")


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(autouse=True)
def _needs_redis(transactional_db):
    if not _redis_up():
        msg = "REDIS NOT REACHABLE on 127.0.0.1:6379: the real-worker test did not run"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    from qingting.complaints.workflow import seed_defaults
    from qingting.sla.config import seed_presets

    seed_defaults()
    seed_presets()


class Receiver(http.server.BaseHTTPRequestHandler):
    got: list = []
    event = threading.Event()

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Receiver.got.append((dict(self.headers), body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")
        Receiver.event.set()

    def log_message(self, *args):
        pass


def test_worker_runs_sweep_and_delivers_signed_webhook(settings, new_complaint):
    from celery.contrib.testing.worker import start_worker

    from qingting.celery import app, run_periodic

    queue = f"qingting-test-{uuid.uuid4().hex[:8]}"
    settings.REDIS_URL = REDIS
    app.conf.update(broker_url=REDIS, task_default_queue=queue, task_always_eager=False)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Receiver.got, Receiver.event = [], threading.Event()
    secret = "s3cr3t-" + uuid.uuid4().hex
    Endpoint.objects.create(name="receiver", channel="webhook", secret=secret, events=["deadline.at_risk"],
                            url=f"http://127.0.0.1:{server.server_port}/hook", timeout=3)
    c = new_complaint(priority="P3")
    now = dt.datetime.now(dt.timezone.utc)
    Deadline.objects.filter(complaint=c, kind="first_response").update(
        at_risk_at=now - dt.timedelta(minutes=1), due_at=now + dt.timedelta(hours=2))
    try:
        with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False, shutdown_timeout=10,
                          queues=[queue], loglevel="WARNING"):
            run_periodic.apply_async(("sla.sweep",), queue=queue)
            assert Receiver.event.wait(30), "the webhook never arrived"
    finally:
        server.shutdown()
        app.conf.update(broker_url="memory://", task_default_queue="celery")
    headers, body = Receiver.got[0]
    headers = {k.lower(): v for k, v in headers.items()}
    assert verify_signature(secret, body, headers["x-qingting-timestamp"], headers["x-qingting-signature"])
    assert not verify_signature(secret, body + b" ", headers["x-qingting-timestamp"], headers["x-qingting-signature"])
    payload = json.loads(body)
    assert payload["event"] == "deadline.at_risk" and payload["complaint"] == c.number
    d = Delivery.objects.get(event="deadline.at_risk")
    for _ in range(50):  # the worker writes the outcome right after the receiver answered
        d.refresh_from_db()
        if d.status == "sent":
            break
        threading.Event().wait(0.1)
    assert d.status == "sent" and DeliveryLog.objects.get(delivery=d).status_code == 200
    assert Deadline.objects.get(complaint=c, kind="first_response").warned_at is not None
