"""Who may see and do what: the ONE place that decides it.

- agent (投诉专员): complaints of their own department, and those assigned to them;
- supervisor (主管): their department's subtree, plus those assigned or escalated to them;
- manager (管理层), auditor (审计), admin (系统管理员) and superusers: everything;
- auditors are read-only, and with managers and admins they may read the audit trail.

Every list, page, search, export and attachment goes through `complaints_for` or
`access_complaint`; a complaint the user may not see answers "not found", never
"forbidden", so numbers cannot be probed.
"""
from __future__ import annotations

from django.db.models import Q

from qingting.core.errors import NotFound, PermissionDenied

from .models import Department, Role, User

SEE_ALL = {Role.MANAGER, Role.AUDITOR, Role.ADMIN}
READ_ONLY = {Role.AUDITOR}
SUPERVISING = {Role.SUPERVISOR, Role.MANAGER, Role.ADMIN}


def role_of(user) -> str | None:
    if not user or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.ADMIN
    return user.role


def sees_everything(user) -> bool:
    return role_of(user) in SEE_ALL


def visibility_filter(user) -> Q | None:
    """A Q over Complaint for what `user` may see; None means everything; Q(pk__in=[]) nothing."""
    role = role_of(user)
    if role is None:
        return Q(pk__in=[])
    if role in SEE_ALL:
        return None
    mine = Q(assignee_id=user.pk)
    if role == Role.SUPERVISOR:
        mine |= Q(escalated_to_id=user.pk)
        if user.department_id:
            mine |= Q(department__path__startswith=user.department.path)
        return mine
    if user.department_id:
        mine |= Q(department_id=user.department_id)
    return mine


def complaints_for(user, queryset=None):
    from qingting.complaints.models import Complaint

    qs = Complaint.objects.all() if queryset is None else queryset
    flt = visibility_filter(user)
    return qs if flt is None else qs.filter(flt)


def can_view(user, complaint) -> bool:
    return complaints_for(user).filter(pk=complaint.pk).exists()


def can_act(user, complaint) -> bool:
    """May change the complaint (visible and not read-only)."""
    return role_of(user) not in READ_ONLY and role_of(user) is not None and can_view(user, complaint)


def may_write(user) -> bool:
    role = role_of(user)
    return role is not None and role not in READ_ONLY


def may_read_audit(user) -> bool:
    return role_of(user) in {Role.AUDITOR, Role.MANAGER, Role.ADMIN, Role.SUPERVISOR}


def is_supervising(user) -> bool:
    return role_of(user) in SUPERVISING


def access_complaint(user, number: str, *, write: bool = False, for_update: bool = False):
    """Fetch a complaint by its public number for `user`, or raise NotFound / PermissionDenied."""
    from qingting.complaints.models import Complaint

    related = ("step", "variant", "customer", "department", "category", "category__parent", "assignee",
               "profile", "escalated_to")
    qs = complaints_for(user, Complaint.objects.select_related(*related))
    complaint = qs.filter(number=str(number)[:32]).first()
    if complaint is not None and for_update:
        # Lock the one row without joins (a join under FOR UPDATE would make PostgreSQL drop the
        # row when a concurrent transaction changed its step), then read it fresh under the lock.
        list(Complaint.objects.select_for_update().filter(pk=complaint.pk).values_list("pk", flat=True))
        complaint = qs.filter(pk=complaint.pk).first()
    if complaint is None:
        raise NotFound(f"投诉单 {number} 不存在或无权查看", f"Complaint {number} does not exist or is not visible to you")
    if write and not may_write(user):
        raise PermissionDenied("审计角色只能查看，不能修改", "Auditors have read-only access")
    return complaint


def direct_supervisor(department: Department | None, *, exclude: User | None = None) -> User | None:
    """The nearest active supervisor up the department tree (the 'direct supervisor')."""
    if department is None:
        return None
    for dept in department.ancestors():
        qs = User.objects.filter(department=dept, role=Role.SUPERVISOR, is_active=True).order_by("id")
        if exclude is not None:
            qs = qs.exclude(pk=exclude.pk)
        sup = qs.first()
        if sup:
            return sup
    return None


def next_level_up(department: Department | None) -> User | None:
    """After the direct supervisor: a manager (any active one, nearest department first)."""
    if department is not None:
        for dept in department.ancestors():
            m = User.objects.filter(department=dept, role=Role.MANAGER, is_active=True).order_by("id").first()
            if m:
                return m
    return User.objects.filter(role=Role.MANAGER, is_active=True).order_by("id").first()


# ------------------------------------------------------------------ crisis management (危机管理)
# Hotspots, crisis proposals and crises: supervisors, managers and admins act, auditors read;
# managers and admins decide on proposals and may lead any crisis. Inside a crisis its response
# team's roles (commander, spokesperson, liaison, scribe, legal, member) say who drafts,
# reviews, approves and publishes: the crisis app passes the actor's roles in that crisis.

CRISIS_VIEW = {Role.SUPERVISOR, Role.MANAGER, Role.ADMIN, Role.AUDITOR}
CRISIS_DECIDE = {Role.MANAGER, Role.ADMIN}
CRISIS_LEAD = "commander"
STATEMENT_PUBLISHERS = {"spokesperson", "liaison", "commander"}


def may_view_crisis(user) -> bool:
    return role_of(user) in CRISIS_VIEW


def may_manage_crisis(user) -> bool:
    """Acknowledge or dismiss hotspots, open crises, change them (within the team's roles)."""
    return role_of(user) in SUPERVISING


def may_decide_crisis(user) -> bool:
    """Confirm or decline a proposed crisis, edit the escalation rules, lead any crisis."""
    return role_of(user) in CRISIS_DECIDE


def require_crisis_view(user) -> None:
    if not may_view_crisis(user):
        raise PermissionDenied("危机预警仅对主管、管理层、管理员和审计开放",
                               "Crisis pages are open to supervisors, managers, administrators and auditors")


def require_crisis_manage(user) -> None:
    require_crisis_view(user)
    if not may_manage_crisis(user):
        raise PermissionDenied("审计角色只能查看，不能修改", "Auditors have read-only access")


def require_crisis_decide(user) -> None:
    if not may_decide_crisis(user):
        raise PermissionDenied("只有管理层可以确认或否决危机提议", "Only managers may confirm or decline a proposal")


def require_crisis_lead(user, team_roles: set[str]) -> None:
    """The crisis's commander, or a manager/admin (move its steps, set its team)."""
    if not (may_decide_crisis(user) or CRISIS_LEAD in team_roles):
        raise PermissionDenied("需由总指挥或管理层操作", "Only the commander or a manager may do this", code="wrong_role")


def require_crisis_team_role(team_roles: set[str], role: str, role_label: str, what_zh: str, what_en: str) -> None:
    """A step of a statement's approval that the policy gives to one team role."""
    if role not in team_roles:
        raise PermissionDenied(f"{what_zh}需由本危机应急小组的「{role_label}」操作",
                               f"{what_en} must be done by the crisis team's {role}", code="wrong_role",
                               fields={"required_role": role})


def require_statement_publisher(team_roles: set[str]) -> None:
    if not team_roles & STATEMENT_PUBLISHERS:
        raise PermissionDenied("发布声明需由发言人、联络人或总指挥操作",
                               "Publishing is done by the spokesperson, liaison or commander", code="wrong_role")
