"""Deadlines of complaints: set, pause, resume, extend, meet, recompute, sweep.

Every change writes its event on the complaint's timeline (`deadline.*`) through
`complaints.services.record_event`, in the same transaction. The complaint hooks
(`on_created`, `on_step_changed`, `on_updated`) run inside the complaint service's
transaction; the public functions here open their own. Time is a parameter (`now`) so
tests freeze it without patching the clock.

When deadlines start (the target's `starts_on`):
  received   the complaint's `received_at` (backdated complaints count from then)
  accepted   the complaint leaves its first step (受理)
  resolved   the complaint reaches `follow_up` (the customer accepted the resolution)
  promised   an agent records a named promise (`add_promise`)
When they are met:
  first_response / contact   the first outbound message, or leaving the first step
  resolution                 reaching `follow_up` or the final step
  follow_up                  the final step (close)
  promise                    `complete_deadline` by an agent
Closing a complaint meets every open deadline except promises.
"""
from __future__ import annotations

import contextvars
import datetime as dt
import logging
import tomllib
from importlib import resources

from django.db import connection, transaction
from django.utils import timezone

from qingting.accounts import access
from qingting.complaints import services as complaint_services
from qingting.complaints.models import Complaint, Event, Message
from qingting.core.errors import Conflict, Invalid, NotFound, PermissionDenied

from . import config
from .calendar import CalendarConfigError, CalendarCoverageError
from .clock import KINDS, Extension, Pause, Target, compute_at_risk_at, compute_due, evaluate
from .models import Deadline, DeadlineExtension, DeadlinePause, SlaPolicy
from .presets import PAUSE_REASONS, ExtensionRule, PresetError, TargetRule, check_extension

log = logging.getLogger(__name__)
record_event = complaint_services.record_event
S = Deadline.State
OPEN_STATES = (S.RUNNING, S.PAUSED)


