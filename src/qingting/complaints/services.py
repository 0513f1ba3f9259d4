"""Every change to a complaint goes through one of these functions.

Each public function is one durable transaction: it checks access and rules, changes
the rows, writes the timeline event(s) with before/after values, and runs the hooks of
other apps inside the same transaction. Pages, API, CLI and tasks all call these.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from qingting.accounts import access
from qingting.accounts.models import Department, Role, User
from qingting.core.errors import Conflict, Invalid, NotFound, PermissionDenied
from qingting.core.text import normalise_email, normalise_mobile, search_keys

from . import hooks, reference, triage_link
from .models import (Category, Channel, Complaint, Customer, CustomerAnswer, Event, IdempotencyRecord,
                     Message, Note, NumberSequence, Priority, ResolutionType, Step, StepOwner,
                     Transition, WorkflowVariant)
from .profiles import validate_about
from .workflow import ESCALATE_AFTER_REFUSALS, GuardContext, check_guards

SUBJECT_MAX = 200
DESCRIPTION_MAX = 20_000
NOTE_MAX = 10_000
NAME_MAX = 100
AMOUNT_MAX = Decimal("100000000")
TRACKING_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

CHANNEL_ALIASES = {c.label: c.value for c in Channel} | {c.value: c.value for c in Channel}
ANSWER_ALIASES = {c.label: c.value for c in CustomerAnswer} | {c.value: c.value for c in CustomerAnswer}
RESOLUTION_ALIASES = {c.label: c.value for c in ResolutionType} | {c.value: c.value for c in ResolutionType}
PRIORITY_ALIASES = {p.value: p.value for p in Priority} | {p.value.lower(): p.value for p in Priority}


# ------------------------------------------------------------------ small validators

def clean_text(value, *, field: str, label: str, max_len: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Invalid(f"{label}必须是文本", f"{field} must be text", fields={field: "not text"})
    value = _CONTROL.sub("", value).strip()
    if required and not value:
        raise Invalid(f"{label}不能为空", f"{field} is required", fields={field: "required"})
    if len(value) > max_len:
        raise Invalid(f"{label}过长（最多 {max_len} 字，实际 {len(value)} 字）",
                      f"{field} is too long (at most {max_len} characters, got {len(value)})",
                      code="too_long", fields={field: f"max {max_len}"})
    return value


def parse_choice(value, aliases: dict, *, field: str, label: str) -> str:
    key = value.strip() if isinstance(value, str) else value
    if key not in aliases:
        allowed = "、".join(sorted({v for v in aliases.values()}))
        raise Invalid(f"{label}「{value}」无效，可选：{allowed}", f"Invalid {field} {value!r}; allowed: {allowed}",
                      fields={field: "invalid choice"})
    return aliases[key]


def parse_channel(value) -> str:
    return parse_choice(value, CHANNEL_ALIASES, field="channel", label="渠道")


def parse_priority(value) -> str:
    return parse_choice(value, PRIORITY_ALIASES, field="priority", label="优先级")


def parse_amount(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise Invalid("金额格式不正确", "resolution_amount is not a number", fields={"resolution_amount": "not a number"}) from None
    if not amount.is_finite() or amount < 0 or amount > AMOUNT_MAX:
        raise Invalid("金额必须在 0 到 1 亿元之间", "resolution_amount must be between 0 and 100,000,000",
                      fields={"resolution_amount": "out of range"})
    return amount.quantize(Decimal("0.01"))


def resolve_category(code) -> Category:
    if not isinstance(code, str) or not code.strip():
        raise Invalid("投诉类别无效", "category must be a category code", fields={"category": "invalid"})
    cat = reference.category(code.strip())
    if cat is None:
        raise Invalid(f"投诉类别「{code}」不存在", f"Unknown category {code!r}", fields={"category": "unknown"})
    return cat


def resolve_department(code) -> Department:
    dept = Department.objects.filter(code=str(code).strip()).first() if code else None
    if dept is None:
        raise Invalid(f"部门「{code}」不存在", f"Unknown department {code!r}", fields={"department": "unknown"})
    return dept


def resolve_user(username, *, field: str = "assignee") -> User:
    user = User.objects.filter(username=str(username).strip(), is_active=True).first() if username else None
    if user is None:
        raise Invalid(f"用户「{username}」不存在", f"Unknown user {username!r}", fields={field: "unknown"})
    if user.role == Role.AUDITOR:
        raise Invalid("审计角色不能负责投诉", "An auditor cannot be responsible for a complaint", fields={field: "auditor"})
    return user


def _aware(value) -> dt.datetime:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise Invalid("受理时间格式不正确（ISO 8601）", "received_at must be ISO 8601",
                          fields={"received_at": "invalid"}) from None
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    return value


# ------------------------------------------------------------------ events

def _event(complaint: Complaint, kind: str, *, actor, before=None, after=None, note: str = "",
           customer_visible: bool = False, at=None) -> Event:
    return Event(complaint=complaint, kind=kind, actor=actor if getattr(actor, "pk", None) else None,
                 before=before or {}, after=after or {}, note=note or "", customer_visible=customer_visible,
                 at=at or timezone.now())


def record_event(complaint: Complaint, kind: str, *, actor=None, before=None, after=None, note: str = "",
                 customer_visible: bool = False, at=None) -> Event:
    event = _event(complaint, kind, actor=actor, before=before, after=after, note=note,
                   customer_visible=customer_visible, at=at)
    event.save()
    return event


def record_events(complaint: Complaint, items: list[dict], *, actor=None, at=None) -> list[Event]:
    """Several events of one complaint in one insert; items: {kind, before?, after?, note?, customer_visible?}."""
    if not items:
        return []
    at = at or timezone.now()
    return Event.objects.bulk_create([_event(complaint, actor=actor, **{"at": at, **item}) for item in items])


def _touch(complaint: Complaint, fields: list[str]) -> None:
    complaint.updated_at = timezone.now()
    complaint.version = F("version") + 1
    complaint.save(update_fields=[*fields, "updated_at", "version"])
    complaint.refresh_from_db(fields=["version"])


def _refresh_search(complaint: Complaint) -> None:
    complaint.search_keys = search_keys(complaint.number, complaint.subject, complaint.description,
                                        complaint.customer.name if complaint.customer_id else "")


# ------------------------------------------------------------------ customers

def clean_customer_data(data: dict | None) -> dict:
    """Validate and normalise customer input: {name, mobile, email, tags}."""
    data = data or {}
    if not isinstance(data, dict):
        raise Invalid("客户信息必须是对象", "customer must be an object", fields={"customer": "not an object"})
    name = clean_text(data.get("name"), field="customer.name", label="客户姓名", max_len=NAME_MAX) or "匿名客户"
    mobile_raw = data.get("mobile") or ""
    if not isinstance(mobile_raw, str):
        raise Invalid("手机号必须是文本", "customer.mobile must be text", fields={"customer.mobile": "not text"})
    mobile = normalise_mobile(mobile_raw)
    if mobile_raw and not (5 <= len(mobile) <= 20):
        raise Invalid("手机号格式不正确", "customer.mobile is not a phone number", fields={"customer.mobile": "invalid"})
    if len(mobile) == 11 and mobile.startswith("1") and not re.fullmatch(r"1[3-9]\d{9}", mobile):
        raise Invalid("手机号格式不正确", "customer.mobile is not a valid mainland mobile number",
                      fields={"customer.mobile": "invalid"})
    email_raw = data.get("email") or ""
    if not isinstance(email_raw, str):
        raise Invalid("邮箱必须是文本", "customer.email must be text", fields={"customer.email": "not text"})
    email = normalise_email(email_raw)
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise Invalid("邮箱格式不正确", "customer.email is not an e-mail address", fields={"customer.email": "invalid"}) from None
    tags = data.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) and 0 < len(t) <= 32 for t in tags):
        raise Invalid("客户标签必须是文本列表", "customer.tags must be a list of short strings", fields={"customer.tags": "invalid"})
    return {"name": name, "mobile": mobile, "email": email, "tags": sorted(set(tags))}


def find_customer(clean: dict) -> Customer | None:
    """Customers are matched by normalised mobile, then e-mail; never by name."""
    customer = None
    if clean["mobile"]:
        customer = Customer.objects.with_mobile(clean["mobile"]).order_by("id").first()
    if customer is None and clean["email"]:
        customer = Customer.objects.with_email(clean["email"]).order_by("id").first()
    return customer


def match_or_create_customer(data: dict | None, *, clean: dict | None = None) -> Customer:
    clean = clean or clean_customer_data(data)
    customer = find_customer(clean)
    if customer is None:
        return Customer.objects.create(name=clean["name"], mobile=clean["mobile"], email=clean["email"],
                                       tags=clean["tags"])
    changed = []
    if clean["email"] and not customer.email:
        customer.email = clean["email"]
        changed.append("email")
    if clean["mobile"] and not customer.mobile:
        customer.mobile = clean["mobile"]
        changed.append("mobile")
    new_tags = sorted(set(customer.tags or []) | set(clean["tags"]))
    if new_tags != (customer.tags or []):
        customer.tags = new_tags
        changed.append("tags")
    if changed:
        customer.save(update_fields=changed)
    return customer


# ------------------------------------------------------------------ numbering

def _next_number(day: dt.date) -> str:
    """TSYYYYMMDD-NNNNNN, gap-free per day and unique under concurrency (row lock on the counter)."""
    return reserve_numbers(day, 1)[0]


def reserve_numbers(day: dt.date, count: int) -> list[str]:
    """Reserve `count` consecutive complaint numbers for `day` in one locked step.

    Must run inside the caller's transaction: the counter row stays locked until it commits.
    """
    return reserve_numbers_by_day({day: count}).get(day, [])


def reserve_numbers_by_day(counts: dict[dt.date, int]) -> dict[dt.date, list[str]]:
    """Consecutive complaint numbers for each day, gap-free, reserved in one statement (an
    upsert of the per-day counters; a bulk import of history spans many days).

    Days are locked in ascending order, so two imports cannot deadlock on the counters.
    Must run inside the caller's transaction: the counter rows stay locked until it commits.
    """
    days = sorted(day for day, n in counts.items() if n > 0)
    if not days:
        return {}
    table = NumberSequence._meta.db_table
    last_by_day: dict[dt.date, int] = {}
    with connection.cursor() as cur:
        for i in range(0, len(days), 400):
            part = days[i:i + 400]
            values = ", ".join(["(%s, %s)"] * len(part))
            cur.execute(f"INSERT INTO {table} (day, last) VALUES {values} "
                        f"ON CONFLICT (day) DO UPDATE SET last = {table}.last + excluded.last RETURNING day, last",
                        [x for day in part for x in (day, counts[day])])
            for day, last in cur.fetchall():
                last_by_day[day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day))] = last
    return {day: [f"TS{day:%Y%m%d}-{seq:06d}" for seq in range(last_by_day[day] - counts[day] + 1, last_by_day[day] + 1)]
            for day in days}


def new_tracking_code() -> str:
    return _tracking_code()


def _tracking_code() -> str:
    """12 characters of a 32-letter alphabet (60 random bits, 5 per character), as XXXX-XXXX-XXXX."""
    bits, a = secrets.randbits(60), TRACKING_ALPHABET
    raw = "".join([a[(bits >> shift) & 31] for shift in range(0, 60, 5)])
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def request_fingerprint(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def default_variant() -> WorkflowVariant:
    variant = reference.variant(None)
    if variant is None:
        raise Conflict("尚未配置处理流程（请运行 migrate）", "No workflow configured (run migrate)", code="no_workflow")
    return variant


# ------------------------------------------------------------------ create

def create_complaint(*, actor, subject, description, channel, priority=None, received_at=None, customer=None,
                     profile=None, about=None, department=None, category=None, assignee=None, variant=None,
                     idempotency_key: str | None = None, fingerprint: str | None = None) -> tuple[Complaint, bool]:
    """Register a complaint. Returns (complaint, created); created is False for an idempotent repeat."""
    if not access.may_write(actor):
        raise PermissionDenied("当前角色不能登记投诉", "Your role cannot register complaints")
    if idempotency_key is not None:
        idempotency_key = clean_text(idempotency_key, field="Idempotency-Key", label="幂等键", max_len=200, required=True)
        existing = _idempotent_replay(actor, idempotency_key, fingerprint)
        if existing is not None:
            return existing, False
    # Validation, look-ups and triage happen before the transaction opens: the write lock
    # (SQLite takes it at BEGIN) is held only for the inserts.
    prepared = _prepare_create(actor=actor, subject=subject, description=description, channel=channel,
                               priority=priority, received_at=received_at, customer=customer, profile=profile,
                               about=about, department=department, category=category, assignee=assignee,
                               variant=variant)
    try:
        with transaction.atomic(durable=True):
            complaint = _write_complaint(actor, prepared)
            if idempotency_key is not None:
                IdempotencyRecord.objects.create(user=actor, key=idempotency_key, request_hash=fingerprint or "",
                                                 complaint=complaint)
            return complaint, True
    except IntegrityError:
        if idempotency_key is not None:
            existing = _idempotent_replay(actor, idempotency_key, fingerprint)
            if existing is not None:
                return existing, False
        raise


def _idempotent_replay(actor, key: str, fingerprint: str | None) -> Complaint | None:
    record = IdempotencyRecord.objects.filter(user=actor, key=key).select_related("complaint").first()
    if record is None:
        return None
    if fingerprint is not None and record.request_hash != fingerprint:
        raise Conflict("该幂等键已用于另一份不同内容的请求", "This Idempotency-Key was already used with a different request body",
                       code="idempotency_conflict")
    return record.complaint


def _prepare_create(*, actor, subject, description, channel, priority, received_at, customer, profile, about,
                    department, category, assignee, variant) -> dict:
    now = timezone.now()
    subject = clean_text(subject, field="subject", label="投诉简述", max_len=SUBJECT_MAX, required=True)
    description = clean_text(description, field="description", label="投诉内容", max_len=DESCRIPTION_MAX, required=True)
    channel = parse_channel(channel)
    received = _aware(received_at) if received_at else now
    if received > now + dt.timedelta(minutes=5):
        raise Invalid("受理时间不能晚于当前时间", "received_at cannot be in the future", fields={"received_at": "future"})
    if received < now - dt.timedelta(days=365 * 20):
        raise Invalid("受理时间过早", "received_at is too far in the past", fields={"received_at": "too old"})
    if profile:
        profile_obj = reference.profile(str(profile))
        if profile_obj is None:
            raise Invalid(f"行业配置「{profile}」不存在", f"Unknown profile {profile!r}", fields={"profile": "unknown"})
    else:
        profile_obj = reference.profile("general")
        if profile_obj is None:
            raise Conflict("尚未配置行业（请运行 migrate）", "No industry profile configured (run migrate)", code="no_profile")
    about_clean = validate_about(profile_obj, about)
    dept = resolve_department(department) if department else (actor.department if getattr(actor, "department_id", None) else None)
    cat = resolve_category(category) if category else None
    owner = resolve_user(assignee) if assignee else None
    variant_obj = reference.variant(str(variant)) if variant else default_variant()
    if variant_obj is None:
        raise Invalid(f"处理流程「{variant}」不存在", f"Unknown workflow {variant!r}", fields={"variant": "unknown"})
    customer_clean = clean_customer_data(customer)
    known = find_customer(customer_clean)
    analysis = triage_link.analyze_complaint(subject=subject, description=description, channel=channel,
                                             profile=profile_obj.code, customer=known)
    if priority:
        prio = parse_priority(priority)
    else:
        prio = analysis.get("priority", {}).get("code") if isinstance(analysis.get("priority"), dict) else None
        prio = prio if prio in PRIORITY_ALIASES else Priority.P3
    if cat is None:
        cat = triage_link.suggested_category(analysis, profile_obj.code)
    return {"subject": subject, "description": description, "channel": channel, "received_at": received,
            "profile": profile_obj, "about": about_clean, "department": dept, "category": cat, "assignee": owner,
            "variant": variant_obj, "first_step": reference.first_step(variant_obj), "customer": customer_clean,
            "triage": analysis, "priority": prio}


def _write_complaint(actor, p: dict) -> Complaint:
    now = timezone.now()
    cust = match_or_create_customer(None, clean=p["customer"])
    first_step, owner, dept, cat = p["first_step"], p["assignee"], p["department"], p["category"]
    complaint = Complaint(
        number=_next_number(timezone.localdate(now)), tracking_code=_tracking_code(), channel=p["channel"],
        received_at=p["received_at"], created_at=now, updated_at=now, created_by=actor if actor.pk else None,
        customer=cust, subject=p["subject"], description=p["description"], profile=p["profile"], about=p["about"],
        department=dept, category=cat, category_confirmed=False, priority=p["priority"], variant=p["variant"],
        step=first_step, assignee=owner, triage=p["triage"])
    _denormalise_triage(complaint)
    _refresh_search(complaint)
    complaint.save()
    _write_flags(complaint, new=True)
    StepOwner.objects.create(complaint=complaint, step=first_step, owner=owner, started_at=now)
    analysis = p["triage"]
    events = [Event(complaint=complaint, kind="complaint.created", actor=actor if actor.pk else None, at=now,
                    after={"number": complaint.number, "channel": p["channel"], "priority": p["priority"],
                           "step": first_step.code, "received_at": p["received_at"].isoformat(),
                           "department": dept.code if dept else None, "category": cat.code if cat else None,
                           "assignee": owner.username if owner else None, "customer_id": cust.pk},
                    customer_visible=True, note=first_step.customer_text)]
    if analysis:
        prio = analysis.get("priority")
        events.append(Event(complaint=complaint, kind="triage.analyzed", at=now, after={
            "version": analysis.get("model_version") or analysis.get("version"),
            "priority": prio.get("code") if isinstance(prio, dict) else None}))
    Event.objects.bulk_create(events)
    for hook in hooks.on_created:
        hook(complaint, actor)
    return complaint


# ------------------------------------------------------------------ update

UPDATABLE = ("subject", "description", "priority", "category", "department", "about", "channel")


def update_complaint(number: str, *, actor, changes: dict, expected_version: int | None = None) -> Complaint:
    """Change plain fields (never the step: that is `transition_complaint`)."""
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise Invalid("以下字段不能修改：" + "、".join(sorted(unknown)), "These fields cannot be changed here: " +
                      ", ".join(sorted(unknown)), fields={k: "not updatable" for k in unknown})
    with transaction.atomic(durable=True):
        c = access.access_complaint(actor, number, write=True, for_update=True)
        _check_version(c, expected_version)
        if c.is_closed:
            raise Conflict("投诉已办结，需先重新打开才能修改", "The complaint is closed; reopen it first", code="closed")
        before, after, fields = {}, {}, []
        for key, value in changes.items():
            if key == "subject":
                new = clean_text(value, field="subject", label="投诉简述", max_len=SUBJECT_MAX, required=True)
                old = c.subject
            elif key == "description":
                new = clean_text(value, field="description", label="投诉内容", max_len=DESCRIPTION_MAX, required=True)
                old = c.description
            elif key == "priority":
                new, old = parse_priority(value), c.priority
            elif key == "channel":
                new, old = parse_channel(value), c.channel
            elif key == "category":
                cat = resolve_category(value)
                new, old = cat.code, c.category.code if c.category_id else None
                if new != old:
                    c.category, c.category_confirmed = cat, True
                    fields += ["category", "category_confirmed"]
                    before[key], after[key] = old, new
                    _record_training_label(c, cat, actor)
                continue
            elif key == "department":
                dept = resolve_department(value)
                new, old = dept.code, c.department.code if c.department_id else None
                if new != old:
                    c.department = dept
                    fields.append("department")
                    before[key], after[key] = old, new
                continue
            elif key == "about":
                new, old = validate_about(c.profile, value), c.about
            else:  # pragma: no cover - guarded above
                continue
            if new != old:
                setattr(c, key, new)
                fields.append(key)
                before[key], after[key] = old, new
        if not fields:
            return c
        if "subject" in fields or "description" in fields:
            _refresh_search(c)
            fields.append("search_keys")
            c.triage = triage_link.analyze_complaint(subject=c.subject, description=c.description, channel=c.channel,
                                                     profile=c.profile.code, customer=c.customer)
            fields += ["triage", *_denormalise_triage(c)]
            _write_flags(c)
        _touch(c, sorted(set(fields)))
        record_event(c, "complaint.updated", actor=actor, before=before, after=after)
        _run_updated_hooks(c, {k: (before[k], after[k]) for k in after}, actor)
        return c


TRIAGE_FIELDS = ["emotion", "emotion_intensity", "persona", "suspected_malicious"]


def _denormalise_triage(c: Complaint) -> list[str]:
    """Copy the labels queues filter on out of the triage snapshot (defensively: it may be empty)."""
    for name, value in triage_link.triage_columns(c.triage).items():
        setattr(c, name, value)
    return TRIAGE_FIELDS


def _write_flags(c: Complaint, *, new: bool = False) -> None:
    from .models import ComplaintFlag

    if not new:
        ComplaintFlag.objects.filter(complaint=c).delete()
    ComplaintFlag.objects.bulk_create([ComplaintFlag(complaint=c, kind=k, code=code, score=score)
                                       for k, code, score in triage_link.triage_flags(c.triage)])


def retriage_complaint(number: str, *, actor) -> Complaint:
    """Re-run triage on demand (e.g. after the lexicons or the model changed)."""
    with transaction.atomic(durable=True):
        c = access.access_complaint(actor, number, write=True, for_update=True)
        before = {"priority_suggested": (c.triage or {}).get("priority", {}).get("code")
                  if isinstance((c.triage or {}).get("priority"), dict) else None,
                  "version": (c.triage or {}).get("model_version")}
        c.triage = triage_link.analyze_complaint(subject=c.subject, description=c.description, channel=c.channel,
                                                 profile=c.profile.code, customer=c.customer)
        _touch(c, ["triage", *_denormalise_triage(c)])
        _write_flags(c)
        prio = c.triage.get("priority") if isinstance(c.triage, dict) else None
        record_event(c, "triage.analyzed", actor=actor, before=before, after={
            "priority_suggested": prio.get("code") if isinstance(prio, dict) else None,
            "version": c.triage.get("model_version") if isinstance(c.triage, dict) else None, "on_demand": True})
        return c


def _record_training_label(complaint, category, actor) -> None:
    """An agent correcting the category is a training label for the triage model."""
    suggested = (complaint.triage or {}).get("category", {}) if isinstance(complaint.triage, dict) else {}
    triage_link.record_label(complaint, category, actor, suggested)


def _check_version(c: Complaint, expected_version) -> None:
    if expected_version is not None and c.version != expected_version:
        raise Conflict(f"投诉单已被他人修改（当前版本 {c.version}），请刷新后重试",
                       f"The complaint was changed by someone else (now version {c.version}); reload and retry",
                       code="version_conflict", fields={"version": c.version})


# ------------------------------------------------------------------ transitions

STEP_DATA_KEYS = {"note", "owner", "category", "category_confirmed", "facts", "action_plan", "resolution_type",
                  "resolution_amount", "customer_answer", "answer_reason", "root_cause", "lessons_learned",
                  "override_reason", "reason", "message_to_customer", "expected_version"}


def transition_complaint(number: str, *, actor, to: str, data: dict | None = None) -> Complaint:
    """Move a complaint to step `to`, applying the step's data; guards decide (409/422)."""
    data = dict(data or {})
    unknown = set(data) - STEP_DATA_KEYS
    if unknown:
        raise Invalid("未知字段：" + "、".join(sorted(unknown)), "Unknown fields: " + ", ".join(sorted(unknown)),
                      fields={k: "unknown" for k in unknown})
    if not isinstance(to, str) or not to.strip():
        raise Invalid("需要目标环节（to）", "The target step (to) is required", fields={"to": "required"})
    with transaction.atomic(durable=True):
        c = access.access_complaint(actor, number, write=True, for_update=True)
        _check_version(c, data.pop("expected_version", None))
        target = Step.objects.filter(variant=c.variant_id).filter(code=to.strip()).first() or \
            Step.objects.filter(variant=c.variant_id, name=to.strip()).first()
        if target is None:
            codes = "、".join(c.variant.steps.order_by("position").values_list("code", flat=True))
            raise Invalid(f"环节「{to}」不存在，可选：{codes}", f"Unknown step {to!r}; steps: {codes}",
                          code="unknown_step", fields={"to": "unknown"})
        transition = Transition.objects.filter(from_step=c.step, to_step=target).first()
        if transition is None:
            allowed = [f"{t.to_step.code}（{t.to_step.name}）" for t in
                       Transition.objects.filter(from_step=c.step).select_related("to_step").order_by("to_step__position")]
            raise Conflict(f"不能从「{c.step.name}」直接转到「{target.name}」；可转到：{'、'.join(allowed) or '无'}",
                           f"Cannot move from {c.step.code} to {target.code}; allowed next steps: "
                           f"{', '.join(allowed) or 'none'}", code="transition_not_allowed",
                           fields={"from": c.step.code, "to": target.code})
        role = access.role_of(actor)
        if transition.roles and role not in transition.roles:
            raise PermissionDenied(f"只有 {'、'.join(transition.roles)} 可以执行此操作",
                                   f"Only {', '.join(transition.roles)} may do this", code="role_required")
        before = _snapshot(c)
        owner = resolve_user(data["owner"], field="owner") if data.get("owner") else c.assignee
        _apply_step_data(c, data, actor)
        problems = check_guards(list(transition.guards), GuardContext(c, data, actor))
        override = None
        if problems:
            reason = (data.get("override_reason") or "").strip()
            may_override = role in (transition.override_roles or [])
            if reason and may_override:
                override = {"reason": reason, "skipped": [p.code for p in problems]}
            else:
                hint_zh = "；或由主管填写 override_reason 越过" if transition.override_roles else ""
                hint_en = "; or a supervisor may override with override_reason" if transition.override_roles else ""
                raise Invalid(f"进入「{target.name}」前还缺少：" + "；".join(p.zh for p in problems) + hint_zh,
                              f"Before {target.code}: " + "; ".join(p.en for p in problems) + hint_en,
                              code="guard_failed", problems=problems,
                              fields={p.field or p.code: p.code for p in problems})
        old_step = c.step
        now = timezone.now()
        c.step = target
        if target.is_final:
            c.closed_at = now
        if transition.kind == Transition.Kind.REOPEN:
            c.closed_at = None
            c.reopen_count += 1
        if transition.counts_as_refusal:
            c.refusal_count += 1
        _touch(c, _STEP_FIELDS)
        _enter_step(c, old_step, target, owner, now)
        kind = {"reopen": "step.reopened", "back": "step.returned"}.get(transition.kind, "step.advanced")
        after = _snapshot(c) | {"transition": transition.kind}
        if override:
            after["override"] = override
        record_event(c, kind, actor=actor, before=before, after=after, note=data.get("note") or data.get("reason") or "",
                     customer_visible=bool(target.customer_text), at=now)
        if data.get("message_to_customer"):
            _add_message(c, actor, data["message_to_customer"], direction=Message.Direction.OUTBOUND)
        for hook in hooks.on_step_changed:
            hook(c, old_step, target, actor, transition.kind)
        # A refusal at 谈判认可 goes straight back to 迅速行动 and counts toward escalation.
        if target.code == "negotiate" and c.customer_answer == CustomerAnswer.REJECT:
            _return_after_refusal(c, actor, data.get("answer_reason") or "客户拒绝解决方案")
        elif transition.counts_as_refusal:
            _maybe_escalate_after_refusals(c, actor)
        return c


