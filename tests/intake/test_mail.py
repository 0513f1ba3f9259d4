"""E-mail intake against a real Dovecot IMAP server (see dovecot.py)."""
from __future__ import annotations

from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import make_msgid

import pytest
from django.core.management import call_command

from qingting.complaints.models import Attachment, Complaint, Message
from qingting.intake import mail
from qingting.intake.models import Mailbox, ProcessedMail

from .conftest import png_bytes
from .dovecot import dovecot  # noqa: F401  (fixture)


def build(subject, body, *, charset="utf-8", sender="张先生 <zhang@example.com>", html=False, encoding=None,
          files=(), headers=None, msgid=None):
    text = MIMEText(body, "html" if html else "plain", charset)
    if encoding == "base64":
        from email import encoders
        del text["Content-Transfer-Encoding"]
        text.set_payload(body.encode(charset))
        encoders.encode_base64(text)
    if files:
        msg = MIMEMultipart("related" if any(f[2] for f in files) else "mixed")
        msg.attach(text)
        for name, data, inline in files:
            part = MIMEImage(data, "png") if inline else MIMEApplication(data, Name=name)
            if inline:
                part.add_header("Content-ID", "<img1@example.com>")
                part.add_header("Content-Disposition", "inline")
            else:
                part.add_header("Content-Disposition", "attachment", filename=name)
            msg.attach(part)
    else:
        msg = text
    msg["Subject"] = Header(subject, charset)
    msg["From"] = sender
    msg["To"] = "complaints@example.com"
    msg["Message-ID"] = msgid or make_msgid(domain="example.com")
    for k, v in (headers or {}).items():
        msg[k] = v
    return msg.as_bytes()


@pytest.fixture
def mailbox(dovecot, db):  # noqa: F811
    return Mailbox.objects.create(name="inbox", host=dovecot.host, port=dovecot.port, use_ssl=False,
                                  username=dovecot.user, password=dovecot.password,
                                  max_attachment_bytes=200_000)


def test_gbk_mail_becomes_complaint_and_reply_is_threaded(dovecot, mailbox):  # noqa: F811
    first_id = make_msgid(domain="example.com")
    dovecot.deliver(build("投诉：刹车异响", "我的车刹车一直异响，4S店说正常，请尽快处理。", charset="gbk", msgid=first_id,
                          files=[("photo.png", png_bytes(), False)]))
    dovecot.deliver(build("自动回复：我正在休假", "我正在休假", headers={"Auto-Submitted": "auto-replied"}))
    dovecot.deliver(build("Undelivered Mail Returned to Sender", "bounce", sender="MAILER-DAEMON@example.com"))
    assert mail.poll_mailbox(mailbox) == {"created": 1, "appended": 0, "ignored": 2, "done-before": 0, "failed": 0}
    c = Complaint.objects.get()
    assert c.subject == "投诉：刹车异响" and "刹车一直异响" in c.description and c.channel == "email"
    assert c.customer.email == "zhang@example.com" and c.customer.name == "张先生"
    assert Attachment.objects.get(complaint=c).content_type == "image/png"
    assert all("\\Seen" in f for f in dovecot.flags().values()), "marked seen after the commit"

    # a reply by headers only (subject without number), quoted history cut off
    dovecot.deliver(build("Re: 投诉", "补充：今天又响了。\n\n-----原始邮件-----\n我的车刹车一直异响", charset="gb2312",
                          headers={"In-Reply-To": first_id, "References": first_id}))
    # a reply naming the number in the subject, HTML only, Big5
    dovecot.deliver(build(f"回覆 {c.number}", "<html><body><p>請儘快處理</p><script>x()</script></body></html>",
                          charset="big5", html=True))
    assert mail.poll_mailbox(mailbox)["appended"] == 2
    assert Complaint.objects.count() == 1
    bodies = list(Message.objects.filter(complaint=c).order_by("id").values_list("body", flat=True))
    assert bodies[0] == "补充：今天又响了。" and bodies[1] == "請儘快處理"


def test_html_only_base64_inline_image_and_large_attachment(dovecot, mailbox):  # noqa: F811
    dovecot.deliver(build("订单 12345 少发货", "<div>收到的包裹<b>少了一件</b>&amp;包装破损</div>", html=True,
                          encoding="base64", files=[("inline.png", png_bytes(), True),
                                                    ("big.pdf", b"%PDF-1.4\n" + b"0" * 300_000, False),
                                                    ("virus.exe", b"MZ" + b"\0" * 100, False)]))
    assert mail.poll_mailbox(mailbox)["created"] == 1
    c = Complaint.objects.get()
    assert "少了一件" in c.description and "&amp;" not in c.description and "<b>" not in c.description
    assert "big.pdf" in c.description and "超过" in c.description, "large attachment refused with a note"
    assert "virus.exe" in c.description and "类型不支持" in c.description
    assert list(Attachment.objects.filter(complaint=c).values_list("content_type", flat=True)) == ["image/png"]


def test_crash_after_create_does_not_import_twice(dovecot, mailbox, monkeypatch):  # noqa: F811
    dovecot.deliver(build("空调不制冷", "新买的空调不制冷，要求上门维修。"))
    real_record = mail._record

    def crash(*a, **k):
        raise RuntimeError("power cut")

    monkeypatch.setattr(mail, "_record", crash)
    assert mail.poll_mailbox(mailbox)["failed"] == 1
    assert Complaint.objects.count() == 1 and not ProcessedMail.objects.exists()
    assert not any("\\Seen" in f for f in dovecot.flags().values()), "not marked before the commit"
    monkeypatch.setattr(mail, "_record", real_record)
    assert mail.poll_mailbox(mailbox)["created"] == 1
    assert Complaint.objects.count() == 1, "the retry finds the same complaint (idempotency key)"
    assert ProcessedMail.objects.get().outcome == "created"
    assert mail.poll_mailbox(mailbox) == {"created": 0, "appended": 0, "ignored": 0, "done-before": 0, "failed": 0}


def test_command(dovecot, mailbox, capsys):  # noqa: F811
    dovecot.deliver(build("投诉", "服务态度很差"))
    call_command("intake-mail")
    assert '"created": 1' in capsys.readouterr().out


def test_parse_never_raises_on_garbage():
    parsed = mail.parse(b"\xff\xfe garbage without headers \x00\x01")
    assert isinstance(parsed["body"], str)
    assert mail.html_to_text("<p>a<p>b</div></span>") == "a\nb"
    assert mail.html_to_text("<style>p{}</style><p>投诉&amp;建议</p>") == "投诉&建议"