def _rules() -> dict:
    text = resources.files(__package__).joinpath("escalation.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


ESCALATION = _rules()


# ------------------------------------------------------------------ facts and snapshots

def facts_of(c: Complaint) -> list[dict]:
    """Match facts of a complaint; one variant per category level (a rule may name either)."""
    tags = set()
    about = c.about if isinstance(c.about, dict) else {}
    if isinstance(about.get("tags"), list):
        tags.update(str(t) for t in about["tags"])
    text = f"{c.subject}\n{c.description}"
    for hotline in ("12315", "12345"):
        if hotline in text and (c.channel == "regulator" or hotline == "12345"):
            tags.add(hotline)
    base = {"priority": c.priority, "channel": c.channel, "profile": c.profile.code if c.profile_id else None,
            "customer_tags": list(c.customer.tags or []) if c.customer_id else [], "tags": sorted(tags)}
    variants = []
    if c.category_id:
        variants.append({**base, "category": c.category.code})
        if c.category.parent_id:
            variants.append({**base, "category": c.category.parent.code})
    else:
        variants.append({**base, "category": None})
    return variants


def select(c: Complaint):
    """(policy, {(kind, name): TargetRule}) for the complaint, or (None, {})."""
    presets = config.current()
    variants = facts_of(c)
    for policy in presets.policies:
        if policy.enabled and any(policy.match.matches(f) for f in variants):
            chosen: dict[tuple[str, str], TargetRule] = {}
            for f in variants:
                for rule in policy.targets_for(f):
                    chosen.setdefault((rule.kind, rule.name), rule)
            return policy, chosen
    return None, {}


def snapshot(rule: TargetRule) -> dict:
    t = rule.target
    return {"kind": t.kind, "name": t.name, "amount": t.amount, "unit": t.unit, "day_end": t.day_end,
            "roll_to_working_day": t.roll_to_working_day, "at_risk": t.at_risk, "label": rule.label,
            "starts_on": rule.starts_on, "pause_reasons": list(rule.pause_reasons),
            "extensions": [{"step": e.step, "label": e.label, "amount": e.amount, "approval": e.approval,
                            "notice": e.notice} for e in rule.extensions]}


def target_of(d: Deadline) -> Target:
    s = d.target
    return Target(kind=s["kind"], amount=s["amount"], unit=s["unit"], day_end=s.get("day_end", "close"),
                  roll_to_working_day=s.get("roll_to_working_day", False), at_risk=s.get("at_risk", 0.75),
                  name=s.get("name", ""))


def rule_of(d: Deadline) -> TargetRule:
    s = d.target
    return TargetRule(target=target_of(d), label=s.get("label", ""), starts_on=s.get("starts_on", "received"),
                      pause_reasons=tuple(s.get("pause_reasons", ())),
                      extensions=tuple(ExtensionRule(**e) for e in s.get("extensions", ())))


def _pauses(d: Deadline) -> list[Pause]:
    rows = d._prefetched_objects_cache.get("pauses") if hasattr(d, "_prefetched_objects_cache") else None
    rows = rows if rows is not None else d.pauses.all()
    return [Pause(start=p.started_at, end=p.ended_at, reason=p.reason) for p in rows]


def _extensions(d: Deadline) -> list[Extension]:
    rows = d._prefetched_objects_cache.get("extensions") if hasattr(d, "_prefetched_objects_cache") else None
    rows = rows if rows is not None else d.extensions.all()
    return [Extension(amount=e.amount, reason=e.reason or "-", approved=True)
            for e in rows if e.status == DeadlineExtension.Status.APPROVED]


def status_of(d: Deadline, now=None):
    """The live DeadlineStatus (clock.evaluate) of a deadline row."""
    now = now or timezone.now()
    return evaluate(target_of(d), d.starts_at, config.calendar(d.calendar_code), now=now, pauses=_pauses(d),
                    extensions=_extensions(d), completed_at=d.met_at)


def _recompute(d: Deadline, now) -> None:
    """Refresh due_at / at_risk_at (and the state of an open deadline) after a change."""
    st = status_of(d, now)
    d.due_at, d.at_risk_at = st.due_at, st.at_risk_at
    if d.state in (S.MET, S.CANCELLED) or d.met_at:
        return
    if d.state == S.BREACHED and st.state != "breached":
        d.breached_at = None  # an approved extension or a longer target gave the time back
    if d.warned_at and d.at_risk_at > now:
        d.warned_at = None  # the deadline moved: a new warning is due when it comes at risk again
    d.state = {"running": S.RUNNING, "paused": S.PAUSED}.get(st.state, d.state if d.state == S.BREACHED else S.RUNNING)
    if st.state == "breached" and d.state != S.BREACHED:
        d.state = S.RUNNING  # past due but not yet swept: the sweep breaches it (event, escalation)


def _deadline_after(d: Deadline) -> dict:
    return {"deadline_id": d.pk, "kind": d.kind, "name": d.name, "label": d.label, "policy": d.policy_code,
            "due_at": d.due_at.isoformat() if d.due_at else None, "state": d.state}


# ------------------------------------------------------------------ setting deadlines

def start_deadlines(c: Complaint, starts_on: str | None, at: dt.datetime, *, actor=None, now=None,
                    kinds=None, note: str = "", new_complaint: bool = False) -> list[Deadline]:
    """Create the deadlines of the complaint's policy that start on `starts_on` (or, with `kinds`,
    those of these kinds whatever they start on), counted from `at` — unless one of the same kind
    and name is still open. A deadline met before (e.g. before a reopen) does not stop a new one.
    `new_complaint`: the complaint was created in this transaction, so none is open yet.
    The deadlines are written in one insert, their events in another."""
    now = now or timezone.now()
    policy, rules = select(c)
    if policy is None:
        return []
    wanted = [(key, rule) for key, rule in rules.items()
              if (key[0] in kinds if kinds is not None else rule.starts_on == starts_on) and key[0] != "promise"]
    if not wanted:
        return []
    open_ = set() if new_complaint else set(
        Deadline.objects.filter(complaint=c, met_at__isnull=True).exclude(state=S.CANCELLED).values_list("kind", "name"))
    policy_row = SlaPolicy.objects.filter(code=policy.code).first()
    cal = config.calendar(policy.calendar)
    rows, targets, events = [], [], []
    for key, rule in wanted:
        if key in open_:
            continue
        d = _deadline_row(c, rule, policy, policy_row, cal, at, now=now, events=events)
        if d is not None:
            rows.append(d)
            targets.append(rule.target.label())
    created = Deadline.objects.bulk_create(rows) if rows else []
    events += [_started_event(d, at, target, note) for d, target in zip(created, targets, strict=True)]
    complaint_services.record_events(c, events, actor=actor, at=now)
    return created


def _deadline_row(c, rule, policy, policy_row, cal, at, *, now, events: list) -> Deadline | None:
    """An unsaved deadline for `rule` counted from `at`; None (and an event in `events`) when the
    calendar cannot count it."""
    try:
        due = compute_due(rule.target, at, cal)
        risk = compute_at_risk_at(rule.target, at, cal)
    except (CalendarCoverageError, CalendarConfigError) as exc:
        events.append({"kind": "deadline.not_computable", "note": str(exc)[:1000],
                       "after": {"kind": rule.kind, "name": rule.name, "policy": policy.code, "error": str(exc)[:500]}})
        log.warning("deadline %s of %s not computable: %s", rule.kind, c.number, exc)
        return None
    return Deadline(complaint=c, kind=rule.kind, name=rule.name, label=rule.label, policy=policy_row,
                    policy_code=policy.code, calendar_code=policy.calendar, target=snapshot(rule), starts_at=at,
                    due_at=due, at_risk_at=risk, created_at=now, updated_at=now)


def _started_event(d: Deadline, at: dt.datetime, target: str, note: str) -> dict:
    return {"kind": "deadline.started", "note": note,
            "after": _deadline_after(d) | {"starts_at": at.isoformat(), "target": target}}


def _new_deadline(c, rule, policy, policy_row, cal, at, *, actor, now, note="") -> Deadline | None:
    events: list[dict] = []
    d = _deadline_row(c, rule, policy, policy_row, cal, at, now=now, events=events)
    if d is not None:
        d.save()
        events.append(_started_event(d, at, rule.target.label(), note))
    complaint_services.record_events(c, events, actor=actor, at=now)
    return d


def _complete(d: Deadline, at: dt.datetime, *, actor=None, now=None, how: str = "") -> None:
    """Mark a deadline done at `at` (met, or breached when late)."""
    if d.met_at is not None or d.state == S.CANCELLED:
        return
    now = now or at
    DeadlinePause.objects.filter(deadline=d, ended_at__isnull=True).update(ended_at=at, ended_by=_user(actor))
    d.met_at = at
    d.paused_since = None
    st = status_of(d, now)
    d.due_at = st.due_at
    on_time = st.state == "met"
    if on_time:
        d.state = S.MET
    else:
        d.state = S.BREACHED
        d.breached_at = d.breached_at or at
    d.updated_at = now
    d.save(update_fields=["met_at", "paused_since", "due_at", "state", "breached_at", "updated_at"])
    record_event(d.complaint, "deadline.met", actor=actor, at=now,
                 after=_deadline_after(d) | {"met_at": at.isoformat(), "on_time": on_time, "by": how})


def _user(actor):
    return actor if getattr(actor, "pk", None) else None


def complete_kinds(c: Complaint, kinds, at, *, actor=None, how: str = "") -> int:
    n = 0
    for d in Deadline.objects.filter(complaint=c, kind__in=list(kinds), met_at__isnull=True).exclude(
            state=S.CANCELLED).prefetch_related("pauses", "extensions"):
        d.complaint = c
        _complete(d, at, actor=actor, now=at, how=how)
        n += 1
    return n


# ------------------------------------------------------------------ hooks (inside the complaint's transaction)

def on_created(c: Complaint, actor) -> None:
    now = timezone.now()
    start_deadlines(c, "received", c.received_at, actor=actor, now=now, new_complaint=True)
    triggers = immediate_triggers(c)
    if triggers and c.escalation_level == 0:
        _escalate_now(c, triggers)


REOPEN_RESTARTS = ("resolution",)  # a reopened complaint must be resolved again, on a fresh clock


def on_step_changed(c: Complaint, old_step, new_step, actor, transition_kind) -> None:
    now = timezone.now()
    if transition_kind == "reopen":
        start_deadlines(c, None, now, actor=actor, now=now, kinds=REOPEN_RESTARTS, note="投诉重新打开，重新计时")
        return
    first = _is_first_step(old_step)
    if first and transition_kind != "back":
        complete_kinds(c, ("first_response", "contact"), now, actor=actor, how="accepted")
        start_deadlines(c, "accepted", now, actor=actor, now=now)
    if new_step.code == "follow_up" or new_step.is_final:
        complete_kinds(c, ("first_response", "contact", "resolution"), now, actor=actor, how=new_step.code)
    if new_step.code == "follow_up":
        start_deadlines(c, "resolved", now, actor=actor, now=now)
    if new_step.is_final:
        complete_kinds(c, ("follow_up",), now, actor=actor, how="closed")  # promises stay open


def _is_first_step(step) -> bool:
    if step.code == "accept":
        return True
    return not type(step).objects.filter(variant=step.variant_id, position__lt=step.position).exists()


def on_updated(c: Complaint, changes: dict, actor) -> None:
    if set(changes) & {"priority", "category", "channel", "about"}:
        recompute_for_complaint(c, actor=actor, reason=", ".join(sorted(set(changes) & {"priority", "category",
                                                                                       "channel", "about"})))
    if "priority" in changes and changes["priority"][1] == "P1" and c.escalation_level == 0:
        triggers = immediate_triggers(c)
        if triggers:
            _escalate_now(c, triggers)


def on_message_saved(sender, instance: Message, created: bool, **kwargs) -> None:
    if not created or instance.direction != Message.Direction.OUTBOUND:
        return
    c = Complaint.objects.filter(pk=instance.complaint_id).select_related("profile").first()
    if c is not None:
        complete_kinds(c, ("first_response", "contact"), instance.created_at, actor=instance.author, how="message")


def recompute_for_complaint(c: Complaint, *, actor=None, reason: str = "", now=None) -> list[dict]:
    """Re-select the policy after a change of priority/category/channel: open deadlines
    take the new target (counted from their original start, pauses and extensions kept),
    kinds the new policy lacks are cancelled, missing kinds whose start has passed start."""
    now = now or timezone.now()
    policy, rules = select(c)
    changes = []
    policy_row = SlaPolicy.objects.filter(code=policy.code).first() if policy else None
    open_rows = list(Deadline.objects.filter(complaint=c, met_at__isnull=True).exclude(state=S.CANCELLED)
                     .exclude(kind="promise").prefetch_related("pauses", "extensions"))
    have = set()
    for d in open_rows:
        d.complaint = c
        rule = rules.get((d.kind, d.name))
        have.add((d.kind, d.name))
        if rule is None:
            d.state = S.CANCELLED
            d.updated_at = now
            d.save(update_fields=["state", "updated_at"])
            record_event(c, "deadline.cancelled", actor=actor, at=now, after=_deadline_after(d), note=reason)
            continue
        new_snap = snapshot(rule)
        if new_snap == d.target and policy.code == d.policy_code:
            continue
        before = _deadline_after(d)
        d.target, d.policy, d.policy_code, d.calendar_code, d.label = (new_snap, policy_row, policy.code,
                                                                      policy.calendar, rule.label)
        try:
            _recompute(d, now)
        except (CalendarCoverageError, CalendarConfigError) as exc:
            record_event(c, "deadline.not_computable", actor=actor, at=now, after=before | {"error": str(exc)[:500]})
            continue
        d.updated_at = now
        d.save()
        after = _deadline_after(d)
        record_event(c, "deadline.recomputed", actor=actor, at=now, before=before, after=after, note=reason)
        changes.append({"before": before, "after": after})
    # kinds the new policy has that started already (received always; accepted once past the first step)
    if policy is not None:
        started = {"received": c.received_at}
        if not _is_first_step(c.step):
            accepted = (c.events.filter(kind__in=["step.advanced"]).order_by("at").values_list("at", flat=True).first())
            started["accepted"] = accepted or now
        done = set(Deadline.objects.filter(complaint=c).exclude(state=S.CANCELLED).values_list("kind", "name"))
        cal = config.calendar(policy.calendar)
        for key, rule in rules.items():
            if key in have or key in done or rule.kind == "promise" or rule.starts_on not in started:
                continue
            d = _new_deadline(c, rule, policy, policy_row, cal, started[rule.starts_on], actor=actor, now=now,
                              note=reason)
            if d is not None:
                changes.append({"before": None, "after": _deadline_after(d)})
    return changes


# ------------------------------------------------------------------ immediate escalation triggers

def immediate_triggers(c: Complaint) -> list[tuple[str, str]]:
    """[(trigger code, reason)] for P1, crisis signals and repeat complaints."""
    rules = ESCALATION["immediate"]
    out = []
    if c.priority in rules.get("priorities", []):
        out.append(("p1", f"{c.priority} 紧急投诉"))
    signals = (c.triage or {}).get("signals") if isinstance(c.triage, dict) else None
    wanted = set(rules.get("crisis_signals", []))
    min_score = float(rules.get("min_signal_score", 0.6))
    for s in signals or []:
        if isinstance(s, dict) and s.get("code") in wanted and float(s.get("score") or 0) >= min_score:
            out.append(("crisis_signal", f"危机信号：{s.get('zh') or s.get('code')}"))
            break
    days = int(rules.get("repeat_within_days", 0))
    if days and c.customer_id and (c.customer.mobile or c.customer.email):
        earlier = Complaint.objects.filter(customer_id=c.customer_id, received_at__gte=c.received_at - dt.timedelta(days=days),
                                           received_at__lte=c.received_at).exclude(pk=c.pk)
        if earlier.exists():
            out.append(("repeat", f"{days} 天内重复投诉"))
    return out


def _escalate_now(c: Complaint, triggers) -> None:
    code = triggers[0][0]
    reason = "；".join(r for _, r in triggers)
    try:
        with transaction.atomic():
            target = complaint_services._escalate(c, None, reason=f"自动升级：{reason}", trigger=code)
    except Conflict:
        return
    _notify_escalated(c, target, reason)


def _notify_escalated(c, target, reason) -> None:
    if target is None:
        return
    from qingting.notify.services import notify

    notify("complaint.escalated", complaint=c, users=[target], title=f"投诉 {c.number} 已升级给您",
           text=f"{c.subject}\n升级原因：{reason}", detail={"escalated_to": target.username})


# ------------------------------------------------------------------ actions (own transaction)

def _fetch(actor, number: str, deadline_id: int) -> tuple[Complaint, Deadline]:
    c = access.access_complaint(actor, number, write=True, for_update=True)
    d = (Deadline.objects.select_for_update().filter(pk=deadline_id, complaint=c).first())
    if d is None:
        raise NotFound("办理时限不存在", f"Deadline {deadline_id} does not exist on {number}")
    d = Deadline.objects.prefetch_related("pauses", "extensions").get(pk=d.pk)
    d.complaint = c
    return c, d


def pause_deadline(number: str, deadline_id: int, *, actor, reason: str, note: str = "", now=None) -> Deadline:
    """Stop the clock (waiting for the customer, appraisal, mediation …), reason recorded."""
    now = now or timezone.now()
    note = complaint_services.clean_text(note, field="note", label="说明", max_len=2000)
    with transaction.atomic(durable=True):
        c, d = _fetch(actor, number, deadline_id)
        if d.state != S.RUNNING or d.met_at:
            raise Conflict(f"只有计时中的时限可以暂停（当前：{d.get_state_display()}）",
                           f"Only a running deadline can be paused (it is {d.state})", code="not_running")
        allowed = d.target.get("pause_reasons") or []
        if reason not in PAUSE_REASONS:
            raise Invalid(f"暂停原因无效，可选：{'、'.join(PAUSE_REASONS)}", "Unknown pause reason",
                          fields={"reason": "invalid"})
        if reason not in allowed:
            names = "、".join(PAUSE_REASONS[r][0] for r in allowed) or "无（此时限不可暂停）"
            raise Conflict(f"“{d.label}”不能因“{PAUSE_REASONS[reason][0]}”暂停；允许：{names}",
                           f"This deadline cannot be paused for {reason}; allowed: {', '.join(allowed) or 'none'}",
                           code="pause_not_allowed", fields={"reason": "not allowed"})
        if now < d.starts_at:
            raise Invalid("暂停时间早于时限起算时间", "A pause cannot start before the deadline", fields={"now": "early"})
        DeadlinePause.objects.create(deadline=d, reason=reason, note=note, started_at=now, started_by=_user(actor))
        d.paused_since = now
        d.state = S.PAUSED
        d.updated_at = now
        d.save(update_fields=["paused_since", "state", "updated_at"])
        record_event(c, "deadline.paused", actor=actor, at=now, note=note,
                     after=_deadline_after(d) | {"reason": reason, "reason_name": PAUSE_REASONS[reason][0]})
        return d


def resume_deadline(number: str, deadline_id: int, *, actor, note: str = "", now=None) -> Deadline:
    now = now or timezone.now()
    note = complaint_services.clean_text(note, field="note", label="说明", max_len=2000)
    with transaction.atomic(durable=True):
        c, d = _fetch(actor, number, deadline_id)
        pause = DeadlinePause.objects.filter(deadline=d, ended_at__isnull=True).first()
        if pause is None:
            raise Conflict("该时限没有暂停", "This deadline is not paused", code="not_paused")
        if now < pause.started_at:
            raise Invalid("恢复时间早于暂停时间", "Resume is before the pause began", fields={"now": "early"})
        pause.ended_at, pause.ended_by = now, _user(actor)
        pause.save(update_fields=["ended_at", "ended_by"])
        d = Deadline.objects.prefetch_related("pauses", "extensions").get(pk=d.pk)
        d.complaint = c
        before = _deadline_after(d)
        d.paused_since = None
        d.state = S.RUNNING
        _recompute(d, now)
        d.updated_at = now
        d.save()
        record_event(c, "deadline.resumed", actor=actor, at=now, note=note, before=before,
                     after=_deadline_after(d) | {"paused_for_seconds": int((now - pause.started_at).total_seconds()),
                                                 "reason": pause.reason})
        return d


def request_extension(number: str, deadline_id: int, *, actor, amount, reason: str, now=None) -> DeadlineExtension:
    """Ask for more time under the target's extension rules. A step that needs approval is
    approved at once when a supervisor asks, else it waits for `decide_extension`."""
    now = now or timezone.now()
    reason = complaint_services.clean_text(reason, field="reason", label="延期原因", max_len=2000, required=True)
    try:
        amount = float(amount)
    except (TypeError, ValueError):
        raise Invalid("延期时长应为数字", "amount must be a number", fields={"amount": "invalid"}) from None
    with transaction.atomic(durable=True):
        c, d = _fetch(actor, number, deadline_id)
        if d.met_at or d.state in (S.MET, S.CANCELLED, S.BREACHED):
            raise Conflict(f"“{d.label}”{d.get_state_display()}，不能延期", f"A {d.state} deadline cannot be extended",
                           code="not_extendable")
        if d.extensions.filter(status=DeadlineExtension.Status.PENDING).exists():
            raise Conflict("已有待审批的延期申请", "An extension is already waiting for approval", code="pending_extension")
        granted = _extensions(d)
        try:
            new = Extension(amount=amount, reason=reason, approved=True)
            step = check_extension(rule_of(d), granted, new)
        except (PresetError, ValueError) as exc:
            raise Conflict(str(exc), str(exc), code="extension_not_allowed", fields={"amount": "not allowed"}) from None
        approve_now = not step.approval or access.is_supervising(actor)
        ext = DeadlineExtension.objects.create(
            deadline=d, step=step.step, amount=amount, reason=reason, needs_approval=step.approval,
            notice=step.notice, requested_by=_user(actor), requested_at=now,
            status=DeadlineExtension.Status.APPROVED if approve_now else DeadlineExtension.Status.PENDING,
            approver=_user(actor) if approve_now and step.approval else None,
            decided_at=now if approve_now else None)
        if approve_now:
            _apply_extension(c, d, ext, actor, now)
        else:
            record_event(c, "deadline.extension_requested", actor=actor, at=now, note=reason,
                         after=_deadline_after(d) | {"extension_id": ext.pk, "amount": amount, "step": step.step,
                                                     "rule": step.label, "needs_approval": True})
            sup = access.direct_supervisor(c.department, exclude=_user(actor))
            if sup is not None:
                from qingting.notify.services import notify

                notify("deadline.extension_requested", complaint=c, users=[sup], title=f"投诉 {c.number} 申请延期",
                       text=f"{d.label}：{reason}", detail={"extension_id": ext.pk})
        return ext


def decide_extension(number: str, extension_id: int, *, actor, approve: bool, note: str = "",
                     now=None) -> DeadlineExtension:
    now = now or timezone.now()
    note = complaint_services.clean_text(note, field="note", label="审批意见", max_len=2000)
    if not access.is_supervising(actor):
        raise PermissionDenied("只有主管或管理层可以审批延期", "Only a supervisor or manager may approve extensions")
    with transaction.atomic(durable=True):
        c = access.access_complaint(actor, number, write=True, for_update=True)
        ext = DeadlineExtension.objects.select_for_update().filter(pk=extension_id, deadline__complaint=c).first()
        if ext is None:
            raise NotFound("延期申请不存在", "No such extension request")
        if ext.status != DeadlineExtension.Status.PENDING:
            raise Conflict("该延期申请已处理", "This extension was already decided", code="decided")
        ext.status = DeadlineExtension.Status.APPROVED if approve else DeadlineExtension.Status.REJECTED
        ext.approver, ext.decided_at, ext.decision_note = _user(actor), now, note
        ext.save(update_fields=["status", "approver", "decided_at", "decision_note"])
        d = Deadline.objects.prefetch_related("pauses", "extensions").get(pk=ext.deadline_id)
        d.complaint = c
        if approve:
            _apply_extension(c, d, ext, actor, now)
        else:
            record_event(c, "deadline.extension_rejected", actor=actor, at=now, note=note,
                         after=_deadline_after(d) | {"extension_id": ext.pk})
        return ext


def _apply_extension(c, d, ext, actor, now) -> None:
    d = Deadline.objects.prefetch_related("pauses", "extensions").get(pk=d.pk)
    d.complaint = c
    before = _deadline_after(d)
    _recompute(d, now)
    d.updated_at = now
    d.save()
    after = _deadline_after(d) | {"extension_id": ext.pk, "amount": ext.amount, "unit": d.target.get("unit"),
                                  "step": ext.step, "approved_by": ext.approver.username if ext.approver_id else None,
                                  "needs_approval": ext.needs_approval}
    record_event(c, "deadline.extended", actor=actor, at=now, note=ext.reason, before=before, after=after)
    if ext.notice:
        local = timezone.localtime(d.due_at)
        record_event(c, "deadline.extension_notice", actor=actor, at=now, customer_visible=True,
                     after={"deadline_id": d.pk, "due_at": d.due_at.isoformat()},
                     note=f"因{ext.reason}，办理期限延长至 {local:%Y-%m-%d %H:%M}。")


def add_promise(number: str, *, actor, name: str, note: str = "", now=None) -> Deadline:
    """Start a named promise (e.g. refund_48h) from the complaint's policy, counted from now."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        c = access.access_complaint(actor, number, write=True, for_update=True)
        policy, rules = select(c)
        rule = rules.get(("promise", str(name))) if policy else None
        if rule is None:
            names = "、".join(n for k, n in rules if k == "promise") or "无"
            raise Invalid(f"时限规则中没有承诺事项“{name}”，可选：{names}", f"No promise {name!r} in the policy",
                          fields={"name": "unknown"})
        if Deadline.objects.filter(complaint=c, kind="promise", name=rule.name, met_at__isnull=True).exclude(
                state=S.CANCELLED).exists():
            raise Conflict("该承诺正在计时", "This promise is already running", code="duplicate_promise")
        d = _new_deadline(c, rule, policy, SlaPolicy.objects.filter(code=policy.code).first(),
                          config.calendar(policy.calendar), now, actor=actor, now=now, note=note)
        if d is None:
            raise Conflict("工作日历无法计算该时限", "The calendar cannot compute this deadline", code="not_computable")
        return d


def complete_deadline(number: str, deadline_id: int, *, actor, now=None) -> Deadline:
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        c, d = _fetch(actor, number, deadline_id)
        if d.met_at or d.state == S.CANCELLED:
            raise Conflict("该时限已完成", "This deadline is already completed", code="completed")
        _complete(d, now, actor=actor, now=now, how="manual")
        return d


# ------------------------------------------------------------------ reads

def deadlines_for(complaint: Complaint, now=None, *, include_cancelled: bool = False) -> list[dict]:
    """The complaint's deadlines for pages and the API, live at `now`."""
    now = now or timezone.now()
    qs = Deadline.objects.filter(complaint_id=complaint.pk).prefetch_related("pauses", "extensions").order_by(
        "starts_at", "id")
    out = []
    for d in qs:
        if d.state == S.CANCELLED and not include_cancelled:
            continue
        try:
            st = status_of(d, now)
        except (CalendarCoverageError, CalendarConfigError) as exc:
            st = None
            err = str(exc)
        if d.state == S.CANCELLED:
            state = "cancelled"
        elif st is None:
            state = d.state
        else:
            state = st.state
        row = {
            "id": d.pk, "kind": d.kind, "kind_name": KINDS[d.kind][0], "name": d.name, "label": d.label,
            "policy": d.policy_code, "due_at": st.due_at if st else d.due_at, "state": state,
            "state_name": dict(S.choices).get(state, state),
            "remaining": st.remaining.to_dict() if st else None, "at_risk": bool(st and st.at_risk),
            "used": round(st.used, 3) if st else None, "provisional": bool(st and st.provisional),
            "starts_at": d.starts_at, "met_at": d.met_at, "target": d.target,
            "paused_reason": next((PAUSE_REASONS[p.reason][0] for p in d.pauses.all() if p.ended_at is None), None),
            "pauses": [{"reason": p.reason, "started_at": p.started_at, "ended_at": p.ended_at, "note": p.note}
                       for p in d.pauses.all()],
            "extensions": [{"id": e.pk, "amount": e.amount, "reason": e.reason, "status": e.status,
                            "needs_approval": e.needs_approval, "step": e.step} for e in d.extensions.all()],
            "pause_reasons": [(r, PAUSE_REASONS[r][0]) for r in d.target.get("pause_reasons", []) if r in PAUSE_REASONS],
            "extendable": bool(d.target.get("extensions")) and state in ("running", "paused"),
            "error": None if st else err,
        }
        out.append(row)
    return out


def output_extra(c: Complaint, user) -> dict:
    """`hooks.register("output")`: the `deadlines` list of the complaint's API output."""
    rows = deadlines_for(c)
    return {"deadlines": [{"id": r["id"], "kind": r["kind"], "name": r["name"], "label": r["label"],
                           "policy": r["policy"], "due_at": r["due_at"], "state": r["state"],
                           "remaining": r["remaining"], "at_risk": r["at_risk"]} for r in rows]}


def preview(*, received_at: dt.datetime, priority="P3", category=None, channel="phone", profile="general",
            customer_tags=(), tags=()) -> dict:
    """'A complaint received at …, P2, category X: when is each deadline?' (no database writes)."""
    presets = config.current()
    variants = []
    base = {"priority": priority, "channel": channel, "profile": profile, "customer_tags": list(customer_tags),
            "tags": list(tags)}
    from qingting.complaints.models import Category

    cat = Category.objects.filter(code=category).select_related("parent").first() if category else None
    variants.append({**base, "category": cat.code if cat else category})
    if cat and cat.parent_id:
        variants.append({**base, "category": cat.parent.code})
    policy = next((p for p in presets.policies if p.enabled and any(p.match.matches(f) for f in variants)), None)
    if policy is None:
        return {"policy": None, "deadlines": []}
    cal = presets.calendars[policy.calendar]
    rows, seen = [], set()
    accepted_at = received_at
    for f in variants:
        for rule in policy.targets_for(f):
            if (rule.kind, rule.name) in seen:
                continue
            seen.add((rule.kind, rule.name))
            start = {"received": received_at, "accepted": accepted_at}.get(rule.starts_on)
            row = {"kind": rule.kind, "kind_name": KINDS[rule.kind][0], "name": rule.name, "label": rule.label,
                   "target": rule.target.label(), "starts_on": rule.starts_on, "due_at": None, "at_risk_at": None,
                   "error": None, "extensions": [e.label for e in rule.extensions],
                   "pause_reasons": [PAUSE_REASONS[r][0] for r in rule.pause_reasons]}
            if start is not None:
                try:
                    row["due_at"] = compute_due(rule.target, start, cal)
                    row["at_risk_at"] = compute_at_risk_at(rule.target, start, cal)
                except (CalendarCoverageError, CalendarConfigError) as exc:
                    row["error"] = str(exc)
            rows.append(row)
    return {"policy": {"code": policy.code, "name": policy.name, "basis": policy.basis, "calendar": policy.calendar},
            "deadlines": rows}


# ------------------------------------------------------------------ the sweep

BATCH = 500


def _claim(ids: list[int], set_sql: str, set_params: list, where_sql: str) -> list[int]:
    """Set-based compare-and-set: UPDATE … WHERE id IN (…) AND <condition still true>
    RETURNING id. Under concurrency the second worker's UPDATE waits for the first to
    commit, re-checks the condition and claims nothing, so no row is acted on twice."""
    if not ids:
        return []
    marks = ",".join(["%s"] * len(ids))
    table = Deadline._meta.db_table
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {table} SET {set_sql} WHERE id IN ({marks}) AND {where_sql} RETURNING id",
                    [*set_params, *ids])
        return [r[0] for r in cur.fetchall()]


