"""Forms of the crisis pages (parsing only; rules live in services)."""
from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone

from .models import CrisisType, EscalationRule, Severity


def _split(value: str) -> list[str]:
    return [v.strip() for v in (value or "").replace("，", ",").replace("、", ",").split(",") if v.strip()]


def parse_about(value: str) -> dict:
    """"brand=某品牌, series=某车系" → {"brand": "某品牌", "series": "某车系"}."""
    out = {}
    for part in _split(value):
        if "=" in part:
            k, v = part.split("=", 1)
            if k.strip() and v.strip():
                out[k.strip()] = v.strip()
    return out


def parse_dt(value):
    if not value:
        return None
    try:
        d = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return timezone.make_aware(d) if timezone.is_naive(d) else d


class CrisisForm(forms.Form):
    title = forms.CharField(label="标题", max_length=200)
    crisis_type = forms.ChoiceField(label="类型")
    severity = forms.ChoiceField(label="级别")
    summary = forms.CharField(label="概况", widget=forms.Textarea(attrs={"rows": 3}), required=False)
    line_to_take = forms.CharField(label="统一口径（一线客服看到的说法）", widget=forms.Textarea(attrs={"rows": 2}),
                                   required=False)
    products = forms.CharField(label="影响产品（逗号分隔）", required=False)
    stores = forms.CharField(label="影响门店", required=False)
    regions = forms.CharField(label="影响地区", required=False)
    match_about = forms.CharField(label="新投诉自动关联：投诉对象（如 brand=某品牌, series=某车系）", required=False)
    match_keywords = forms.CharField(label="新投诉自动关联：关键词（逗号分隔）", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["crisis_type"].choices = [(t.code, t.name) for t in CrisisType.objects.filter(active=True)]
        self.fields["severity"].choices = [(s.code, str(s)) for s in Severity.objects.all()]

    def clean(self):
        data = super().clean()
        for key in ("products", "stores", "regions", "match_keywords"):
            data[key] = _split(data.get(key, ""))
        return data


class RuleForm(forms.ModelForm):
    class Meta:
        model = EscalationRule
        fields = ["name", "min_count", "within_hours", "min_score", "crisis_type", "severity", "active"]
