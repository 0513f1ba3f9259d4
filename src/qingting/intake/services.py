"""Intake actions: the customer portal, the satisfaction survey, merging customers.

Complaint changes go through `qingting.complaints.services` (create, message, transition);
what is the portal's own (survey rows, customer merge) is done here in one transaction
per action with its timeline events.
"""
from __future__ import annotations

import hmac
import logging
import re

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from qingting.accounts import access
from qingting.complaints import services as complaint_services
from qingting.complaints.models import Complaint, Customer, Event, Message, Transition
from qingting.core import ratelimit
from qingting.core.errors import Conflict, Invalid, NotFound, PermissionDenied, RateLimited
from qingting.core.text import normalise_mobile

from . import attachments, conf
from .actors import system_user
from .models import SatisfactionSurvey

log = logging.getLogger(__name__)
TRACKING = re.compile(r"^[23456789A-HJ-NP-Z]{4}-?[23456789A-HJ-NP-Z]{4}-?[23456789A-HJ-NP-Z]{4}$")
SURVEY_REASONS = ["处理速度快", "态度好", "问题已解决", "沟通清楚", "处理太慢", "态度不好", "问题没解决", "结果不合理", "沟通不畅"]
LOOKUP_WINDOW = 900


# ------------------------------------------------------------------ submit

def submit_complaint(*, name: str, mobile: str, email: str = "", subject: str = "", description: str,
                     profile: str | None = None, about: dict | None = None, files=(), ip: str = "") -> Complaint:
    """A customer files a complaint on the portal. Returns the complaint (its tracking code is shown)."""
    mobile_norm = normalise_mobile(mobile or "")
    if not re.fullmatch(r"1[3-9]\d{9}", mobile_norm):
        raise Invalid("请填写正确的 11 位手机号", "A valid mainland mobile number is required",
                      fields={"mobile": "invalid"})
    description = (description or "").strip()
    if len(description) < 5:
        raise Invalid("请描述您遇到的问题（至少 5 个字）", "Please describe the problem (at least 5 characters)",
                      fields={"description": "too short"})
    files = list(files)
    max_files = conf.get("QINGTING_PORTAL_MAX_FILES")
    if len(files) > max_files:
        raise Invalid(f"最多上传 {max_files} 个附件", f"At most {max_files} attachments",
                      fields={"attachments": "too many"})
    checked = [(f, attachments.check_upload(f, max_bytes=conf.get("QINGTING_PORTAL_MAX_FILE_BYTES"))) for f in files]
    ratelimit.hit(f"portal-submit-ip:{ip}", limit=conf.get("QINGTING_PORTAL_SUBMIT_PER_IP_HOUR"), window=3600)
    ratelimit.hit(f"portal-submit-contact:{mobile_norm}", limit=conf.get("QINGTING_PORTAL_SUBMIT_PER_CONTACT_HOUR"),
                  window=3600)
    if not subject.strip():
        first = description.split("\n", 1)[0]
        subject = first[:40] + ("…" if len(first) > 40 else "")
    actor = system_user("portal")
    complaint, _ = complaint_services.create_complaint(
        actor=actor, subject=subject, description=description, channel="web",
        customer={"name": name or "", "mobile": mobile_norm, "email": email or ""},
        profile=profile or conf.get("QINGTING_PORTAL_PROFILE") or None, about=about or None,
        department=conf.get("QINGTING_PORTAL_DEPARTMENT") or None)
    for f, _ in checked:
        attachments.add(complaint, f, actor=actor, customer_visible=True,
                        max_bytes=conf.get("QINGTING_PORTAL_MAX_FILE_BYTES"))
    return complaint


