"""Training records: a role-play session is its scenario, seed and the trainee's lines (the
engine replays them deterministically); the result is stored when it ends."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Assignment(models.Model):
    trainer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    trainee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="training_assignments")
    scenario_id = models.CharField("情景", max_length=64)
    note = models.CharField("说明", max_length=200, blank=True)
    due_at = models.DateTimeField("完成期限", null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "演练任务"
        verbose_name_plural = "演练任务"


class TrainingSession(models.Model):
    trainee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="training_sessions")
    assignment = models.ForeignKey(Assignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions")
    scenario_id = models.CharField("情景", max_length=64, db_index=True)
    seed = models.PositiveIntegerField("随机种子")
    lines = models.JSONField("学员发言", default=list)
    outcome = models.CharField("结果", max_length=16, blank=True)
    score = models.PositiveSmallIntegerField("得分", null=True, blank=True)
    principles = models.JSONField("分项得分", default=dict, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "演练记录"
        verbose_name_plural = "演练记录"
        indexes = [models.Index(fields=["trainee", "started_at"], name="training_trainee")]


class QuizAttempt(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="quiz_attempts")
    score = models.PositiveSmallIntegerField("得分")
    by_principle = models.JSONField(default=dict)
    answers = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "测验记录"
        verbose_name_plural = "测验记录"


class CustomScenario(models.Model):
    """A role-play scenario a trainer made from a closed complaint (or wrote): TOML in the same
    schema as the shipped scenarios, validated by the engine on save."""

    scenario_id = models.CharField("情景编号", max_length=64, unique=True)
    title = models.CharField("标题", max_length=200)
    content = models.TextField("内容 (TOML)")
    source_number = models.CharField("来源投诉", max_length=32, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    active = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = "自建演练情景"
        verbose_name_plural = "自建演练情景"
