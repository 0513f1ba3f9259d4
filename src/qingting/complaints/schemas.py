"""API schemas for complaints: ComplaintIn, ComplaintOut, ComplaintPatch, ComplaintFilters …"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from ninja import Schema
from pydantic import ConfigDict, Field


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class CustomerIn(Strict):
    name: str | None = Field(None, max_length=200)
    mobile: str | None = Field(None, max_length=40)
    email: str | None = Field(None, max_length=254)
    tags: list[str] = Field(default_factory=list, max_length=20)


class ComplaintIn(Strict):
    subject: str = Field(..., description="投诉简述 (≤ 200)")
    description: str = Field(..., description="投诉内容 (≤ 20,000)")
    channel: str = Field(..., description="phone in_person letter web email chat social regulator api import (或中文名)")
    priority: str | None = Field(None, description="P1–P4; omitted: from triage")
    received_at: dt.datetime | None = Field(None, description="ISO 8601 with offset; default now")
    customer: CustomerIn | None = None
    profile: str | None = Field(None, description="industry profile code: general auto4s finance ecommerce catering medical")
    about: dict[str, Any] | None = Field(None, description="the profile's fields (VIN, order number …)")
    department: str | None = None
    category: str | None = None
    assignee: str | None = None
    variant: str | None = Field(None, description="workflow variant code (default: the default workflow)")


class ComplaintPatch(Strict):
    subject: str | None = None
    description: str | None = None
    priority: str | None = None
    category: str | None = None
    department: str | None = None
    about: dict[str, Any] | None = None
    channel: str | None = None
    expected_version: int | None = None


class TransitionIn(Strict):
    to: str = Field(..., description="target step code, e.g. soothe, confirm, close")
    note: str | None = None
    owner: str | None = Field(None, description="username responsible for the new step (default: assignee)")
    category: str | None = None
    category_confirmed: bool | None = None
    facts: str | None = None
    action_plan: str | None = None
    resolution_type: str | None = Field(None, description="refund exchange repair apology compensation explanation other")
    resolution_amount: Decimal | None = None
    customer_answer: str | None = Field(None, description="accept partial reject (接受 部分接受 拒绝)")
    answer_reason: str | None = None
    root_cause: str | None = None
    lessons_learned: str | None = None
    override_reason: str | None = None
    reason: str | None = None
    message_to_customer: str | None = None
    expected_version: int | None = None


class AssignIn(Strict):
    assignee: str | None = None


class NoteIn(Strict):
    body: str


class MessageIn(Strict):
    body: str
    direction: Literal["in", "out"] = "out"
    channel: str | None = None


class EscalateIn(Strict):
    reason: str


class Ref(Schema):
    code: str
    name: str


class DeadlineOut(Schema):
    kind: str
    policy: str | None = None
    due_at: dt.datetime | None = None
    state: str
    remaining: Any = None


class ComplaintListItem(Schema):
    number: str
    subject: str
    channel: str
    priority: str
    received_at: dt.datetime
    step: Ref
    category: Ref | None = None
    department: Ref | None = None
    assignee: str | None = None
    customer_name: str
    closed_at: dt.datetime | None = None
    escalation_level: int = 0
    emotion: str | None = None
    emotion_intensity: float = 0.0
    persona: str | None = None
    suspected_malicious: bool = False


class ComplaintPage(Schema):
    items: list[ComplaintListItem]
    next: str | None = None


class ComplaintOut(Schema):
    number: str
    tracking_code: str
    channel: str
    channel_name: str
    received_at: dt.datetime
    created_at: dt.datetime
    updated_at: dt.datetime
    subject: str
    description: str
    customer: dict[str, Any]
    profile: Ref
    about: dict[str, Any]
    department: Ref | None = None
    category: dict[str, Any] | None = None
    category_confirmed: bool
    priority: str
    variant: Ref
    step: dict[str, Any]
    steps: list[dict[str, Any]]
    allowed_transitions: list[dict[str, Any]]
    assignee: str | None = None
    step_owner: str | None = None
    facts: str
    action_plan: str
    resolution_type: str | None = None
    resolution_amount: Decimal | None = None
    customer_answer: str | None = None
    refusal_count: int
    root_cause: str
    lessons_learned: str
    closed_at: dt.datetime | None = None
    reopen_count: int
    escalation_level: int
    escalated_to: str | None = None
    triage: dict[str, Any]
    version: int
    deadlines: list[DeadlineOut] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)


class EventOut(Schema):
    id: int
    at: dt.datetime
    kind: str
    actor: str | None = None
    before: dict[str, Any]
    after: dict[str, Any]
    note: str
    customer_visible: bool


class NoteOut(Schema):
    id: int
    author: str | None = None
    body: str
    created_at: dt.datetime


class MessageOut(Schema):
    id: int
    direction: str
    channel: str
    author: str | None = None
    body: str
    created_at: dt.datetime


class CategoryOut(Schema):
    code: str
    name: str
    parent: str | None = None
    profile: str | None = None
    level: int


class CustomerOut(Schema):
    id: int
    name: str
    mobile: str
    email: str
    tags: list[str]
    complaint_count: int | None = None