def sweep_deadlines(now=None, *, batch: int = BATCH) -> dict:
    """The periodic job `sla.sweep`: at-risk warnings, breaches with escalation, and the
    second escalation of breaches still unhandled. Idempotent; safe on several workers.

    Set-based: each batch of up to `batch` deadlines is claimed by one compare-and-set
    UPDATE … RETURNING, its timeline events are bulk-inserted, its outbox rows written with
    one insert, and its escalations done by `complaints.services.escalate_many_for_sla`, all
    in the batch's own transaction (a crash loses nothing and redoes nothing: the claim and
    its consequences commit together). Supervisors are looked up once per department per
    sweep; endpoints and preferences once per sweep (`notify.services.batch`)."""
    from qingting.notify.services import batch as notify_batch

    now = now or timezone.now()
    token, token2 = _SUPERVISORS.set({}), _ESCALATED.set(set())
    try:
        with notify_batch():
            return _sweep(now, batch)
    finally:
        _SUPERVISORS.reset(token)
        _ESCALATED.reset(token2)


# {("direct" | "next", department_id): User | None} for one sweep (escalate_many_for_sla's `targets`)
_SUPERVISORS: contextvars.ContextVar[dict | None] = contextvars.ContextVar("qingting_sla_supervisors", default=None)
# complaints escalated on breach in this sweep
_ESCALATED: contextvars.ContextVar[set | None] = contextvars.ContextVar("qingting_sla_escalated", default=None)


