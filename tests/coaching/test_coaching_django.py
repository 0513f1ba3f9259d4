"""The coaching app's Django side: reply-check API, drafts, the LLM endpoint, the command, care."""
import http.server
import json
import subprocess
import sys
import threading
import time

import pytest

pytestmark = pytest.mark.django_db

BLAMING = "这是您自己操作不当造成的，我们没有责任。"
GOOD = ("王先生，非常抱歉让您跑了三趟，换作是我也会着急。我们已经查明是配件缺货导致延误，"
        "今天会为您安排代步车，配件周五前到货并修好，修好后我会第一时间打电话通知您，有问题请打 400-000-0000 找我。")


def test_reply_check_api_flags_blaming(api_for):
    api = api_for("agent")
    status, body = api.post("/api/v1/coaching/reply-check", {"text": BLAMING})
    assert status == 200, body
    codes = [f["code"] for f in body["findings"]]
    assert any("blam" in c for c in codes), codes
    status, good = api.post("/api/v1/coaching/reply-check", {"text": GOOD})
    assert good["score"] > body["score"] + 20
    assert api.post("/api/v1/coaching/reply-check", {"text": ""})[0] == 200
    one_mb = json.dumps({"text": "好" * 340_000}, ensure_ascii=False)  # ≈ 1 MB of UTF-8
    t = time.monotonic()
    status, big = api.post("/api/v1/coaching/reply-check", raw=one_mb)
    assert status == 200 and big["truncated"] is True and time.monotonic() - t < 10


def test_reply_check_with_complaint_uses_approval_limit(api_for, new_complaint):
    c = new_complaint()
    api = api_for("agent")
    status, body = api.post("/api/v1/coaching/reply-check",
                            {"text": "非常抱歉，我们补偿您 3000 元，明天下午5点前到账，有问题打400-000-0000。", "number": c.number})
    assert status == 200
    assert any("limit" in f["code"] or "authority" in f["code"] or "overpromis" in f["code"] for f in body["findings"]), \
        [f["code"] for f in body["findings"]]
    assert api_for("other_agent").post("/api/v1/coaching/reply-check", {"text": "x", "number": c.number})[0] == 404


def test_draft_is_filled_with_the_complaints_facts(api_for, new_complaint):
    c = new_complaint()
    status, body = api_for("agent").post(f"/api/v1/coaching/complaints/{c.number}/draft", {})
    assert status == 200, body
    assert body["step"] == "accept" and "张" in body["text"] and body["rephrased"] is False
    assert "score" in body["check"]


class _Chat(http.server.BaseHTTPRequestHandler):
    delay = 0.0
    reply = "张先生，您好，非常理解您的心情。不过这是您自己操作不当造成的。"

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length))
        assert body["messages"][0]["role"] == "system"
        time.sleep(self.delay)
        out = json.dumps({"choices": [{"message": {"role": "assistant", "content": self.reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


@pytest.fixture
def chat_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Chat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_llm_rephrase_is_rechecked_and_bounded(api_for, new_complaint, chat_server, settings):
    c = new_complaint()
    settings.QINGTING_LLM_URL = f"http://127.0.0.1:{chat_server.server_address[1]}/v1"
    settings.QINGTING_LLM_TIMEOUT = "1"
    api = api_for("agent")
    _Chat.delay = 0.0
    status, body = api.post(f"/api/v1/coaching/complaints/{c.number}/draft", {"rephrase": True})
    assert status == 200 and body["rephrased"] is True and body["text"] == _Chat.reply
    assert any("blam" in f["code"] for f in body["check"]["findings"])  # the model's output is checked
    _Chat.delay = 3.0  # slow endpoint: the draft still comes, unrephrased, within the timeout
    t = time.monotonic()
    status, body = api.post(f"/api/v1/coaching/complaints/{c.number}/draft", {"rephrase": True})
    assert status == 200 and body["rephrased"] is False and time.monotonic() - t < 2.9
    settings.QINGTING_LLM_URL = "http://127.0.0.1:9/v1"  # down
    status, body = api.post(f"/api/v1/coaching/complaints/{c.number}/draft", {"rephrase": True})
    assert status == 200 and body["rephrased"] is False and body["text"]


def test_reply_check_management_command(capsys):
    from django.core.management import ManagementUtility

    util = ManagementUtility(["qingting", "reply-check", BLAMING, "--json"])
    util.execute()
    out = json.loads(capsys.readouterr().out)
    assert out["score"] < 80 and out["findings"]


def test_assistant_page_and_sending(client, people, new_complaint):
    from qingting.complaints.models import Message

    c = new_complaint()
    client.force_login(people["agent"])
    html = client.get(f"/coaching/{c.number}/").content.decode()
    assert 'data-reply-check="/api/v1/coaching/reply-check"' in html and "coaching/reply_editor.js" in html
    r = client.post(f"/coaching/{c.number}/", {"action": "send", "body": GOOD})
    assert r.status_code == 302 and Message.objects.filter(complaint=c, direction="out").count() == 1


def test_care_break_exposure_and_thanks(client, people, new_complaint):
    from qingting.complaints import services

    c = new_complaint(description="你们这帮骗子，混蛋！再不退钱我就找媒体曝光，到12315投诉你们！",
                      assignee="agent_a")
    client.force_login(people["agent"])
    html = client.get(f"/coaching/{c.number}/").content.decode()
    assert 'id="care-break"' in html
    services.add_message(c.number, actor=people["agent"], body="谢谢你们，问题解决了，辛苦了", direction="in")
    assert "问题解决了" in client.get("/coaching/care/").content.decode()
    assert client.get("/coaching/team-care/").status_code == 404  # agents do not see the team page
    client.force_login(people["supervisor"])
    html = client.get("/coaching/team-care/").content.decode()
    assert "王专员" in html


def test_pure_modules_do_not_import_django():
    code = ("import sys; import qingting.coaching.checker, qingting.coaching.drafts, qingting.training.engine, "
            "qingting.resolution.catalogue; assert 'django' not in sys.modules, 'django imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
