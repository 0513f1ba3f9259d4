"""Early warning wired to the database: the detector fed with complaints (`feed.py`), its
alerts persisted as hotspots, escalation rules that propose a crisis, and the hotspot actions
(acknowledge, dismiss with a reason). Who may do what: `accounts.access` (crisis section).

Entry points: `check_new_complaints` (after a complaint is created, off the request's write
transaction), `sweep_hotspots` (the periodic job `crisis.sweep`), and the hotspot and proposal
services. Every public service is one durable transaction.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from collections import Counter, defaultdict

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from qingting.accounts import access
from qingting.accounts.models import Role, User
from qingting.complaints.models import Complaint, ComplaintFlag, IndustryProfile, Priority
from qingting.core.errors import Conflict, Invalid, NotFound

from . import detection, feed
from .feed import HIERARCHY
from .models import (
    CrisisProposal,
    EscalationRule,
    Hotspot,
    HotspotMember,
    HotspotStatus,
    ProposalStatus,
    RuleKind,
)

log = logging.getLogger(__name__)

# about keys shown as "affected stores / products"
PLACE_KEYS = ("store", "shop", "clinic")
PRODUCT_KEYS = ("brand", "series", "vehicle_model", "product", "product_name", "business_category")
SERIES_HOURS = 72


# ------------------------------------------------------------------ detector

def _advance(profile: str, *, now=None, tick: bool = False) -> list[Hotspot]:
    """Feed the profile's complaints not fed yet to its detector (and tick it: the sweep, which
    also snapshots the detector); the hotspots raised are saved in the same transaction."""
    now = now or timezone.now()
    with feed.feeding(profile, now=now) as f:
        alerts = f.alerts + f.feed_new()
        if tick:
            alerts += f.detector.tick(now)
            f.snapshot = True
            feed.forget_old_terms(now)
        thresholds = f.detector.t
        hotspots = [_persist_alert(profile, a, thresholds) for a in alerts]
    return [h for h in hotspots if h is not None]


def _persist_alert(profile: str, alert: detection.Alert, thresholds: detection.Thresholds) -> Hotspot | None:
    fired = alert.fired_at if alert.fired_at.tzinfo else timezone.make_aware(alert.fired_at)
    quiet = dt.timedelta(days=thresholds.episode_quiet_days)
    h = Hotspot.objects.filter(key=alert.key or alert.label, profile=profile).order_by("-last_fired_at").first()
    group = {f: v for f, v in alert.group.fields}
    if h is None or fired - h.last_fired_at > quiet or h.status == HotspotStatus.CRISIS and h.crisis and \
            h.crisis.is_closed:
        h = Hotspot(key=(alert.key or alert.label)[:255], profile=profile, first_fired_at=fired, fire_count=0)
    elif h.status == HotspotStatus.DISMISSED:
        # the group grew by the re-fire factor since it was dismissed: it comes back, the reason stays on record
        h.status = HotspotStatus.OPEN
    h.label = alert.label[:255]
    h.group, h.group_kind = group, alert.group.kind
    h.score, h.count, h.baseline = float(alert.score), int(alert.count), float(alert.baseline)
    h.signals = sorted(set(h.signals or []) | set(alert.signals))
    h.keywords = list(alert.keywords)
    h.sample_texts = list(alert.sample_texts)[:5]
    h.fire_count += 1
    h.last_fired_at = fired
    h.save()
    ids = [int(i) for i in alert.ids if str(i).isdigit()]
    existing = set(Complaint.objects.filter(pk__in=ids).values_list("pk", flat=True))
    HotspotMember.objects.bulk_create([HotspotMember(hotspot=h, complaint_id=i) for i in ids if i in existing],
                                      ignore_conflicts=True)
    h.series = _series(h, fired)
    h.save(update_fields=["series"])
    return h


def _series(h: Hotspot, until) -> list:
    """Member complaints per hour over the last SERIES_HOURS hours up to `until` (the sparkline)."""
    start = (until - dt.timedelta(hours=SERIES_HOURS - 1)).replace(minute=0, second=0, microsecond=0)
    counts = Counter()
    for at in Complaint.objects.filter(hotspot_links__hotspot=h, received_at__gte=start).values_list(
            "received_at", flat=True):
        counts[int((at - start).total_seconds() // 3600)] += 1
    return [[(start + dt.timedelta(hours=i)).isoformat(), counts.get(i, 0)] for i in range(SERIES_HOURS)]


def _profiles_with_complaints() -> list[str]:
    has = Complaint.objects.filter(profile=OuterRef("pk"))
    return list(IndustryProfile.objects.filter(Exists(has)).order_by("code").values_list("code", flat=True))


def check_new_complaints(profile: str, *, rules: bool = True) -> list[Hotspot]:
    """After a complaint is created: feed the detector, then (unless told not to) the escalation rules."""
    hotspots = _advance(profile)
    if rules:
        evaluate_rules()
    return hotspots


def sweep_hotspots(now=None) -> dict:
    """Periodic job `crisis.sweep`: catch up every profile's detector, tick it, run the rules."""
    now = now or timezone.now()
    fired = 0
    for profile in _profiles_with_complaints():
        try:
            fired += len(_advance(profile, now=now, tick=True))
        except Exception:  # one profile's failure must not stop the others
            log.exception("crisis sweep failed for profile %s", profile)
    proposals = evaluate_rules(now=now)
    return {"hotspots": fired, "proposals": len(proposals)}