_STEP_FIELDS = ["step", "closed_at", "reopen_count", "refusal_count", "category", "category_confirmed", "facts",
                "action_plan", "resolution_type", "resolution_amount", "customer_answer", "root_cause",
                "lessons_learned"]


def _snapshot(c: Complaint) -> dict:
    return {"step": c.step.code, "category": c.category.code if c.category_id else None,
            "category_confirmed": c.category_confirmed, "resolution_type": c.resolution_type or None,
            "resolution_amount": str(c.resolution_amount) if c.resolution_amount is not None else None,
            "customer_answer": c.customer_answer or None, "refusal_count": c.refusal_count,
            "closed_at": c.closed_at.isoformat() if c.closed_at else None, "reopen_count": c.reopen_count,
            "facts": c.facts[:500], "action_plan": c.action_plan[:500], "root_cause": c.root_cause[:500],
            "lessons_learned": c.lessons_learned[:500]}


def _apply_step_data(c: Complaint, data: dict, actor) -> None:
    if "category" in data and data["category"] not in (None, ""):
        cat = resolve_category(data["category"])
        if c.category_id != cat.pk:
            _record_training_label(c, cat, actor)
        c.category, c.category_confirmed = cat, True
    elif data.get("category_confirmed") is True and c.category_id:
        c.category_confirmed = True
    for key, label, limit in (("facts", "核实情况", DESCRIPTION_MAX), ("action_plan", "处理方案", DESCRIPTION_MAX),
                              ("root_cause", "根本原因", NOTE_MAX), ("lessons_learned", "经验教训", NOTE_MAX),
                              ("note", "说明", NOTE_MAX), ("reason", "原因", NOTE_MAX),
                              ("override_reason", "越过理由", NOTE_MAX), ("answer_reason", "客户意见说明", NOTE_MAX),
                              ("message_to_customer", "给客户的消息", NOTE_MAX)):
        if key in data and data[key] is not None:
            value = clean_text(data[key], field=key, label=label, max_len=limit)
            data[key] = value
            if key in ("facts", "action_plan", "root_cause", "lessons_learned") and value:
                setattr(c, key, value)
    if data.get("resolution_type"):
        c.resolution_type = parse_choice(data["resolution_type"], RESOLUTION_ALIASES, field="resolution_type", label="解决方式")
    if "resolution_amount" in data:
        c.resolution_amount = parse_amount(data["resolution_amount"])
    if data.get("customer_answer"):
        c.customer_answer = parse_choice(data["customer_answer"], ANSWER_ALIASES, field="customer_answer", label="客户意见")


