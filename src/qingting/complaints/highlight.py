"""Split a complaint's description into segments with the triage evidence marked, so the page
can highlight why each label was given (the template escapes every segment)."""
from __future__ import annotations

from .triage_link import description_offset

MAX_SPANS = 200


def _spans(triage: dict):
    """(start, end, label) over the analysed text (triage_link.triage_text)."""
    def labelled(items, prefix):
        for item in items or []:
            if not isinstance(item, dict):
                continue
            name = item.get("zh") or item.get("code") or ""
            for ev in item.get("evidence") or []:
                if isinstance(ev, dict) and isinstance(ev.get("start"), int) and isinstance(ev.get("end"), int):
                    yield ev["start"], ev["end"], f"{prefix}{name}", "signal" if prefix == "危机信号：" else "evidence"

    if not isinstance(triage, dict):
        return []
    spans = []
    spans += labelled(triage.get("signals"), "危机信号：")
    spans += labelled(triage.get("personas"), "客户类型：")
    for key, prefix in (("emotion", "情绪："), ("category", "类别："), ("nature", "性质：")):
        item = triage.get(key)
        if isinstance(item, dict):
            if key == "category":
                level2 = item.get("level2") if isinstance(item.get("level2"), dict) else {}
                level1 = item.get("level1") if isinstance(item.get("level1"), dict) else {}
                item = {"zh": level2.get("zh") or level1.get("zh"), "evidence": item.get("evidence")}
            spans += labelled([item], prefix)
    for pii in triage.get("pii") or []:
        if isinstance(pii, dict) and isinstance(pii.get("start"), int) and isinstance(pii.get("end"), int):
            spans.append((pii["start"], pii["end"], f"个人信息：{pii.get('zh') or pii.get('kind') or ''}", "pii"))
    return spans[:MAX_SPANS]


def evidence_segments(triage, subject: str, description: str) -> list[dict]:
    offset = description_offset(triage, subject, description)
    marks = []
    for start, end, label, css in _spans(triage):
        start, end = start - offset, end - offset
        if end <= 0 or start >= len(description) or end <= start:
            continue
        marks.append((max(0, start), min(len(description), end), label, css))
    marks.sort(key=lambda m: (m[0], -m[1]))
    segments, pos = [], 0
    for start, end, label, css in marks:
        if start < pos:  # overlapping: extend the label of the open mark instead of nesting
            if segments and segments[-1].get("label") and end <= pos:
                if label not in segments[-1]["label"]:
                    segments[-1]["label"] += "；" + label
            continue
        if start > pos:
            segments.append({"text": description[pos:start]})
        segments.append({"text": description[start:end], "label": label, "css": css})
        pos = end
    if pos < len(description):
        segments.append({"text": description[pos:]})
    return segments
