"""Complaints API: parse, call a service or query, return a schema."""
from __future__ import annotations

from django.db.models import Q
from ninja import Router, Status

from qingting.accounts import access
from qingting.core.errors import Invalid, NotFound
from qingting.core.text import normalise_email, normalise_mobile

from . import queries, services
from .models import Category, Customer, Message, Note
from .schemas import (AssignIn, CategoryOut, ComplaintIn, ComplaintOut, ComplaintPage, ComplaintPatch, CustomerOut,
                      EscalateIn, EventOut, MessageIn, MessageOut, NoteIn, NoteOut, TransitionIn)

router = Router(tags=["complaints"])


def _detail(request, number: str):
    c = access.access_complaint(request.auth, number)
    return queries.complaint_detail(c, request.auth)


@router.post("/complaints", response={200: ComplaintOut, 201: ComplaintOut})
def create_complaint(request, payload: ComplaintIn):
    """Register a complaint. Honours `Idempotency-Key`: same key and body → the same complaint
    (200); same key, other body → 409."""
    key = request.headers.get("Idempotency-Key")
    data = payload.model_dump(exclude_none=True)
    complaint, created = services.create_complaint(
        actor=request.auth, idempotency_key=key,
        fingerprint=services.request_fingerprint(data) if key is not None else None,
        subject=payload.subject, description=payload.description, channel=payload.channel,
        priority=payload.priority, received_at=payload.received_at,
        customer=payload.customer.model_dump() if payload.customer else None, profile=payload.profile,
        about=payload.about, department=payload.department, category=payload.category,
        assignee=payload.assignee, variant=payload.variant)
    complaint = access.access_complaint(request.auth, complaint.number) if access.can_view(request.auth, complaint) \
        else complaint
    return Status(201 if created else 200, queries.complaint_detail(complaint, request.auth))


@router.get("/complaints", response=ComplaintPage)
def list_complaints(request):
    """Newest first, keyset pagination (`next` cursor). Filters: q, step, priority, category,
    department, assignee (username | me | none), channel, received_after, received_before,
    escalated, open, customer, emotion, persona, signal, malicious, sort (recent | priority),
    limit (≤ 200)."""
    rows, next_cursor = queries.complaint_page(request.auth, dict(request.GET.items()))
    return {"items": [queries.list_item(c) for c in rows], "next": next_cursor}


@router.post("/complaints/{number}/triage", response=ComplaintOut)
def retriage(request, number: str):
    """Re-run triage now (after lexicons or the model changed); the snapshot is replaced and the
    re-run is on the timeline."""
    services.retriage_complaint(number, actor=request.auth)
    return _detail(request, number)


@router.get("/complaints/{number}", response=ComplaintOut)
def get_complaint(request, number: str):
    return _detail(request, number)


@router.patch("/complaints/{number}", response=ComplaintOut)
def update_complaint(request, number: str, payload: ComplaintPatch):
    """Change plain fields. The step is never writable here: use /transitions."""
    changes = payload.model_dump(exclude_unset=True)
    expected = changes.pop("expected_version", None)
    services.update_complaint(number, actor=request.auth, changes=changes, expected_version=expected)
    return _detail(request, number)


@router.post("/complaints/{number}/transitions", response=ComplaintOut)
def transition(request, number: str, payload: TransitionIn):
    """Move to another step with that step's data. 409: not allowed from the current step (or a
    concurrent change); 422: the step's requirements are missing (listed in error.missing)."""
    data = payload.model_dump(exclude_none=True)
    to = data.pop("to")
    services.transition_complaint(number, actor=request.auth, to=to, data=data)
    return _detail(request, number)


@router.post("/complaints/{number}/assign", response=ComplaintOut)
def assign(request, number: str, payload: AssignIn):
    services.assign_complaint(number, actor=request.auth, assignee=payload.assignee)
    return _detail(request, number)


@router.post("/complaints/{number}/escalate", response=ComplaintOut)
def escalate(request, number: str, payload: EscalateIn):
    """Escalate to the direct supervisor (then the next level up)."""
    services.escalate_complaint(number, actor=request.auth, reason=payload.reason)
    return _detail(request, number)


@router.get("/complaints/{number}/events", response=list[EventOut])
def events(request, number: str):
    c = access.access_complaint(request.auth, number)
    return [queries.event_dict(e) for e in queries.timeline(c)[:5000]]


@router.get("/complaints/{number}/notes", response=list[NoteOut])
def notes(request, number: str):
    c = access.access_complaint(request.auth, number)
    return [{"id": n.pk, "author": n.author.username if n.author_id else None, "body": n.body,
             "created_at": n.created_at} for n in Note.objects.filter(complaint=c).select_related("author").order_by("id")]