def _supervisor(department):
    """direct_supervisor, memoised for one sweep."""
    if department is None:
        return None
    memo = _SUPERVISORS.get()
    if memo is None:
        return access.direct_supervisor(department)
    key = ("direct", department.pk)
    if key not in memo:
        memo[key] = access.direct_supervisor(department)
    return memo[key]


def _sweep(now, batch) -> dict:
    counts = {"at_risk": 0, "breached": 0, "escalated": 0, "escalated_again": 0}
    while True:
        ids = list(Deadline.objects.filter(state=S.RUNNING, warned_at__isnull=True, at_risk_at__lte=now,
                                           due_at__gt=now).order_by("at_risk_at").values_list("pk", flat=True)[:batch])
        if not ids:
            break
        with transaction.atomic():
            claimed = _claim(ids, "warned_at = %s", [now], "warned_at IS NULL AND state = 'running'")
            _warn(claimed, now)
        counts["at_risk"] += len(claimed)
        if len(ids) < batch:
            break
    while True:
        ids = list(Deadline.objects.filter(state=S.RUNNING, due_at__lte=now).order_by("due_at")
                   .values_list("pk", flat=True)[:batch])
        if not ids:
            break
        with transaction.atomic():
            claimed = _claim_breach(ids, now)
            counts["escalated"] += _breach(claimed, now)
        counts["breached"] += len(claimed)
        if len(ids) < batch:
            break
    counts["escalated_again"] = _escalate_again(now, batch)
    return counts


