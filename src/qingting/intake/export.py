"""Export of complaint lists (CSV / XLSX), streamed, honouring access rules and masking.

Visibility: rows come from `access.complaints_for(user)` only.
Masking: customer mobile and e-mail are shown in full to supervisors, managers and
admins; agents and auditors get them masked (138****1234, z***@example.com) — agents
work from the complaint page, auditors review the handling, neither needs a contact
list. Every text cell is neutralised against formula injection (=, +, -, @, tab, CR
prefixes get a leading apostrophe), in CSV and XLSX alike.
"""
from __future__ import annotations

import csv


from qingting.accounts import access
from qingting.accounts.models import Role
from qingting.core.text import mask_mobile

FULL_CONTACT_ROLES = {Role.SUPERVISOR, Role.MANAGER, Role.ADMIN}
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def neutralise(value):
    """Make a cell safe for spreadsheets: text starting like a formula is prefixed with '."""
    if isinstance(value, str) and value.startswith(_DANGEROUS):
        return "'" + value
    return value


def mask_email(email: str) -> str:
    if not email or "@" not in email:
        return email or ""
    local, domain = email.split("@", 1)
    return (local[:1] + "***@" + domain) if local else "***@" + domain


def sees_contacts(user) -> bool:
    return access.role_of(user) in FULL_CONTACT_ROLES


HEADERS = ["投诉编号", "渠道", "受理时间", "客户", "手机", "邮箱", "投诉简述", "投诉类别", "优先级", "当前环节", "部门",
           "负责人", "办结时间"]
MAX_EXPORT_ROWS = 1_000_000


def rows_for(user, params: dict):
    """Yield export rows (lists) for the complaints `user` may see, filtered like the list API."""
    from django.utils import timezone

    from qingting.complaints import queries

    filters = queries.parse_filters({k: v for k, v in params.items() if k not in ("cursor", "limit")} | {"limit": 50})
    qs = (queries.filtered_complaints(user, filters)
          .select_related("customer", "category", "step", "department", "assignee")
          .only("number", "channel", "received_at", "subject", "priority", "closed_at", "customer__name",
                "customer__mobile", "customer__email", "category__name", "step__name", "department__name",
                "assignee__username", "assignee__display_name")
          .order_by("-received_at", "-id"))
    full = sees_contacts(user)
    channels = dict(__import__("qingting.complaints.models", fromlist=["Channel"]).Channel.choices)

    def fmt(when):
        return timezone.localtime(when).strftime("%Y-%m-%d %H:%M") if when else ""

    for i, c in enumerate(qs.iterator(chunk_size=2000)):
        if i >= MAX_EXPORT_ROWS:
            break
        cust = c.customer
        yield [neutralise(v) for v in (
            c.number, channels.get(c.channel, c.channel), fmt(c.received_at), cust.name,
            cust.mobile if full else mask_mobile(cust.mobile), cust.email if full else mask_email(cust.email),
            c.subject, c.category.name if c.category_id else "", c.priority, c.step.name,
            c.department.name if c.department_id else "", c.assignee.label if c.assignee_id else "",
            fmt(c.closed_at))]


class _Echo:
    def write(self, value):
        return value


def export_response(user, params: dict, fmt: str = "csv"):
    from django.http import FileResponse, StreamingHttpResponse
    from django.utils import timezone

    from qingting.core.errors import Invalid

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if fmt == "csv":
        writer = csv.writer(_Echo())

        def stream():
            yield "\ufeff"
            yield writer.writerow(HEADERS)
            for row in rows_for(user, params):
                yield writer.writerow(row)

        resp = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
        resp["Content-Disposition"] = f'attachment; filename="complaints-{stamp}.csv"'
        return resp
    if fmt == "xlsx":
        import tempfile

        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet("投诉单")
        ws.append(HEADERS)
        for row in rows_for(user, params):
            ws.append(row)
        tmp = tempfile.TemporaryFile(suffix=".xlsx")
        wb.save(tmp)
        tmp.seek(0)
        return FileResponse(tmp, as_attachment=True, filename=f"complaints-{stamp}.xlsx",
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    raise Invalid("导出格式只支持 csv 或 xlsx", "format must be csv or xlsx", fields={"format": "invalid"})
