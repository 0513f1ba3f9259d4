"""E-mail intake: poll IMAP mailboxes, turn mails into complaints or thread them into one.

Per new mail (UNSEEN, fetched with BODY.PEEK so nothing is marked early):
- auto-replies and bounces (Auto-Submitted, X-Autoreply/X-Autorespond, Precedence
  bulk/junk/auto_reply, multipart/report, mailer-daemon/postmaster senders) are ignored;
- a number (TS20240106-000123) or tracking code in the subject, or a Message-ID the
  complaint already knows in In-Reply-To/References, appends the mail to that complaint;
- otherwise a new complaint (sender → customer by e-mail, subject/body → text).
Bodies in GB2312/GBK (read as GB18030), Big5, UTF-8, quoted-printable or base64, and
HTML-only mails (stripped to text) are handled; photos/PDFs (also inline images) are kept,
other types and files over the mailbox's size limit are refused with a note.

No loss, no double import: the complaint is created with an idempotency key made of the
mailbox, UIDVALIDITY and UID; the `ProcessedMail` row is written in the same transaction
as the message/attachments; the \\Seen flag is set only after that commit. A crash at any
point re-imports to the same complaint, never a second one.
"""
from __future__ import annotations

import email
import email.policy
import email.utils
import hashlib
import html
import imaplib
import io
import logging
import re
from html.parser import HTMLParser

from django.db import IntegrityError, transaction
from django.utils import timezone

from qingting.complaints import services as complaint_services
from qingting.complaints.models import Complaint
from qingting.core.errors import ServiceError

from . import attachments
from .actors import system_user
from .models import Mailbox, ProcessedMail

log = logging.getLogger(__name__)
NUMBER = re.compile(r"TS\d{8}-\d{6}")
TRACKING = re.compile(r"\b[23456789A-HJ-NP-Z]{4}-[23456789A-HJ-NP-Z]{4}-[23456789A-HJ-NP-Z]{4}\b")
CHARSET_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "gb_2312-80": "gb18030",
                   "cp936": "gb18030", "euc-cn": "gb18030", "big5": "big5hkscs", "x-big5": "big5hkscs"}
AUTO_SUBJECT = re.compile(r"^\s*(自动回复|自動回覆|auto(matic)?[ -]?reply|out of (the )?office|undeliver|delivery status"
                          r"|退信|系统退信|mail delivery failed)", re.I)
QUOTE_MARKERS = re.compile(r"^(-{2,}\s*原始邮件\s*-{2,}|-{2,}\s*Original Message\s*-{2,}|在 .{4,80}写道[:：]|"
                           r"On .{4,120} wrote:|发件人[:：].*|From: .*)\s*$", re.M)
MAX_BODY = 19_000


# ------------------------------------------------------------------ parsing

class _Text(HTMLParser):
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "table", "blockquote"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "head"):
            self.skip += 1
        elif tag in self.BLOCK:
            self.out.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "head") and self.skip:
            self.skip -= 1
        elif tag in self.BLOCK:
            self.out.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.out.append(data)


def html_to_text(markup: str) -> str:
    parser = _Text()
    try:
        parser.feed(markup[:2_000_000])
        parser.close()
    except Exception:  # never raise on user text
        return html.unescape(re.sub(r"<[^>]+>", " ", markup))
    text = "".join(parser.out)
    return re.sub(r"\n\s*\n\s*\n+", "\n\n", re.sub(r"[ \t\u00a0]+", " ", text)).strip()


def decode_part(part) -> str:
    payload = part.get_payload(decode=True) or b""
    charset = (part.get_content_charset() or "utf-8").lower()
    charset = CHARSET_ALIASES.get(charset, charset)
    for cs in (charset, "utf-8", "gb18030"):
        try:
            return payload.decode(cs)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("utf-8", errors="replace")


def header(msg, name: str) -> str:
    try:
        value = msg.get(name)
        return str(value) if value is not None else ""
    except Exception:  # malformed encoded words: fall back to the raw header
        raw = msg.get_all(name) or [""]
        return str(raw[0])


EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def sender_of(msg) -> tuple[str, str]:
    """(display name, address) of From, also when a client encoded the whole header as one word."""
    raw = header(msg, "From")
    name, addr = email.utils.parseaddr(raw)
    if not EMAIL.fullmatch(addr or ""):
        found = EMAIL.search(raw)
        addr = found.group(0) if found else ""
        name = raw[:found.start()].strip().strip('"<').strip() if found else raw.strip()
    return name, addr