@router.post("/complaints/{number}/notes", response={201: NoteOut})
def add_note(request, number: str, payload: NoteIn):
    n = services.add_note(number, actor=request.auth, body=payload.body)
    return Status(201, {"id": n.pk, "author": request.auth.username, "body": n.body, "created_at": n.created_at})


@router.get("/complaints/{number}/messages", response=list[MessageOut])
def messages(request, number: str):
    c = access.access_complaint(request.auth, number)
    return [{"id": m.pk, "direction": m.direction, "channel": m.channel,
             "author": m.author.username if m.author_id else None, "body": m.body, "created_at": m.created_at}
            for m in Message.objects.filter(complaint=c).select_related("author").order_by("id")]


@router.post("/complaints/{number}/messages", response={201: MessageOut})
def add_message(request, number: str, payload: MessageIn):
    m = services.add_message(number, actor=request.auth, body=payload.body, direction=payload.direction,
                             channel=payload.channel)
    return Status(201, {"id": m.pk, "direction": m.direction, "channel": m.channel, "author": request.auth.username,
                 "body": m.body, "created_at": m.created_at})


@router.get("/categories", response=list[CategoryOut])
def categories(request, profile: str | None = None):
    qs = Category.objects.filter(active=True).select_related("parent", "profile").order_by("parent_id", "position")
    if profile:
        qs = qs.filter(Q(profile__isnull=True) | Q(profile__code=profile))
    return [{"code": c.code, "name": c.name, "parent": c.parent.code if c.parent_id else None,
             "profile": c.profile.code if c.profile_id else None, "level": c.level} for c in qs]


@router.get("/customers", response=list[CustomerOut])
def customers(request, mobile: str | None = None, email: str | None = None):
    """Look a customer up by mobile or e-mail (exact, normalised)."""
    if not mobile and not email:
        raise Invalid("请提供 mobile 或 email", "Give mobile or email", fields={"mobile": "required"})
    qs = Customer.objects.all()
    if mobile:
        qs = qs.with_mobile(normalise_mobile(mobile))
    if email:
        qs = qs.with_email(normalise_email(email))
    visible = access.complaints_for(request.auth)
    rows = []
    for cust in qs.order_by("id")[:20]:
        count = visible.filter(customer=cust).count()
        if count or access.sees_everything(request.auth):
            rows.append({"id": cust.pk, "name": cust.name, "mobile": cust.mobile, "email": cust.email,
                         "tags": cust.tags, "complaint_count": count})
    return rows


@router.get("/customers/{customer_id}", response=CustomerOut)
def customer(request, customer_id: int):
    cust = Customer.objects.filter(pk=customer_id).first()
    visible = access.complaints_for(request.auth)
    if cust is None or not (access.sees_everything(request.auth) or visible.filter(customer=cust).exists()):
        raise NotFound("客户不存在", "No such customer")
    return {"id": cust.pk, "name": cust.name, "mobile": cust.mobile, "email": cust.email, "tags": cust.tags,
            "complaint_count": visible.filter(customer=cust).count()}


# ------------------------------------------------------------------ attachments

import datetime as _dt  # noqa: E402

from ninja import File, Form, Schema  # noqa: E402
from ninja.files import UploadedFile  # noqa: E402

from . import downloads  # noqa: E402
from .models import Attachment  # noqa: E402


class AttachmentOut(Schema):
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    customer_visible: bool
    created_at: _dt.datetime
    uploaded_by: str | None = None


@router.get("/complaints/{number}/attachments", response=list[AttachmentOut])
def attachments(request, number: str):
    c = access.access_complaint(request.auth, number)
    return [downloads.attachment_dict(a) for a in
            Attachment.objects.filter(complaint=c).select_related("uploaded_by").order_by("id")[:1000]]


@router.post("/complaints/{number}/attachments", response={201: AttachmentOut})
def upload_attachment(request, number: str, file: UploadedFile = File(...), customer_visible: bool = Form(False)):
    """Upload a file (multipart field `file`). Type decided by the file's bytes: images, PDF, plain
    text, recordings (mp3/m4a/amr/wav), docx, xlsx; 413 above ATTACHMENT_MAX_BYTES, 422 otherwise."""
    att = services.add_attachment(number, actor=request.auth, uploaded_file=file, customer_visible=customer_visible)
    return Status(201, downloads.attachment_dict(att))


@router.get("/attachments/{attachment_id}/download")
def download_attachment(request, attachment_id: int):
    """The file, as a download (Content-Disposition: attachment, nosniff); 404 when not visible."""
    return downloads.file_response(downloads.visible_attachment(request.auth, attachment_id))
