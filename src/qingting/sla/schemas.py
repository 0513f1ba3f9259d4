"""API schemas of the SLA app."""
from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Schema
from pydantic import ConfigDict, Field


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class PauseIn(Strict):
    reason: str = Field(..., description="customer appraisal mediation third_party")
    note: str | None = None


class ResumeIn(Strict):
    note: str | None = None


class ExtensionIn(Strict):
    amount: float = Field(..., description="more time in the target's own unit (days, hours …)")
    reason: str


class DecisionIn(Strict):
    approve: bool
    note: str | None = None


class PromiseIn(Strict):
    name: str = Field(..., description="promise code from the policy, e.g. refund_48h")
    note: str | None = None


class DeadlineOut(Schema):
    id: int
    kind: str
    kind_name: str
    name: str
    label: str
    policy: str | None = None
    due_at: dt.datetime | None = None
    state: str
    remaining: dict[str, Any] | None = None
    at_risk: bool
    provisional: bool
    starts_at: dt.datetime
    met_at: dt.datetime | None = None
    pauses: list[dict[str, Any]]
    extensions: list[dict[str, Any]]


class ExtensionOut(Schema):
    id: int
    step: int
    amount: float
    reason: str
    status: str
    needs_approval: bool


class PreviewOut(Schema):
    policy: dict[str, Any] | None = None
    deadlines: list[dict[str, Any]]


class PanelRow(Schema):
    number: str
    subject: str
    priority: str
    kind: str
    label: str
    state: str
    due_at: dt.datetime
    seconds_left: int
    assignee: str | None = None
    escalated_to: str | None = None