def _claim_breach(ids, now):
    if not ids:
        return []
    marks = ",".join(["%s"] * len(ids))
    table = Deadline._meta.db_table
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {table} SET state = 'breached', breached_at = %s, updated_at = %s "
                    f"WHERE id IN ({marks}) AND state = 'running' AND due_at <= %s RETURNING id",
                    [now, now, *ids, now])
        return [r[0] for r in cur.fetchall()]


def _rows(ids):
    if not ids:
        return []
    return list(Deadline.objects.filter(pk__in=ids).select_related(
        "complaint", "complaint__assignee", "complaint__department", "policy").order_by("due_at", "id"))


def _event(c, kind, now, after) -> Event:
    """An unsaved timeline row shaped as `record_event` writes it (no actor: the system)."""
    return Event(complaint=c, kind=kind, actor=None, before={}, after=after, note="", customer_visible=False, at=now)


def _warn(ids, now) -> None:
    from qingting.notify.services import notify_many

    events, notes = [], []
    for d in _rows(ids):
        c = d.complaint
        after = _deadline_after(d)
        events.append(_event(c, "deadline.at_risk", now, after | {"at_risk_at": d.at_risk_at.isoformat()}))
        if c.closed_at is None:
            users = [c.assignee] if c.assignee_id else [_supervisor(c.department)]
            notes.append({"event": "deadline.at_risk", "complaint": c, "users": users,
                          "title": f"投诉 {c.number}「{d.label}」即将到期",
                          "text": f"{c.subject}\n到期时间：{timezone.localtime(d.due_at):%Y-%m-%d %H:%M}",
                          "detail": after})
    Event.objects.bulk_create(events, batch_size=1000)
    notify_many(notes, now=now)