def _enter_step(c: Complaint, old_step: Step, new_step: Step, owner, now) -> None:
    StepOwner.objects.filter(complaint=c, step=old_step, completed_at__isnull=True).update(completed_at=now)
    updated = StepOwner.objects.filter(complaint=c, step=new_step).update(owner=owner, started_at=now, completed_at=None)
    if not updated:
        StepOwner.objects.create(complaint=c, step=new_step, owner=owner, started_at=now)


def _return_after_refusal(c: Complaint, actor, reason: str) -> None:
    act = Step.objects.filter(variant=c.variant_id, code="act").first()
    if act is None:
        return
    before = _snapshot(c)
    old_step = c.step
    c.step = act
    c.refusal_count += 1
    c.customer_answer = ""
    _touch(c, ["step", "refusal_count", "customer_answer"])
    _enter_step(c, old_step, act, c.assignee, timezone.now())
    record_event(c, "resolution.refused", actor=actor, before=before, after=_snapshot(c) | {"transition": "back"},
                 note=reason)
    for hook in hooks.on_step_changed:
        hook(c, old_step, act, actor, "back")
    _maybe_escalate_after_refusals(c, actor)


def _maybe_escalate_after_refusals(c: Complaint, actor) -> None:
    if c.refusal_count >= ESCALATE_AFTER_REFUSALS and c.escalation_level == 0:
        _escalate(c, actor, reason=f"客户已拒绝解决方案 {c.refusal_count} 次", trigger="refused_twice")


