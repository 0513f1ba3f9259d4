"""System users that act for a channel (the portal, the mailbox, imports, webhooks).

Each is a real user row so every event names who did it (`portal`, `mail`, `import`,
`webhook`). They have an unusable password (no one can log in as them) and the role
`admin` — not a person's role choice but a consequence of the access rules:
- they must reach any complaint they created, whatever its department (the portal
  appends a customer's message, the mailbox threads a reply): only manager/auditor/admin
  see everything, and auditors cannot write;
- the survey's "not satisfied → reopen" transition is allowed to supervisor/manager/admin;
- escalations are routed to supervisors and managers (access.direct_supervisor /
  next_level_up), never to admins, so a system user never receives work.
They are not staff or superusers and cannot use the admin site.
"""
from __future__ import annotations

from django.db import IntegrityError, transaction

from qingting.accounts.models import Role, User

SYSTEM_USERS = {
    "portal": "客户门户（系统）",
    "mail": "邮件受理（系统）",
    "import": "批量导入（系统）",
    "webhook": "接口受理（系统）",
    "intake": "重复投诉规则（系统）",
}


def system_user(name: str) -> User:
    if name not in SYSTEM_USERS:
        raise ValueError(f"unknown system user {name!r}")
    user = User.objects.filter(username=name).first()
    if user is not None:
        return user
    try:
        with transaction.atomic():
            user = User(username=name, display_name=SYSTEM_USERS[name], role=Role.ADMIN, is_staff=False,
                        is_superuser=False, is_active=True)
            user.set_unusable_password()
            user.save()
            return user
    except IntegrityError:
        return User.objects.get(username=name)


def is_system_user(user) -> bool:
    return bool(user and getattr(user, "username", None) in SYSTEM_USERS and not user.has_usable_password())