def _claim_escalation(ids, column, now) -> list[int]:
    """Compare-and-set on the deadline's escalation mark (escalated_at / escalated_again_at)."""
    if not ids:
        return []
    marks = ",".join(["%s"] * len(ids))
    extra = " AND met_at IS NULL" if column == "escalated_again_at" else ""
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {Deadline._meta.db_table} SET {column} = %s WHERE id IN ({marks}) "
                    f"AND {column} IS NULL{extra} RETURNING id", [now, *ids])
        return [r[0] for r in cur.fetchall()]


def _breach(ids, now) -> int:
    from qingting.notify.services import notify_many

    rows = _rows(ids)
    events, notes, candidates = [], [], []
    # one escalation per complaint per sweep, even when its deadlines fall in different batches
    done_complaints = _ESCALATED.get()
    if done_complaints is None:
        done_complaints = set()
    for d in rows:
        c = d.complaint
        after = _deadline_after(d)
        events.append(_event(c, "deadline.breached", now, after | {"breached_at": now.isoformat()}))
        if c.closed_at is not None:
            continue
        users = [u for u in (c.assignee, _supervisor(c.department)) if u is not None]
        notes.append({"event": "deadline.breached", "complaint": c, "users": users,
                      "title": f"投诉 {c.number}「{d.label}」已超时",
                      "text": f"{c.subject}\n到期时间：{timezone.localtime(d.due_at):%Y-%m-%d %H:%M}",
                      "detail": after})
        escalate = d.policy.escalate_on_breach if d.policy_id else True
        if not escalate or c.pk in done_complaints:
            continue
        done_complaints.add(c.pk)
        candidates.append(d)
    Event.objects.bulk_create(events, batch_size=1000)
    # the first breached deadline of each complaint carries its escalation (marked once, ever)
    marked = set(_claim_escalation([d.pk for d in candidates], "escalated_at", now))
    max_level = int(ESCALATION["breach"].get("max_level", 2))
    todo = [d for d in candidates if d.pk in marked and d.complaint.escalation_level < max_level]
    escalated = _escalate_all(
        todo, "sla_breach", lambda d: f"「{d.label}」超出办理时限（{timezone.localtime(d.due_at):%Y-%m-%d %H:%M}）",
        lambda d: f"「{d.label}」超时", notes)
    notify_many(notes, now=now)
    return escalated