def expected_reply_text(complaint) -> str:
    """When to expect an answer: the first open SLA deadline when the SLA app provides one, else the setting."""
    try:
        from qingting.complaints import queries

        detail = queries.complaint_detail(complaint, system_user("portal"))
        rows = [d for d in detail.get("deadlines") or [] if isinstance(d, dict)]
        rows.sort(key=lambda d: ("first" not in str(d.get("kind", "")) and "response" not in str(d.get("kind", ""))))
        for d in rows:
            due = d.get("due_at")
            if due and d.get("state") not in ("met", "done", "cancelled"):
                local = timezone.localtime(due)
                return f"我们将在 {local:%Y年%m月%d日 %H:%M} 前与您联系"
    except Exception:  # the SLA part is optional; never fail the customer's page
        log.exception("deadline lookup failed")
    return conf.get("QINGTING_PORTAL_EXPECTED_REPLY")


# ------------------------------------------------------------------ status look-up

def normalise_code(code: str) -> str:
    raw = re.sub(r"[\s\-]", "", (code or "").upper())[:12]
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}" if len(raw) == 12 else raw


def _expected_check(complaint) -> str:
    cust = complaint.customer
    if cust.mobile:
        return cust.mobile[-4:]
    return (cust.email or "").lower()


def find_for_customer(code: str, check: str, *, ip: str = "") -> Complaint:
    """The complaint for a tracking code and its check (last 4 mobile digits, or the e-mail address).

    The same generic answer for an unknown code and a wrong check; failures are limited per
    code and per IP, so neither codes nor checks can be enumerated.
    """
    ratelimit.hit(f"portal-lookup-ip:{ip}", limit=conf.get("QINGTING_PORTAL_LOOKUP_PER_IP"), window=LOOKUP_WINDOW)
    code = normalise_code(code)
    fail_key = f"portal-lookup-fail:{code}"
    if (cache.get(fail_key) or 0) >= conf.get("QINGTING_PORTAL_LOOKUP_PER_CODE"):
        raise RateLimited("尝试次数过多，请 15 分钟后再试或拨打客服热线", "Too many attempts; try again in 15 minutes",
                          fields={"retry_after": LOOKUP_WINDOW})
    complaint = None
    if TRACKING.match(code):
        complaint = Complaint.objects.select_related("customer", "step").filter(tracking_code=code).first()
    expected = _expected_check(complaint) if complaint else "\x00no-such-complaint"
    given = (check or "").strip().lower()
    ok = hmac.compare_digest(expected.encode(), given.encode()) and bool(given)
    if complaint is None or not ok:
        if not cache.add(fail_key, 1, timeout=LOOKUP_WINDOW):
            try:
                cache.incr(fail_key)
            except ValueError:
                cache.set(fail_key, 1, timeout=LOOKUP_WINDOW)
        raise NotFound("查询码或验证信息不正确", "Tracking code or check is wrong", code="lookup_failed")
    return complaint


CUSTOMER_EVENT_TEXT = {
    "complaint.created": "已受理您的投诉",
    "message.received": "您的留言",
    "message.sent": "客服回复",
    "attachment.added": "附件已上传",
    "survey.answered": "感谢您的评价",
}


def customer_view(complaint) -> dict:
    """What the customer may see: the step in plain words, visible events, messages, attachments."""
    from qingting.complaints.models import Attachment, Step

    steps = {s.pk: s for s in Step.objects.filter(variant=complaint.variant_id)}
    by_code = {s.code: s for s in steps.values()}
    events = []
    for e in Event.objects.filter(complaint=complaint, customer_visible=True).order_by("at", "id"):
        if e.kind.startswith("message."):
            continue  # shown from the messages themselves
        if e.kind.startswith("step."):
            step = by_code.get((e.after or {}).get("step"))
            text = step.customer_text if step and step.customer_text else "处理进度已更新"
        else:
            text = CUSTOMER_EVENT_TEXT.get(e.kind, "处理进度已更新")
            if e.kind == "attachment.added":
                text = f"附件已上传：{(e.after or {}).get('filename', '')}"
        events.append({"at": e.at, "text": text})
    messages = [{"at": m.created_at, "inbound": m.direction == Message.Direction.INBOUND, "body": m.body}
                for m in Message.objects.filter(complaint=complaint).order_by("created_at", "id")]
    files = list(Attachment.objects.filter(complaint=complaint, customer_visible=True).order_by("id")
                 .values("filename", "content_type", "size", "created_at"))
    survey = SatisfactionSurvey.objects.filter(complaint=complaint).first()
    return {"complaint": complaint, "step_text": complaint.step.customer_text or complaint.step.name,
            "closed": complaint.closed_at is not None, "events": events, "messages": messages, "files": files,
            "survey": survey, "can_survey": survey is None and may_survey(complaint),
            "expected": expected_reply_text(complaint) if complaint.closed_at is None else ""}


