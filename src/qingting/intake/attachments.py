"""Attachment checks by content (magic bytes), not by the file name, and storage.

Allowed: JPEG, PNG, GIF, WebP, HEIC/HEIF photos and PDF. The stored content type and
extension come from the bytes; the customer's file name is kept only as a label.
"""
from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from qingting.core.errors import Invalid, TooLarge

ALLOWED = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp",
           "image/heic": "heic", "application/pdf": "pdf"}


def sniff(head: bytes) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heif", b"hevc"):
        return "image/heic"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def _name(uploaded) -> str:
    name = os.path.basename(getattr(uploaded, "name", "") or "file").replace("\x00", "")
    return name[:200] or "file"


def check_upload(uploaded, *, max_bytes: int) -> str:
    """Return the real content type of an uploaded file, or raise Invalid / TooLarge naming the file."""
    name = _name(uploaded)
    size = getattr(uploaded, "size", None)
    if size is None:
        uploaded.seek(0, 2)
        size = uploaded.tell()
    if size > max_bytes:
        raise TooLarge(f"文件「{name}」过大（{size / 1048576:.1f} MB，上限 {max_bytes / 1048576:.0f} MB）",
                       f"File {name!r} is too large (limit {max_bytes // 1048576} MB)", code="file_too_large",
                       fields={"attachments": "too large"})
    if size == 0:
        raise Invalid(f"文件「{name}」是空的", f"File {name!r} is empty", fields={"attachments": "empty"})
    uploaded.seek(0)
    head = uploaded.read(32)
    uploaded.seek(0)
    ctype = sniff(head)
    if ctype is None:
        raise Invalid(f"文件「{name}」不是支持的类型（仅限 JPG、PNG、GIF、WebP、HEIC 照片和 PDF，按文件内容判断）",
                      f"File {name!r} is not an allowed type (photos or PDF, judged by content)",
                      code="file_type", fields={"attachments": "type"})
    return ctype


def store(complaint, uploaded, *, actor, content_type: str, customer_visible: bool, note: str = ""):
    """Write the file under ATTACHMENTS_DIR and create the Attachment row and its event.

    Call inside a transaction. A rollback leaves an orphan file without a row (harmless,
    never served); a row never points at a missing file.
    """
    from django.db import transaction

    from qingting.complaints.models import Attachment
    from qingting.complaints.services import record_event

    ext = ALLOWED[content_type]
    day = timezone.localdate()
    rel = Path(f"{day:%Y/%m}") / f"{uuid.uuid4().hex}.{ext}"
    target = Path(settings.ATTACHMENTS_DIR) / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    uploaded.seek(0)
    with open(target, "xb") as out:
        chunks = uploaded.chunks() if hasattr(uploaded, "chunks") else iter(lambda: uploaded.read(65536), b"")
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    att = Attachment.objects.create(complaint=complaint, uploaded_by=actor if getattr(actor, "pk", None) else None,
                                    filename=_name(uploaded), content_type=content_type, size=size,
                                    sha256=digest.hexdigest(), storage_name=str(rel), customer_visible=customer_visible)
    record_event(complaint, "attachment.added", actor=actor, customer_visible=customer_visible, note=note,
                 after={"attachment_id": att.pk, "filename": att.filename, "content_type": content_type, "size": size})
    return att


def add(complaint, uploaded, *, actor, customer_visible: bool, max_bytes: int | None = None, note: str = ""):
    """Check and store one file for `complaint` in its own transaction.

    Photos and PDFs only (the portal's policy, stricter than the workbench's); stored through
    `complaints.services.add_attachment` when the complaints app provides it (one durable
    transaction, file removed on failure), else here. E-mail intake calls `store` instead,
    inside its own transaction with the ProcessedMail row (exactly once).
    """
    from django.db import transaction

    from qingting.complaints import services

    ctype = check_upload(uploaded, max_bytes=max_bytes or settings.ATTACHMENT_MAX_BYTES)
    if hasattr(services, "add_attachment") and hasattr(uploaded, "chunks"):
        return services.add_attachment(complaint.number, actor=actor, uploaded_file=uploaded,
                                       customer_visible=customer_visible)
    with transaction.atomic():
        return store(complaint, uploaded, actor=actor, content_type=ctype, customer_visible=customer_visible,
                     note=note)