def _escalate_all(deadlines, trigger, reason, why, notes) -> int:
    """Escalate the complaints of `deadlines` (one each) set-based; queue the notifications."""
    if not deadlines:
        return 0
    targets = _SUPERVISORS.get()
    done = complaint_services.escalate_many_for_sla(
        [(d.complaint_id, trigger, reason(d)) for d in deadlines], targets=targets)
    n = 0
    seen = set()
    for d in deadlines:
        target = done.get(d.complaint_id)
        if target is None or d.complaint_id in seen:
            continue
        seen.add(d.complaint_id)
        n += 1
        c = d.complaint
        notes.append({"event": "complaint.escalated", "complaint": c, "users": [target],
                      "title": f"投诉 {c.number} 已升级给您", "text": f"{c.subject}\n升级原因：{why(d)}",
                      "detail": {"escalated_to": target.username}})
    return n


def _escalate_again(now, batch) -> int:
    """Breaches still unhandled N minutes after the first escalation go one level up."""
    from qingting.notify.services import notify_many

    default = int(ESCALATION["breach"].get("escalate_again_after_minutes", 240))
    waits = {p.pk: p.escalate_again_after_minutes for p in SlaPolicy.objects.all()}
    groups: dict[int, list] = {}
    for pk, policy_id, esc in Deadline.objects.filter(
            state=S.BREACHED, met_at__isnull=True, escalated_again_at__isnull=True, escalated_at__isnull=False,
            complaint__closed_at__isnull=True).values_list("pk", "policy_id", "escalated_at")[:batch * 4]:
        wait = waits.get(policy_id, default)
        if wait and esc <= now - dt.timedelta(minutes=wait):
            groups.setdefault(policy_id, []).append(pk)
    ids = [i for g in groups.values() for i in g][:batch]
    if not ids:
        return 0
    with transaction.atomic():
        claimed = _claim_escalation(ids, "escalated_again_at", now)
        todo, seen = [], set()
        for d in _rows(claimed):
            if d.complaint_id not in seen:
                seen.add(d.complaint_id)
                todo.append(d)
        notes: list[dict] = []
        n = _escalate_all(todo, "sla_unhandled", lambda d: f"「{d.label}」超时后仍未处理，升级至上一级",
                          lambda d: f"「{d.label}」超时后仍未处理", notes)
        notify_many(notes, now=now)
    return n


def warning_banner(today=None) -> list[str]:
    """Calendar coverage warnings (from December when next year's schedule is unknown)."""
    today = today or timezone.localdate()
    out = []
    for code, cal in config.current().calendars.items():
        w = cal.coverage_warning(today)
        if w is not None:
            out.append(w.message)
    return out
