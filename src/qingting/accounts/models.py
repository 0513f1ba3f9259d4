"""Departments (a tree: company → store/branch → team), users with roles, API tokens."""
from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models, transaction
from django.utils import timezone


class Role(models.TextChoices):
    AGENT = "agent", "投诉专员"
    SUPERVISOR = "supervisor", "主管"
    MANAGER = "manager", "管理层"
    ADMIN = "admin", "系统管理员"
    AUDITOR = "auditor", "审计"


class DepartmentKind(models.TextChoices):
    COMPANY = "company", "公司"
    REGION = "region", "区域"
    STORE = "store", "门店/分支机构"
    TEAM = "team", "班组"


class Department(models.Model):
    code = models.SlugField("编码", max_length=64, unique=True)
    name = models.CharField("名称", max_length=120)
    kind = models.CharField("类型", max_length=16, choices=DepartmentKind.choices, default=DepartmentKind.TEAM)
    parent = models.ForeignKey("self", verbose_name="上级部门", null=True, blank=True,
                               on_delete=models.PROTECT, related_name="children")
    # Materialised path "/1/4/9/": a subtree is one indexed prefix query.
    path = models.CharField(max_length=255, editable=False, db_index=True, default="")
    region = models.CharField("地区", max_length=64, blank=True)

    class Meta:
        verbose_name = "部门"
        verbose_name_plural = "部门"
        ordering = ["path"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        with transaction.atomic():
            if self.pk and self.parent_id:
                parent_path = Department.objects.values_list("path", flat=True).get(pk=self.parent_id)
                if self.parent_id == self.pk or f"/{self.pk}/" in parent_path:
                    raise ValueError("a department cannot move under itself or its own subtree")
            super().save(*args, **kwargs)
            new_path = (Department.objects.values_list("path", flat=True).get(pk=self.parent_id)
                        if self.parent_id else "/") + f"{self.pk}/"
            if new_path != self.path:
                old_path = self.path
                Department.objects.filter(pk=self.pk).update(path=new_path)
                if old_path:
                    # move the whole subtree in one statement-per-row pass (subtrees are small)
                    for child in Department.objects.filter(path__startswith=old_path).exclude(pk=self.pk):
                        Department.objects.filter(pk=child.pk).update(path=new_path + child.path[len(old_path):])
                self.path = new_path

    def subtree(self):
        return Department.objects.filter(path__startswith=self.path)

    def ancestors(self):
        ids = [int(p) for p in self.path.strip("/").split("/") if p]
        return sorted(Department.objects.filter(pk__in=ids), key=lambda d: len(d.path), reverse=True)


class User(AbstractUser):
    role = models.CharField("角色", max_length=16, choices=Role.choices, default=Role.AGENT, db_index=True)
    department = models.ForeignKey(Department, verbose_name="部门", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="members")
    display_name = models.CharField("姓名", max_length=64, blank=True)
    mobile = models.CharField("手机", max_length=32, blank=True)

    class Meta:
        verbose_name = "用户"
        verbose_name_plural = "用户"

    def __str__(self):
        return self.display_name or self.username

    @property
    def label(self) -> str:
        return self.display_name or self.username


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for integrations. Only its hash is stored; the token is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens", verbose_name="用户")
    name = models.CharField("名称", max_length=100, default="api")
    prefix = models.CharField("前缀", max_length=12, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField("创建时间", default=timezone.now, editable=False)
    last_used_at = models.DateTimeField("最近使用", null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField("吊销时间", null=True, blank=True)

    class Meta:
        verbose_name = "API 令牌"
        verbose_name_plural = "API 令牌"

    def __str__(self):
        return f"{self.prefix}… ({self.user})"

    @classmethod
    def issue(cls, user: User, name: str = "api") -> tuple["ApiToken", str]:
        raw = "qt_" + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name[:100], prefix=raw[:10], token_hash=hash_token(raw))
        return token, raw
