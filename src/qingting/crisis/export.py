"""A crisis review (总结复盘) and the handbook (危机处理手册) as Markdown and PDF.

PDF: reportlab with its built-in CID font STSong-Light (no font file to ship)."""
from __future__ import annotations

import io

from django.utils import timezone

from qingting.core.pdf import FONT
from qingting.core.pdf import register_cjk_font as _fonts

from .models import CrisisEvent, Review


def _t(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"


EVENT_LABELS = {
    "crisis.opened": "开启危机", "crisis.updated": "修改信息", "crisis.step_advanced": "推进环节",
    "crisis.complaints_linked": "关联投诉", "crisis.complaint_unlinked": "取消关联", "crisis.mass_action": "批量操作",
    "crisis.mass_action_started": "开始批量操作", "statement.drafted": "起草声明", "statement.reviewed": "审核声明",
    "statement.returned": "退回声明", "statement.approved": "批准声明", "statement.published": "发布声明",
    "crisis.communication": "沟通记录", "crisis.enquiry": "收到问询", "crisis.enquiry_answered": "答复问询",
    "crisis.decision": "决策", "crisis.checklist_done": "完成清单事项", "crisis.checklist_added": "新增清单事项",
    "crisis.task_added": "分派任务", "crisis.task_done": "完成任务", "crisis.team_added": "加入应急小组",
    "crisis.team_removed": "离开应急小组", "crisis.review_updated": "更新复盘", "crisis.corrective_action": "整改措施",
    "crisis.paged": "通知相关人员", "crisis.hotspot_linked": "关联热点",
}


def _event_line(e: CrisisEvent) -> str:
    label = EVENT_LABELS.get(e.kind, e.kind)
    detail = e.note or ", ".join(f"{k}={v}" for k, v in (e.after or {}).items() if k not in ("failures", "numbers",
                                                                                              "team", "users"))
    return f"{_t(e.at)} {label}{'：' + detail[:160] if detail else ''}{' — ' + e.actor.label if e.actor_id else ''}"


def crisis_markdown(crisis) -> str:
    review = Review.objects.filter(crisis=crisis).first()
    lines = [f"# {crisis.number} {crisis.title}", "",
             f"- 类型：{crisis.crisis_type.name}", f"- 级别：{crisis.severity}",
             f"- 开启：{_t(crisis.opened_at)}", f"- 结束：{_t(crisis.closed_at)}", f"- 环节：{crisis.get_status_display()}"]
    scope = crisis.scope or {}
    for key, label in (("products", "产品"), ("stores", "门店"), ("regions", "地区")):
        if scope.get(key):
            lines.append(f"- 影响{label}：{'、'.join(scope[key])}")
    if crisis.summary:
        lines += ["", "## 概况", "", crisis.summary]
    lines += ["", "## 时间线", ""]
    lines += [f"- {_event_line(e)}" for e in CrisisEvent.objects.filter(crisis=crisis).select_related("actor")
              .order_by("at", "id")]
    lines += ["", "## 总结复盘", ""]
    if review:
        lines += ["### 做得好的", "", review.what_worked or "—", "", "### 需要改进的", "", review.what_did_not or "—"]
        if review.lessons:
            lines += ["", "### 经验教训", "", review.lessons]
        lines += ["", "### 整改措施", "", "| 措施 | 负责人 | 期限 | 状态 |", "|---|---|---|---|"]
        for a in review.actions.select_related("owner"):
            lines.append(f"| {a.title} | {a.owner.label} | {a.due_date:%Y-%m-%d} | {'已完成' if a.done_at else '进行中'} |")
    else:
        lines.append("（尚未填写）")
    return "\n".join(lines) + "\n"


def handbook_markdown(data: dict) -> str:
    lines = ["# 危机处理手册", "", f"生成时间：{_t(timezone.now())}", "", "## 应对预案", ""]
    for name, items in data["playbooks"]:
        lines += [f"### {name}", ""]
        for it in items:
            due = "按级别的初步声明时限" if it.due_from_severity else (f"{it.due_hours} 小时内" if it.due_hours else "")
            lines.append(f"- 【{it.get_step_display()}】{it.title}（{it.get_owner_role_display()}"
                         f"{'，' + it.department if it.department else ''}{'，' + due if due else ''}）")
        lines.append("")
    lines += ["## 历次危机复盘", ""]
    for r in data["reviews"]:
        lines += [crisis_markdown(r.crisis).replace("\n# ", "\n### ").replace("# ", "### ", 1), ""]
    return "\n".join(lines) + "\n"


def markdown_pdf(markdown: str, title: str) -> bytes:
    """Render our simple Markdown (headings, bullets, tables, paragraphs) to a PDF."""
    _fonts()
    from xml.sax.saxutils import escape

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    body = ParagraphStyle("body", fontName=FONT, fontSize=10, leading=15, wordWrap="CJK")
    h = {1: ParagraphStyle("h1", parent=body, fontSize=17, leading=24, spaceAfter=6),
         2: ParagraphStyle("h2", parent=body, fontSize=14, leading=20, spaceBefore=8, spaceAfter=4),
         3: ParagraphStyle("h3", parent=body, fontSize=12, leading=17, spaceBefore=6, spaceAfter=2)}
    bullet = ParagraphStyle("bullet", parent=body, leftIndent=10, bulletIndent=0)
    flow = []
    for raw in markdown.splitlines():
        line = raw.rstrip()
        if not line:
            flow.append(Spacer(1, 4))
            continue
        if line.startswith("#"):
            level = min(3, len(line) - len(line.lstrip("#")))
            flow.append(Paragraph(escape(line.lstrip("#").strip()), h[level]))
        elif line.startswith("- "):
            flow.append(Paragraph(escape(line[2:]), bullet, bulletText="●"))
        elif line.startswith("|"):
            if set(line) <= set("|-"):
                continue
            flow.append(Paragraph(escape("｜".join(c.strip() for c in line.strip("|").split("|"))), body))
        else:
            flow.append(Paragraph(escape(line), body))
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, title=title, leftMargin=18 * mm, rightMargin=18 * mm,
                            topMargin=16 * mm, bottomMargin=16 * mm)
    doc.build(flow or [Paragraph("—", body)])
    return buf.getvalue()
