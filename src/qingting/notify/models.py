"""Notification endpoints, per-user preferences, the outbox (`Delivery`) and one
`DeliveryLog` row per attempt (what happened and when, always answerable)."""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from .channels import CHANNELS

CHANNEL_CHOICES = [(code, ch.LABEL) for code, ch in CHANNELS.items()]
EVENT_CHOICES = [
    ("deadline.at_risk", "时限预警"),
    ("deadline.breached", "超出办理时限"),
    ("complaint.escalated", "投诉升级"),
    ("deadline.extension_requested", "延期待审批"),
]


class Endpoint(models.Model):
    """Where notifications go: a group robot, a webhook receiver or a mailbox.

    A team endpoint (no owner) receives the events it subscribes to for complaints of its
    department subtree (all departments when empty). A personal endpoint (owner set) is
    used when that user's preferences pick its channel.
    """

    name = models.CharField("名称", max_length=100)
    channel = models.CharField("渠道", max_length=16, choices=CHANNEL_CHOICES)
    url = models.URLField("地址", max_length=500, blank=True, help_text="Webhook / 机器人地址；邮件渠道留空")
    address = models.CharField("收件邮箱", max_length=500, blank=True, help_text="邮件渠道：多个地址用逗号分隔")
    secret = models.CharField("签名密钥", max_length=200, blank=True)
    events = models.JSONField("订阅事件", default=list, blank=True, help_text="为空表示全部事件")
    department = models.ForeignKey("accounts.Department", null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="+", verbose_name="部门")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                              related_name="notify_endpoints", verbose_name="个人")
    timeout = models.FloatField("超时（秒）", default=5.0)
    active = models.BooleanField("启用", default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "通知端点"
        verbose_name_plural = "通知端点"

    def __str__(self):
        return f"{self.name} ({self.get_channel_display()})"

    def clean(self):
        ch = CHANNELS.get(self.channel)
        if ch is None:
            raise ValidationError({"channel": "未知渠道"})
        if self.timeout is None or not 0 < self.timeout <= 5:
            raise ValidationError({"timeout": "超时应在 0–5 秒之间，慢的端点不能拖住发送"})
        problem = ch.validate(self)
        if problem:
            raise ValidationError(problem)
        bad = [e for e in (self.events or []) if e not in dict(EVENT_CHOICES)]
        if bad:
            raise ValidationError({"events": f"未知事件：{', '.join(bad)}"})


class Preference(models.Model):
    """A user's choice: for this event, use (or do not use) this channel."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notify_preferences")
    event = models.CharField("事件", max_length=48, choices=EVENT_CHOICES)
    channel = models.CharField("渠道", max_length=16, choices=CHANNEL_CHOICES)
    enabled = models.BooleanField("接收", default=True)

    class Meta:
        verbose_name = "通知偏好"
        verbose_name_plural = "通知偏好"
        constraints = [models.UniqueConstraint(fields=["user", "event", "channel"], name="notify_pref_unique")]


class Delivery(models.Model):
    """One message to one destination (the outbox). Attempts are logged in DeliveryLog."""

    class Status(models.TextChoices):
        PENDING = "pending", "待发送"
        SENDING = "sending", "发送中"
        SENT = "sent", "已送达"
        FAILED = "failed", "失败"

    endpoint = models.ForeignKey(Endpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    channel = models.CharField(max_length=16)
    address = models.CharField(max_length=500, blank=True)
    event = models.CharField(max_length=48)
    complaint_number = models.CharField(max_length=32, blank=True)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "通知"
        verbose_name_plural = "通知"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]


class DeliveryLog(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="log")
    endpoint = models.ForeignKey(Endpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    event = models.CharField(max_length=48)
    attempt = models.PositiveSmallIntegerField()
    ok = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "发送记录"
        verbose_name_plural = "发送记录"
        indexes = [models.Index(fields=["delivery", "attempt"], name="deliverylog_attempt")]
