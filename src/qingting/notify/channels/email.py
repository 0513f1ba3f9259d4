"""E-mail through Django's configured SMTP backend (QINGTING_EMAIL_* settings)."""
from __future__ import annotations

CODE = "email"
LABEL = "电子邮件"


def validate(endpoint) -> str | None:
    return None if (endpoint.address or endpoint.owner_id) else "邮件端点需要收件地址"


def send(address: str, message: dict, *, timeout: float = 5.0) -> None:
    from django.conf import settings
    from django.core.mail import EmailMessage, get_connection

    recipients = [a.strip() for a in address.split(",") if a.strip()]
    if not recipients:
        raise ValueError("no recipient address")
    body = message["text"] + (f"\n\n{message['link']}" if message.get("link") else "")
    conn = get_connection(timeout=timeout) if "smtp" in settings.EMAIL_BACKEND else get_connection()
    EmailMessage(subject=f"[倾听] {message['title']}", body=body, from_email=settings.DEFAULT_FROM_EMAIL,
                 to=recipients, connection=conn).send(fail_silently=False)