# ------------------------------------------------------------------ escalation rules

_PEOPLE = re.compile(r"(\d{2,6})\s*(?:多|余)?\s*(?:位|名|个|户|人)")
_CN_NUM = {"二十": 20, "三十": 30, "四十": 40, "五十": 50, "上百": 100, "一百": 100, "几十": 30, "数十": 30, "上千": 1000}


def people_count(text: str) -> int:
    """The largest head-count a text mentions ('32位车主', '上百人'), 0 when none."""
    text = (text or "")[:5000]
    best = 0
    for m in _PEOPLE.finditer(text):
        best = max(best, int(m.group(1)))
    for word, n in _CN_NUM.items():
        if re.search(word + r"\s*(?:多|余)?\s*(?:位|名|个|户|人)", text):
            best = max(best, n)
    return best


def _group_of(c: Complaint) -> str:
    about = c.about if isinstance(c.about, dict) else {}
    keys = HIERARCHY.get(c.profile.code if c.profile_id else "", ())
    vals = [str(about[k]) for k in keys[:2] if about.get(k)]
    return " · ".join(vals) or "全部"


def _propose(rule: EscalationRule, *, dedupe: str, title: str, reason: str, complaints, evidence: dict,
             hotspot: Hotspot | None = None) -> CrisisProposal | None:
    key = f"{rule.code}:{dedupe}"[:255]
    if CrisisProposal.objects.filter(dedupe_key=key).exists():
        return None
    with transaction.atomic():
        p, created = CrisisProposal.objects.get_or_create(dedupe_key=key, defaults=dict(
            rule=rule, title=title[:200], reason=reason, evidence=evidence,
            complaint_ids=sorted({c.pk for c in complaints}), hotspot=hotspot))
        if created:
            _page_managers(p)
    return p if created else None


def _page_managers(p: CrisisProposal) -> None:
    managers = list(User.objects.filter(role__in=[Role.MANAGER, Role.ADMIN], is_active=True))
    from . import paging

    paging.page("crisis.proposed", title=f"危机提议：{p.title}", text=p.reason, users=managers,
                detail={"proposal": p.pk, "url": "/crisis/proposals/"})


def evaluate_rules(now=None) -> list[CrisisProposal]:
    """Run the active escalation rules over recent complaints and hotspots; new proposals only."""
    now = now or timezone.now()
    out: list[CrisisProposal] = []
    for rule in EscalationRule.objects.filter(active=True):
        try:
            out += [p for p in _RULES[rule.kind](rule, now) if p is not None]
        except Exception:
            log.exception("escalation rule %s failed", rule.code)
    return out