# ------------------------------------------------------------------ escalation, assignment

def escalate_complaint(number: str, *, actor, reason: str) -> Complaint:
    reason = clean_text(reason, field="reason", label="升级原因", max_len=NOTE_MAX, required=True)
    with transaction.atomic(durable=True):
        c = access.access_complaint(actor, number, write=True, for_update=True)
        if c.is_closed:
            raise Conflict("投诉已办结，不能升级", "The complaint is closed and cannot be escalated", code="closed")
        _escalate(c, actor, reason=reason, trigger="manual")
        return c


def _escalate(c: Complaint, actor, *, reason: str, trigger: str) -> User | None:
    """Escalate to the direct supervisor, then the next level up. Returns who it went to."""
    if c.escalation_level == 0:
        target = access.direct_supervisor(c.department, exclude=actor if getattr(actor, "pk", None) else None) \
            or access.next_level_up(c.department)
    else:
        target = access.next_level_up(c.department)
    if target is None:
        raise Conflict("找不到可升级的主管或管理层", "No supervisor or manager to escalate to", code="no_escalation_target")
    before = {"escalation_level": c.escalation_level, "escalated_to": c.escalated_to.username if c.escalated_to_id else None}
    c.escalation_level += 1
    c.escalated_to = target
    _touch(c, ["escalation_level", "escalated_to"])
    record_event(c, "complaint.escalated", actor=actor, before=before,
                 after={"escalation_level": c.escalation_level, "escalated_to": target.username, "trigger": trigger},
                 note=reason)
    _run_updated_hooks(c, {"escalation_level": (before["escalation_level"], c.escalation_level),
                           "escalated_to": (before["escalated_to"], target.username)}, actor)
    return target