def is_automatic(msg) -> str | None:
    """Why the mail is an auto-reply or a bounce, or None."""
    auto = header(msg, "Auto-Submitted").strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    for h in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress-Reply"):
        if msg.get(h) is not None:
            return h
    if header(msg, "Precedence").strip().lower() in ("bulk", "junk", "auto_reply", "list"):
        return "Precedence"
    if msg.get_content_type() == "multipart/report":
        return "multipart/report"
    sender = sender_of(msg)[1].lower()
    if sender.split("@")[0] in ("mailer-daemon", "postmaster") or not sender:
        return "bounce sender"
    if AUTO_SUBJECT.search(header(msg, "Subject")):
        return "auto-reply subject"
    return None


def strip_quoted(text: str) -> str:
    m = QUOTE_MARKERS.search(text)
    if m and m.start() > 0:
        text = text[:m.start()]
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith(">")]
    return "\n".join(lines).strip()


def parse(raw: bytes) -> dict:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    plain, html_body, files = [], [], []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        try:
            filename = part.get_filename()
        except Exception:
            filename = None
        is_file = disposition == "attachment" or filename or (ctype.startswith("image/") and part.get("Content-ID"))
        if is_file or not ctype.startswith("text/"):
            if ctype.startswith("multipart/") or ctype == "message/delivery-status":
                continue
            data = part.get_payload(decode=True) or b""
            files.append({"filename": (filename or f"inline.{ctype.split('/')[-1]}")[:200], "data": data,
                          "declared": ctype, "inline": disposition != "attachment"})
        elif ctype == "text/plain":
            plain.append(decode_part(part))
        elif ctype == "text/html":
            html_body.append(decode_part(part))
    body = "\n".join(plain).strip() or html_to_text("\n".join(html_body))
    name, addr = sender_of(msg)
    refs = " ".join([header(msg, "In-Reply-To"), header(msg, "References")])
    return {"msg": msg, "subject": header(msg, "Subject").strip()[:200], "body": body, "files": files,
            "from_name": name.strip()[:100], "from_addr": addr.strip().lower()[:254],
            "message_id": header(msg, "Message-ID").strip()[:255], "references": re.findall(r"<[^<>\s]+>", refs)}


# ------------------------------------------------------------------ threading and import

def find_thread(parsed: dict, mailbox: Mailbox) -> Complaint | None:
    subject = parsed["subject"]
    m = NUMBER.search(subject)
    if m:
        c = Complaint.objects.filter(number=m.group(0)).first()
        if c:
            return c
    m = TRACKING.search(subject.upper())
    if m:
        c = Complaint.objects.filter(tracking_code=m.group(0)).first()
        if c:
            return c
    refs = parsed["references"]
    if refs:
        row = (ProcessedMail.objects.filter(message_id__in=refs, complaint__isnull=False)
               .order_by("-id").select_related("complaint").first())
        if row:
            return row.complaint
        for ref in refs:  # our own outgoing mails carry the number in their Message-ID
            m = NUMBER.search(ref)
            if m:
                c = Complaint.objects.filter(number=m.group(0)).first()
                if c:
                    return c
    return None


def _files(parsed: dict, mailbox: Mailbox) -> tuple[list, list[str]]:
    keep, notes = [], []
    for f in parsed["files"]:
        size = len(f["data"])
        if size > mailbox.max_attachment_bytes:
            notes.append(f"附件「{f['filename']}」（{size / 1048576:.1f} MB）超过 {mailbox.max_attachment_bytes // 1048576} MB "
                         f"上限，未保存，请联系客户通过其他方式提供")
            continue
        ctype = attachments.sniff(f["data"][:32])
        if ctype is None:
            notes.append(f"附件「{f['filename']}」类型不支持（仅保存照片和 PDF），未保存")
            continue
        upload = io.BytesIO(f["data"])
        upload.name = f["filename"]
        upload.size = size
        keep.append((upload, ctype))
    return keep, notes


def _record(mailbox, uidvalidity, uid, parsed, complaint, outcome, note=""):
    ProcessedMail.objects.create(mailbox=mailbox, uidvalidity=uidvalidity, uid=uid,
                                 message_id=parsed.get("message_id", "")[:255] if parsed else "",
                                 complaint=complaint, outcome=outcome, note=note[:255])


