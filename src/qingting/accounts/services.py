"""Account actions: API tokens, login throttling."""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.utils import timezone

from qingting.core import ratelimit
from qingting.core.errors import Invalid, NotFound, PermissionDenied

from .models import ApiToken, User

LOGIN_WINDOW = 300


def check_login_rate(ip: str, username: str) -> None:
    """At most LOGIN_RATE_LIMIT attempts per 5 minutes per IP and per user name."""
    limit = settings.LOGIN_RATE_LIMIT
    ratelimit.hit(f"login:ip:{ip}", limit=limit * 5, window=LOGIN_WINDOW)
    ratelimit.hit(f"login:user:{(username or '')[:150].lower()}", limit=limit, window=LOGIN_WINDOW)


def issue_token(*, username, password, ip: str, name: str = "api") -> str:
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
        raise Invalid("需要用户名和密码", "username and password are required",
                      fields={"username": "required", "password": "required"})
    check_login_rate(ip, username)
    user = authenticate(username=username[:150], password=password[:4096])
    if user is None:
        raise PermissionDenied("用户名或密码错误", "Wrong username or password", code="bad_credentials", status=401)
    with transaction.atomic(durable=True):
        _, raw = ApiToken.issue(user, name=name or "api")
    return raw


def revoke_token(*, actor: User, prefix: str) -> None:
    with transaction.atomic(durable=True):
        qs = ApiToken.objects.filter(prefix=prefix, revoked_at__isnull=True)
        if not (actor.is_superuser or actor.role == "admin"):
            qs = qs.filter(user=actor)
        if not qs.update(revoked_at=timezone.now()):
            raise NotFound("令牌不存在", "No such token")