def _recent(rule, now):
    return Complaint.objects.filter(received_at__gte=now - dt.timedelta(hours=rule.within_hours),
                                    received_at__lte=now + dt.timedelta(minutes=5)).select_related("profile")


def _bucket(rule, now) -> str:
    hours = max(1, rule.within_hours)
    return str(int(now.timestamp() // (hours * 3600)))


def _rule_safety(rule, now):
    by_group = defaultdict(list)
    qs = _recent(rule, now).filter(flags__kind=ComplaintFlag.Kind.SIGNAL, flags__code="safety")
    for c in qs[:5000]:
        by_group[_group_of(c)].append(c)
    for group, cs in by_group.items():
        customers = {c.customer_id for c in cs}
        if len(customers) >= rule.min_count:
            yield _propose(rule, dedupe=f"{group}:{_bucket(rule, now)}", title=f"{group} 安全隐患集中投诉",
                           reason=f"{rule.within_hours} 小时内 {len(customers)} 位不同客户反映安全隐患（{group}）",
                           complaints=cs, evidence={"group": group, "customers": len(customers),
                                                    "numbers": [c.number for c in cs[:50]]})


def _rule_influencer(rule, now):
    qs = _recent(rule, now).filter(priority=Priority.P1).filter(
        Q(flags__kind=ComplaintFlag.Kind.SIGNAL, flags__code="media") |
        Q(flags__kind=ComplaintFlag.Kind.PERSONA, flags__code="influential") | Q(persona="influential")).distinct()
    for c in qs[:200]:
        yield _propose(rule, dedupe=c.number, title=f"有影响力客户 P1 投诉 {c.number}",
                       reason=f"投诉 {c.number} 为 P1，且客户可能曝光或有传播能力：{c.subject}",
                       complaints=[c], evidence={"numbers": [c.number]})


def _rule_regulator(rule, now):
    cs = list(_recent(rule, now).filter(Q(flags__kind=ComplaintFlag.Kind.SIGNAL, flags__code="regulator") |
                                        Q(channel="regulator")).distinct()[:5000])
    if len(cs) >= rule.min_count:
        yield _propose(rule, dedupe=_bucket(rule, now), title="监管介入的投诉集中出现",
                       reason=f"{rule.within_hours} 小时内 {len(cs)} 件投诉涉及监管机构",
                       complaints=cs, evidence={"count": len(cs), "numbers": [c.number for c in cs[:50]]})


def _rule_group(rule, now):
    qs = _recent(rule, now).filter(flags__kind=ComplaintFlag.Kind.SIGNAL, flags__code="group")
    for c in qs[:500]:
        n = max(people_count(f"{c.subject} {c.description}"),
                int(c.about.get("group_size", 0)) if isinstance(c.about, dict) and
                str(c.about.get("group_size", "")).isdigit() else 0)
        if n >= rule.min_count:
            yield _propose(rule, dedupe=c.number, title=f"群体投诉（约 {n} 人）{c.number}",
                           reason=f"投诉 {c.number} 代表约 {n} 人（≥ {rule.min_count}）：{c.subject}",
                           complaints=[c], evidence={"people": n, "numbers": [c.number]})


def _rule_hotspot(rule, now):
    since = now - dt.timedelta(hours=rule.within_hours)
    for h in Hotspot.objects.filter(last_fired_at__gte=since, score__gte=rule.min_score, count__gte=rule.min_count,
                                    status__in=[HotspotStatus.OPEN, HotspotStatus.ACKNOWLEDGED]):
        members = list(Complaint.objects.filter(hotspot_links__hotspot=h)[:500])
        yield _propose(rule, dedupe=f"hotspot:{h.pk}", title=f"热点：{h.label}",
                       reason=f"热点「{h.label}」得分 {h.score:.1f}（≥ {rule.min_score:g}），窗口内 {h.count} 件",
                       complaints=members, hotspot=h, evidence={"hotspot": h.pk, "score": h.score, "count": h.count})


_RULES = {RuleKind.SAFETY_CUSTOMERS: _rule_safety, RuleKind.INFLUENCER_P1: _rule_influencer,
          RuleKind.REGULATOR_COUNT: _rule_regulator, RuleKind.GROUP_SIZE: _rule_group,
          RuleKind.HOTSPOT_SCORE: _rule_hotspot}


# ------------------------------------------------------------------ hotspot actions

def _hotspot_for_update(hotspot_id) -> Hotspot:
    h = Hotspot.objects.select_for_update().filter(pk=hotspot_id).first()
    if h is None:
        raise NotFound(f"热点 {hotspot_id} 不存在", f"Hotspot {hotspot_id} does not exist")
    return h


def acknowledge_hotspot(hotspot_id, *, actor) -> Hotspot:
    access.require_crisis_manage(actor)
    with transaction.atomic(durable=True):
        h = _hotspot_for_update(hotspot_id)
        if h.status not in (HotspotStatus.OPEN,):
            raise Conflict(f"热点当前为「{h.get_status_display()}」，不能再确认关注",
                           f"The hotspot is {h.status}; only open hotspots can be acknowledged")
        h.status, h.status_by, h.status_at = HotspotStatus.ACKNOWLEDGED, actor, timezone.now()
        h.save(update_fields=["status", "status_by", "status_at"])
        return h


def dismiss_hotspot(hotspot_id, *, actor, reason: str) -> Hotspot:
    access.require_crisis_manage(actor)
    reason = (reason or "").strip()[:2000]
    if not reason:
        raise Invalid("忽略热点需要填写原因（调整阈值时会参考）", "A reason is required to dismiss a hotspot",
                      fields={"reason": "required"})
    with transaction.atomic(durable=True):
        h = _hotspot_for_update(hotspot_id)
        if h.status == HotspotStatus.CRISIS:
            raise Conflict("热点已关联危机，不能忽略", "The hotspot is linked to a crisis")
        h.status, h.status_reason, h.status_by, h.status_at = HotspotStatus.DISMISSED, reason, actor, timezone.now()
        h.save(update_fields=["status", "status_reason", "status_by", "status_at"])
        return h


def update_rule(rule_id, data, *, actor) -> EscalationRule:
    """Change an escalation rule (thresholds, crisis type, severity, on/off): managers only."""
    from .forms import RuleForm

    access.require_crisis_decide(actor)
    rule = EscalationRule.objects.filter(pk=rule_id).first() if str(rule_id or "").isdigit() else None
    if rule is None:
        raise NotFound(f"升级规则 {rule_id} 不存在", f"Escalation rule {rule_id} does not exist")
    form = RuleForm(data, instance=rule)
    if not form.is_valid():
        problems = {k: str(v[0]) for k, v in form.errors.items()}
        raise Invalid("规则保存失败：" + "；".join(f"{k}: {v}" for k, v in problems.items()),
                      "The rule was not saved: " + "; ".join(f"{k}: {v}" for k, v in problems.items()), fields=problems)
    return form.save()


def decline_proposal(proposal_id, *, actor, reason: str) -> CrisisProposal:
    access.require_crisis_decide(actor)
    reason = (reason or "").strip()[:2000]
    if not reason:
        raise Invalid("否决需要填写原因", "A reason is required to decline", fields={"reason": "required"})
    with transaction.atomic(durable=True):
        p = CrisisProposal.objects.select_for_update().filter(pk=proposal_id).first()
        if p is None:
            raise NotFound(f"提议 {proposal_id} 不存在", f"Proposal {proposal_id} does not exist")
        if p.status != ProposalStatus.PROPOSED:
            raise Conflict(f"提议已{p.get_status_display()}", f"The proposal is already {p.status}")
        p.status, p.decided_by, p.decided_at, p.decline_reason = ProposalStatus.DECLINED, actor, timezone.now(), reason
        p.save()
        return p