def _run_updated_hooks(c: Complaint, changes: dict, actor) -> None:
    for hook in hooks.on_updated:
        hook(c, changes, actor)


def assign_complaint(number: str, *, actor, assignee: str | None, step_owner: bool = True) -> Complaint:
    with transaction.atomic(durable=True):
        c = access.access_complaint(actor, number, write=True, for_update=True)
        new = resolve_user(assignee) if assignee else None
        if access.role_of(actor) == Role.AGENT and new is not None and new.pk != actor.pk:
            raise PermissionDenied("投诉专员只能把投诉分派给自己，分派给他人需主管操作",
                                   "Agents may only assign complaints to themselves; ask a supervisor")
        old = c.assignee
        if (old.pk if old else None) == (new.pk if new else None):
            return c
        c.assignee = new
        _touch(c, ["assignee"])
        if step_owner:
            StepOwner.objects.filter(complaint=c, step=c.step).update(owner=new)
        record_event(c, "complaint.assigned", actor=actor, before={"assignee": old.username if old else None},
                     after={"assignee": new.username if new else None})
        _run_updated_hooks(c, {"assignee": (old.username if old else None, new.username if new else None)}, actor)
        return c


# ------------------------------------------------------------------ notes, messages

def add_note(number: str, *, actor, body: str) -> Note:
    body = clean_text(body, field="body", label="备注", max_len=NOTE_MAX, required=True)
    with transaction.atomic(durable=True):
        c = access.access_complaint(actor, number, write=True, for_update=True)
        note = Note.objects.create(complaint=c, author=actor, body=body)
        _touch(c, [])
        record_event(c, "note.added", actor=actor, after={"note_id": note.pk}, note=body)
        return note


