"""Serving attachments: fetched through the access rules, sent as downloads, never inline."""
from __future__ import annotations

from django.http import FileResponse

from qingting.accounts import access
from qingting.core.errors import NotFound

from .models import Attachment
from .services import attachment_path


def visible_attachment(user, attachment_id) -> Attachment:
    """The attachment if `user` may see its complaint; NotFound otherwise (ids cannot be probed)."""
    try:
        pk = int(attachment_id)
    except (TypeError, ValueError):
        pk = None
    att = Attachment.objects.select_related("complaint").filter(pk=pk).first() if pk else None
    if att is None:
        raise NotFound("附件不存在或无权查看", "The attachment does not exist or is not visible to you")
    try:
        access.access_complaint(user, att.complaint.number)
    except NotFound:
        raise NotFound("附件不存在或无权查看", "The attachment does not exist or is not visible to you") from None
    return att


def file_response(att: Attachment) -> FileResponse:
    path = attachment_path(att)
    try:
        handle = open(path, "rb")
    except OSError:
        raise NotFound("附件文件已丢失", "The attachment's file is missing") from None
    response = FileResponse(handle, as_attachment=True, filename=att.filename, content_type=att.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


def attachment_dict(att: Attachment) -> dict:
    return {"id": att.pk, "filename": att.filename, "content_type": att.content_type, "size": att.size,
            "sha256": att.sha256, "customer_visible": att.customer_visible, "created_at": att.created_at,
            "uploaded_by": att.uploaded_by.username if att.uploaded_by_id else None}