def customer_message(complaint, *, body: str, files=(), ip: str = "") -> None:
    ratelimit.hit(f"portal-message:{complaint.pk}", limit=20, window=3600)
    files = list(files)
    if len(files) > conf.get("QINGTING_PORTAL_MAX_FILES"):
        raise Invalid("附件过多", "Too many attachments", fields={"attachments": "too many"})
    checked = [(f, attachments.check_upload(f, max_bytes=conf.get("QINGTING_PORTAL_MAX_FILE_BYTES"))) for f in files]
    if not (body or "").strip() and not checked:
        raise Invalid("请填写留言内容或选择附件", "Write a message or attach a file", fields={"body": "required"})
    actor = system_user("portal")
    if (body or "").strip():
        complaint_services.add_message(complaint.number, actor=actor, body=body, direction="in", channel="web")
    for f, _ in checked:
        attachments.add(complaint, f, actor=actor, customer_visible=True,
                        max_bytes=conf.get("QINGTING_PORTAL_MAX_FILE_BYTES"))


# ------------------------------------------------------------------ survey

def may_survey(complaint) -> bool:
    return complaint.closed_at is not None or complaint.step.code == "follow_up"


def submit_survey(complaint, *, stars, reasons=(), comment: str = "") -> SatisfactionSurvey:
    """One answer per complaint, after resolution; "not satisfied" reopens or flags per setting."""
    try:
        stars = int(stars)
    except (TypeError, ValueError):
        stars = 0
    if not 1 <= stars <= 5:
        raise Invalid("请选择 1–5 星", "stars must be 1–5", fields={"stars": "1-5"})
    reasons = [r for r in reasons if r in SURVEY_REASONS][:len(SURVEY_REASONS)]
    comment = complaint_services.clean_text(comment, field="comment", label="意见", max_len=2000)
    actor = system_user("portal")
    try:
        with transaction.atomic(durable=True):
            c = Complaint.objects.select_for_update().select_related("step").get(pk=complaint.pk)
            if not may_survey(c):
                raise Conflict("投诉处理完成后才能评价", "The survey opens after the complaint is resolved",
                               code="survey_not_open")
            survey = SatisfactionSurvey.objects.create(complaint=c, stars=stars, reasons=reasons, comment=comment)
            complaint_services.record_event(c, "survey.answered", actor=actor, customer_visible=True,
                                            after={"stars": stars, "reasons": reasons}, note=comment)
    except IntegrityError:
        raise Conflict("您已经评价过了，感谢反馈", "This complaint already has a survey answer",
                       code="survey_exists") from None
    if stars <= conf.get("QINGTING_SURVEY_UNSATISFIED_STARS"):
        _unsatisfied(complaint.number, stars, comment)
    return survey


def _unsatisfied(number: str, stars: int, comment: str) -> str:
    """Reopen (through the workflow's reopen/back transition) or flag for a supervisor."""
    actor = system_user("portal")
    reason = f"客户满意度评价 {stars} 星（不满意）" + (f"：{comment[:500]}" if comment else "")
    if conf.get("QINGTING_SURVEY_UNSATISFIED") == "reopen":
        c = Complaint.objects.select_related("step").get(number=number)
        t = (Transition.objects.filter(from_step=c.step_id, kind=Transition.Kind.REOPEN).select_related("to_step").first()
             or Transition.objects.filter(from_step=c.step_id, kind=Transition.Kind.BACK).select_related("to_step").first())
        if t is not None:
            try:
                complaint_services.transition_complaint(number, actor=actor, to=t.to_step.code, data={"reason": reason})
                return "reopened"
            except (Invalid, Conflict, PermissionDenied) as exc:
                log.warning("survey reopen of %s failed: %s", number, exc.en)
    with transaction.atomic(durable=True):
        c = Complaint.objects.select_for_update().get(number=number)
        complaint_services.record_event(c, "survey.flagged", actor=actor, after={"stars": stars, "for": "supervisor"},
                                        note=reason)
    return "flagged"