def add_message(number: str, *, actor, body: str, direction: str = "out", channel: str | None = None) -> Message:
    with transaction.atomic(durable=True):
        c = access.access_complaint(actor, number, write=True, for_update=True)
        return _add_message(c, actor, body, direction=direction, channel=channel)


def record_message(complaint: Complaint, *, actor, body: str, direction: str, channel: str | None = None) -> Message:
    """Add a message for a caller that already holds the complaint row in its own transaction
    (e-mail intake stores the message and its ProcessedMail row in one transaction)."""
    return _add_message(complaint, actor, body, direction=direction, channel=channel)


def _add_message(c: Complaint, actor, body: str, *, direction: str, channel: str | None = None) -> Message:
    body = clean_text(body, field="body", label="消息", max_len=NOTE_MAX, required=True)
    if direction not in (Message.Direction.INBOUND, Message.Direction.OUTBOUND):
        raise Invalid("消息方向无效", "direction must be 'in' or 'out'", fields={"direction": "invalid"})
    msg = Message.objects.create(complaint=c, direction=direction, channel=parse_channel(channel) if channel else c.channel,
                                 author=actor if getattr(actor, "pk", None) else None, body=body)
    _touch(c, [])
    record_event(c, "message.sent" if direction == "out" else "message.received", actor=actor,
                 after={"message_id": msg.pk, "channel": msg.channel}, note=body, customer_visible=True)
    _run_updated_hooks(c, {"message": (None, direction)}, actor)
    return msg