def process(mailbox: Mailbox, uidvalidity: int, uid: int, raw: bytes) -> str:
    """Turn one mail into a complaint or a message (or ignore it). Returns the outcome."""
    if ProcessedMail.objects.filter(mailbox=mailbox, uidvalidity=uidvalidity, uid=uid).exists():
        return "done-before"
    actor = system_user("mail")
    parsed = parse(raw)
    why = is_automatic(parsed["msg"])
    if why:
        with transaction.atomic(durable=True):
            _record(mailbox, uidvalidity, uid, parsed, None, "ignored", why)
        return "ignored"
    files, notes = _files(parsed, mailbox)
    body = strip_quoted(parsed["body"]) or parsed["body"]
    text = (body or "（邮件无正文）")[:MAX_BODY]
    if notes:
        text += "\n\n" + "\n".join(notes)
    thread = find_thread(parsed, mailbox)
    if thread is not None:
        with transaction.atomic(durable=True):
            c = Complaint.objects.select_for_update().select_related("customer").get(pk=thread.pk)
            complaint_services.record_message(c, actor=actor, body=text, direction="in", channel="email")
            for upload, ctype in files:
                attachments.store(c, upload, actor=actor, content_type=ctype, customer_visible=True,
                                  note="邮件附件")
            _record(mailbox, uidvalidity, uid, parsed, c, "appended")
        return "appended"
    key = f"mail:{mailbox.pk}:{uidvalidity}:{uid}"
    complaint, _ = complaint_services.create_complaint(
        actor=actor, subject=parsed["subject"] or text.split("\n", 1)[0][:60] or "邮件投诉", description=text,
        channel="email", customer={"name": parsed["from_name"], "email": parsed["from_addr"]},
        profile=mailbox.profile, department=mailbox.department.code if mailbox.department_id else None,
        idempotency_key=key, fingerprint=hashlib.sha256(raw).hexdigest())
    try:
        with transaction.atomic(durable=True):
            for upload, ctype in files:
                attachments.store(complaint, upload, actor=actor, content_type=ctype, customer_visible=True,
                                  note="邮件附件")
            _record(mailbox, uidvalidity, uid, parsed, complaint, "created")
    except IntegrityError:
        return "done-before"
    return "created"


# ------------------------------------------------------------------ polling

def connect(mailbox: Mailbox) -> imaplib.IMAP4:
    if mailbox.use_ssl:
        conn = imaplib.IMAP4_SSL(mailbox.host, mailbox.port, timeout=30)
    else:
        conn = imaplib.IMAP4(mailbox.host, mailbox.port, timeout=30)
        if mailbox.starttls:
            conn.starttls()
    conn.login(mailbox.username, mailbox.password)
    return conn


def poll_mailbox(mailbox: Mailbox, *, limit: int = 200) -> dict:
    counts = {"created": 0, "appended": 0, "ignored": 0, "done-before": 0, "failed": 0}
    conn = connect(mailbox)
    try:
        typ, _ = conn.select(_quote(mailbox.folder))
        if typ != "OK":
            raise RuntimeError(f"cannot select folder {mailbox.folder}")
        uidvalidity = int((conn.response("UIDVALIDITY")[1] or [b"0"])[0])
        typ, data = conn.uid("SEARCH", None, "UNSEEN")
        uids = [int(u) for u in (data[0] or b"").split()][:limit]
        for uid in uids:
            try:
                typ, fetched = conn.uid("FETCH", str(uid), "(BODY.PEEK[])")
                raw = next((item[1] for item in fetched if isinstance(item, tuple)), None)
                if raw is None:
                    continue
                outcome = process(mailbox, uidvalidity, uid, raw)
            except (ServiceError, Exception) as exc:  # one bad mail must not stop the others
                log.exception("mail %s/%s uid %s failed", mailbox.name, uidvalidity, uid)
                counts["failed"] += 1
                Mailbox.objects.filter(pk=mailbox.pk).update(last_error=f"UID {uid}: {exc}"[:2000])
                continue
            counts[outcome] += 1
            conn.uid("STORE", str(uid), "+FLAGS", "(\\Seen)")  # only after the commit
    finally:
        try:
            conn.logout()
        except Exception:
            pass
    Mailbox.objects.filter(pk=mailbox.pk).update(last_polled_at=timezone.now(),
                                                 **({"last_error": ""} if not counts["failed"] else {}))
    return counts


def _quote(folder: str) -> str:
    return folder if re.fullmatch(r"[A-Za-z0-9._/-]+", folder) else '"' + folder.replace('"', '\\"') + '"'


def poll_all() -> dict:
    """For the periodic jobs: poll every active mailbox; one failing mailbox does not stop the rest."""
    totals: dict[str, dict] = {}
    for mailbox in Mailbox.objects.filter(active=True).order_by("id"):
        try:
            totals[mailbox.name] = poll_mailbox(mailbox)
        except Exception as exc:
            log.exception("mailbox %s failed", mailbox.name)
            Mailbox.objects.filter(pk=mailbox.pk).update(last_error=str(exc)[:2000], last_polled_at=timezone.now())
            totals[mailbox.name] = {"error": str(exc)}
    return totals