# ------------------------------------------------------------------ customers

def customer_profile(user, customer_id: int) -> dict:
    """A customer's complaints (those `user` may see), satisfaction history and tags."""
    from .export import mask_email, sees_contacts
    from qingting.core.text import mask_mobile

    cust = Customer.objects.filter(pk=customer_id).first()
    visible = access.complaints_for(user, Complaint.objects.filter(customer_id=customer_id))
    if cust is None or not (visible.exists() or access.sees_everything(user)):
        raise NotFound("客户不存在或无权查看", "No such customer (or not visible to you)")
    complaints = list(visible.select_related("step", "category").order_by("-received_at")[:500])
    surveys = list(SatisfactionSurvey.objects.filter(complaint__in=visible).select_related("complaint")
                   .order_by("-created_at")[:200])
    full = sees_contacts(user)
    return {"customer": cust, "mobile": cust.mobile if full else mask_mobile(cust.mobile),
            "email": cust.email if full else mask_email(cust.email), "complaints": complaints, "surveys": surveys,
            "average_stars": round(sum(s.stars for s in surveys) / len(surveys), 1) if surveys else None,
            "tags": cust.tags or [], "total": visible.count()}


def merge_customers(keep_id: int, merge_id: int, *, actor) -> Customer:
    """Merge customer `merge_id` into `keep_id`: complaints move over, contacts and tags are kept,
    and every complaint of both gets a `customer.merged` event. Supervisors and above only."""
    from .models import SimilaritySignature

    if not access.is_supervising(actor):
        raise PermissionDenied("只有主管或管理层可以合并客户", "Only supervisors and managers may merge customers")
    if int(keep_id) == int(merge_id):
        raise Invalid("不能把客户与自己合并", "Cannot merge a customer into itself", fields={"merge": "same"})
    with transaction.atomic(durable=True):
        pair = {c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=[keep_id, merge_id])}
        keep, gone = pair.get(int(keep_id)), pair.get(int(merge_id))
        if keep is None or gone is None:
            raise NotFound("客户不存在", "No such customer")
        all_qs = Complaint.objects.filter(customer_id__in=[keep.pk, gone.pk])
        if access.complaints_for(actor, all_qs).count() != all_qs.count():
            raise PermissionDenied("有些投诉您无权查看，不能合并这两个客户", "Some of their complaints are not visible to you")
        before = {"customer_id": gone.pk, "name": gone.name}
        contacts = list(keep.other_contacts or [])
        for kind, value in (("mobile", gone.mobile), ("email", gone.email)):
            if value and value != getattr(keep, kind):
                if not getattr(keep, kind):
                    setattr(keep, kind, value)
                elif {"kind": kind, "value": value} not in contacts:
                    contacts.append({"kind": kind, "value": value})
        contacts += [c for c in (gone.other_contacts or []) if c not in contacts]
        keep.other_contacts = contacts
        keep.tags = sorted(set(keep.tags or []) | set(gone.tags or []))
        if gone.notes:
            keep.notes = (keep.notes + "\n" if keep.notes else "") + gone.notes
        now = timezone.now()
        moved = list(Complaint.objects.filter(customer=gone).values_list("pk", flat=True))
        Complaint.objects.filter(pk__in=moved).update(customer=keep, updated_at=now, version=F("version") + 1)
        SimilaritySignature.objects.filter(customer_id=gone.pk).update(customer_id=keep.pk)
        gone_mobile, gone_email = gone.mobile, gone.email
        gone.delete()
        keep.save()
        for c in Complaint.objects.filter(customer=keep):
            complaint_services.record_event(
                c, "customer.merged", actor=actor, before=before | {"moved": c.pk in moved},
                after={"customer_id": keep.pk, "merged_mobile": bool(gone_mobile), "merged_email": bool(gone_email)})
        return keep