# ------------------------------------------------------------------ attachments

# Allowed kinds: (content type, extensions the file name may carry). The kind is decided by the
# file's bytes (magic numbers), never by its name or the browser's Content-Type.
ATTACHMENT_KINDS = {
    "jpeg": ("image/jpeg", {"jpg", "jpeg", "jfif"}),
    "png": ("image/png", {"png"}),
    "gif": ("image/gif", {"gif"}),
    "webp": ("image/webp", {"webp"}),
    "pdf": ("application/pdf", {"pdf"}),
    "text": ("text/plain; charset=utf-8", {"txt", "csv", "log", "md"}),
    "mp3": ("audio/mpeg", {"mp3"}),
    "m4a": ("audio/mp4", {"m4a", "mp4", "aac"}),
    "amr": ("audio/amr", {"amr"}),
    "wav": ("audio/wav", {"wav"}),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", {"docx"}),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", {"xlsx"}),
}
_IMAGE_KINDS = {"jpeg", "png", "gif", "webp"}
_M4A_BRANDS = {b"M4A ", b"M4B ", b"mp42", b"isom", b"mp41", b"iso2", b"3gp4", b"3gp5"}
FILENAME_MAX = 255


def _sniff_kind(head: bytes) -> str | None:
    """The attachment kind from the first bytes, or None (text and zip are checked further)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"#!AMR"):
        return "amr"
    if head.startswith(b"ID3") or (len(head) > 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0
                                   and head[1] & 0x06 != 0 and head[2] & 0xF0 != 0xF0):
        return "mp3"
    if head[4:8] == b"ftyp" and head[8:12] in _M4A_BRANDS:
        return "m4a"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    return None


def _office_kind(path) -> str | None:
    """docx / xlsx: a zip holding [Content_Types].xml and the main part; macros refused."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist()[:5000])
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    if "[Content_Types].xml" not in names or any(n.lower().endswith("vbaproject.bin") for n in names):
        return None
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "xlsx"
    return None


def _is_plain_text(path) -> bool:
    """UTF-8 (or GB18030, common from Chinese Windows) without control characters other than tab/newlines."""
    import codecs

    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with open(path, "rb") as fh:
                while chunk := fh.read(65536):
                    text = decoder.decode(chunk)
                    if _TEXT_BAD.search(text):
                        return False
                decoder.decode(b"", final=True)
            return True
        except UnicodeDecodeError:
            continue
    return False


_TEXT_BAD = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def clean_filename(name) -> str:
    import os

    name = os.path.basename(str(name or "").replace("\\", "/"))
    name = _CONTROL.sub("", name).replace('"', "'").strip().strip(".") or "attachment"
    if len(name) > FILENAME_MAX:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: FILENAME_MAX - len(ext) - 1] + "." + ext) if dot and len(ext) <= 10 else name[:FILENAME_MAX]
    return name


def add_attachment(number: str, *, actor, uploaded_file, customer_visible: bool = False):
    """Store an uploaded file for a complaint after checking size and type by its bytes.

    The file goes to ATTACHMENTS_DIR/<yyyy>/<mm>/<uuid> (outside the web root); the row and the
    `attachment.added` event are written in one transaction; a failure removes the file again.
    """
    import os
    import uuid

    from django.conf import settings

    from qingting.core.errors import TooLarge

    from .models import Attachment

    access.access_complaint(actor, number, write=True)  # refuse before anything touches the disk
    if uploaded_file is None:
        raise Invalid("请选择要上传的文件", "No file uploaded", fields={"file": "required"})
    limit = int(settings.ATTACHMENT_MAX_BYTES)
    declared = getattr(uploaded_file, "size", None)
    if declared is not None and declared > limit:
        raise TooLarge(f"文件过大（最大 {limit // (1024 * 1024)} MB）", f"File too large (at most {limit} bytes)",
                       fields={"file": "too large"})
    filename = clean_filename(getattr(uploaded_file, "name", ""))
    ext = filename.rpartition(".")[2].lower() if "." in filename else ""
    now = timezone.now()
    folder = settings.ATTACHMENTS_DIR / f"{now:%Y}" / f"{now:%m}"
    folder.mkdir(parents=True, exist_ok=True)
    storage_name = f"{now:%Y}/{now:%m}/{uuid.uuid4().hex}"
    final_path = settings.ATTACHMENTS_DIR / storage_name
    part_path = final_path.with_name(final_path.name + ".part")
    digest, size, head = hashlib.sha256(), 0, b""
    try:
        with open(part_path, "xb") as out:
            os.chmod(part_path, 0o600)
            for chunk in uploaded_file.chunks():
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"文件过大（最大 {limit // (1024 * 1024)} MB）",
                                   f"File too large (at most {limit} bytes)", fields={"file": "too large"})
                if len(head) < 64:
                    head += chunk[: 64 - len(head)]
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise Invalid("文件是空的", "The file is empty", fields={"file": "empty"})
        kind = _sniff_kind(head)
        if kind == "zip":
            kind = _office_kind(part_path)
        elif kind is None and ext in ATTACHMENT_KINDS["text"][1] and _is_plain_text(part_path):
            kind = "text"
        if kind is None:
            raise Invalid("不支持的文件类型：仅接受图片（jpg/png/gif/webp）、PDF、纯文本、录音（mp3/m4a/amr/wav）、"
                          "Word（docx）和 Excel（xlsx）；文件内容与类型须一致",
                          "Unsupported file type: only images (jpg/png/gif/webp), PDF, plain text, recordings "
                          "(mp3/m4a/amr/wav), docx and xlsx are accepted, judged by the file's content",
                          code="unsupported_type", fields={"file": "unsupported type"})
        content_type, extensions = ATTACHMENT_KINDS[kind]
        allowed_ext = set().union(*(ATTACHMENT_KINDS[k][1] for k in _IMAGE_KINDS)) if kind in _IMAGE_KINDS else extensions
        if ext not in allowed_ext:
            raise Invalid(f"文件扩展名「.{ext}」与内容（{kind}）不符", f"The extension .{ext} does not match the content ({kind})",
                          code="extension_mismatch", fields={"file": "extension mismatch"})
        os.replace(part_path, final_path)
        with transaction.atomic(durable=True):
            c = access.access_complaint(actor, number, write=True, for_update=True)
            att = Attachment.objects.create(complaint=c, uploaded_by=actor if getattr(actor, "pk", None) else None,
                                            filename=filename, content_type=content_type, size=size,
                                            sha256=digest.hexdigest(), storage_name=storage_name,
                                            customer_visible=bool(customer_visible), created_at=now)
            _touch(c, [])
            record_event(c, "attachment.added", actor=actor, after={
                "attachment_id": att.pk, "filename": filename, "content_type": content_type, "size": size,
                "sha256": att.sha256}, customer_visible=bool(customer_visible))
        return att
    except BaseException:
        part_path.unlink(missing_ok=True)
        final_path.unlink(missing_ok=True)
        raise


