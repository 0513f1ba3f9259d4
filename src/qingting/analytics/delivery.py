"""Scheduled monthly delivery of reports to chosen recipients.

`deliver_monthly_reports()` is what the periodic jobs call (daily is fine): for every active
subscription that has not yet received last month's report, it claims the month with a
compare-and-set on `last_period` (two workers never send twice), builds the report and
sends it through `qingting.notify` when installed, else Django's e-mail. Every attempt is
a `ReportDelivery` row.
"""
from __future__ import annotations

import datetime as dt
import logging

from django.apps import apps
from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import timezone

from .models import ReportDelivery, ReportSubscription
from .reports import build_regulatory, build_report
from .scope import parse_scope

log = logging.getLogger(__name__)


def previous_month(today: dt.date) -> str:
    first = today.replace(day=1)
    last = first - dt.timedelta(days=1)
    return f"{last:%Y-%m}"


def _send(sub: ReportSubscription, subject: str, body: str, filename: str, content: bytes, mime: str) -> None:
    if apps.is_installed("qingting.notify"):
        try:
            from qingting.notify import services as notify  # type: ignore

            send = getattr(notify, "send_email", None)
            if send is not None:
                send(to=sub.recipient_list(), subject=subject, body=body,
                     attachments=[(filename, content, mime)])
                return
        except ImportError:
            pass
    msg = EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, sub.recipient_list())
    msg.attach(filename, content, mime)
    msg.send(fail_silently=False)


def deliver_monthly_reports(today: dt.date | None = None) -> int:
    today = today or timezone.localdate()
    period = previous_month(today)
    sent = 0
    for sub in ReportSubscription.objects.filter(active=True).exclude(last_period=period):
        claimed = ReportSubscription.objects.filter(pk=sub.pk, last_period=sub.last_period).update(
            last_period=period, last_sent_at=timezone.now())
        if claimed != 1:
            continue
        try:
            params = {"period": period}
            if sub.department_id:
                params["department"] = sub.department.code
            scope = parse_scope(None, params)
            builder = build_regulatory if sub.kind == ReportSubscription.Kind.REGULATORY else build_report
            content, name = builder(scope, sub.format, generated_at=timezone.now())
            mime = "application/pdf" if sub.format == "pdf" else \
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            title = f"{settings.QINGTING_ORG_NAME} {sub.get_kind_display()} {period}"
            _send(sub, title, f"附件为 {period} 的{sub.get_kind_display()}（{scope.period.start} 至 {scope.period.end}）。",
                  name, content, mime)
            ReportDelivery.objects.create(subscription=sub, period=period, ok=True)
            sent += 1
        except Exception as exc:  # record the failure; the next run retries
            log.exception("report delivery failed for subscription %s", sub.pk)
            ReportSubscription.objects.filter(pk=sub.pk, last_period=period).update(last_period=sub.last_period)
            ReportDelivery.objects.create(subscription=sub, period=period, ok=False, error=str(exc)[:2000])
    return sent