def attachment_path(attachment):
    """The file on disk of an attachment row (never outside ATTACHMENTS_DIR)."""
    from django.conf import settings

    root = settings.ATTACHMENTS_DIR.resolve()
    path = (root / attachment.storage_name).resolve()
    if root not in path.parents:
        raise NotFound("附件不存在", "No such attachment")
    return path


# ------------------------------------------------------------------ SLA (public wrapper for qingting.sla)

def escalate_for_sla(complaint_id: int, *, trigger: str, reason: str) -> User | None:
    """Escalate on behalf of the SLA rules (no human actor): direct supervisor first, then the
    next level up. Opens its own (nestable) transaction and locks the row; returns who it went
    to, or None when the complaint is closed/missing or nobody is above. The
    `complaint.escalated` event carries `trigger` (e.g. `sla_breach`, `p1`, `crisis_signal`)."""
    try:
        with transaction.atomic():
            list(Complaint.objects.select_for_update().filter(pk=complaint_id).values_list("pk", flat=True))
            c = Complaint.objects.select_related("department", "escalated_to").filter(pk=complaint_id).first()
            if c is None or c.is_closed:
                return None
            return _escalate(c, None, reason=reason, trigger=trigger)
    except Conflict:
        return None


def escalate_many_for_sla(items, *, targets: dict | None = None) -> dict[int, User]:
    """`escalate_for_sla` for many complaints at once (the SLA sweep), set-based.

    `items`: iterable of (complaint_id, trigger, reason); a complaint named twice is escalated
    once (its first item). Runs in the caller's transaction (or its own): locks the complaint
    rows (SELECT … FOR UPDATE on the complaint table only, in id order so two sweeps cannot
    deadlock), skips closed or missing complaints and those with nobody above (as
    `escalate_for_sla` does), updates escalation_level / escalated_to / version / updated_at
    with one UPDATE per target, bulk-inserts the `complaint.escalated` events (same before/after
    as `_escalate`) and runs the `on_updated` hooks per complaint with the rows already loaded.
    `targets` memoises direct_supervisor / next_level_up per department (pass one dict for a
    whole sweep). Returns {complaint_id: who it went to}."""
    wanted: dict[int, tuple[str, str]] = {}
    for complaint_id, trigger, reason in items:
        wanted.setdefault(int(complaint_id), (trigger, reason))
    if not wanted:
        return {}
    memo = targets if targets is not None else {}

    def lookup(kind, department):
        key = (kind, department.pk if department is not None else None)
        if key not in memo:
            memo[key] = (access.direct_supervisor(department) if kind == "direct"
                         else access.next_level_up(department))
        return memo[key]

    out: dict[int, User] = {}
    with transaction.atomic():
        ids = sorted(wanted)
        list(Complaint.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))
        rows = list(Complaint.objects.select_related("department", "escalated_to").filter(pk__in=ids).order_by("pk"))
        now = timezone.now()
        plan = []  # (complaint, target, before)
        by_target: dict[int, list[int]] = {}
        for c in rows:
            if c.is_closed:
                continue
            if c.escalation_level == 0:
                target = lookup("direct", c.department) or lookup("next", c.department)
            else:
                target = lookup("next", c.department)
            if target is None:
                continue
            before = {"escalation_level": c.escalation_level,
                      "escalated_to": c.escalated_to.username if c.escalated_to_id else None}
            plan.append((c, target, before))
            by_target.setdefault(target.pk, []).append(c.pk)
        for target_id, pks in by_target.items():
            Complaint.objects.filter(pk__in=pks).update(escalation_level=F("escalation_level") + 1,
                                                        escalated_to_id=target_id, version=F("version") + 1,
                                                        updated_at=now)
        events = []
        for c, target, before in plan:
            trigger, reason = wanted[c.pk]
            c.escalation_level += 1
            c.escalated_to = target
            c.version += 1  # the row is locked: the UPDATE above added exactly one
            c.updated_at = now
            events.append(Event(complaint=c, kind="complaint.escalated", actor=None, before=before,
                                after={"escalation_level": c.escalation_level, "escalated_to": target.username,
                                       "trigger": trigger}, note=reason or "", customer_visible=False, at=now))
        Event.objects.bulk_create(events, batch_size=1000)
        for c, target, before in plan:
            _run_updated_hooks(c, {"escalation_level": (before["escalation_level"], c.escalation_level),
                                   "escalated_to": (before["escalated_to"], target.username)}, None)
            out[c.pk] = target
    return out
