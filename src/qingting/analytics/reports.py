"""Reports: the period report (PDF with charts and commentary, XLSX with the tables) and the
regulatory statistics report for the finance profile.

PDF: reportlab with its built-in CID font STSong-Light (no font file to ship); charts are
reportlab.graphics drawings. XLSX: openpyxl in write-only mode.
"""
from __future__ import annotations

import datetime as dt
import io

from django.conf import settings
from django.db.models import Count, Q

from qingting.accounts.models import Department
from qingting.complaints.models import Category
from qingting.core.pdf import FONT  # noqa: E402
from qingting.core.pdf import register_cjk_font as _fonts  # noqa: E402

from . import queries
from .models import ComplaintFact
from .scope import Scope


def fmt_pct(v) -> str:
    return "—" if v is None else f"{v:.1f}%"


def fmt_dur(s) -> str:
    if s is None:
        return "—"
    if s < 3600:
        return f"{s / 60:.0f} 分钟"
    if s < 172800:
        return f"{s / 3600:.1f} 小时"
    return f"{s / 86400:.1f} 天"


# ------------------------------------------------------------------ commentary

def commentary(data: dict) -> list[str]:
    """A short generated reading of the numbers: changes vs previous period, top problems, SLA, satisfaction."""
    k = data["kpis"]
    lines = []
    if k["n"] == 0:
        lines.append("本期所选范围内没有投诉。" + (f"上期为 {k['prev_n']} 件。" if k["prev_n"] else ""))
        return lines
    if k["change"] is None:
        lines.append(f"本期共受理投诉 {k['n']} 件，上期无数据，无法计算环比。")
    else:
        word = "上升" if k["change"] > 0 else "下降" if k["change"] < 0 else "持平"
        lines.append(f"本期共受理投诉 {k['n']} 件，较上期（{k['prev_n']} 件）{word} {abs(k['change']):.1f}%。")
    prev_scope_changes = data.get("category_changes") or []
    if prev_scope_changes:
        parts = [f"{c['name']}（{c['prev']}→{c['n']} 件，{'+' if c['delta'] > 0 else ''}{c['delta']}）"
                 for c in prev_scope_changes[:3]]
        lines.append("变化最大的类别：" + "；".join(parts) + "。")
    top = [p for p in data["pareto_l2"] if p["key"]][:3]
    if top:
        lines.append("前三大问题：" + "、".join(f"{p['name']}（{p['n']} 件，占 {fmt_pct(p['share'])}）" for p in top) + "。")
    vital = [p for p in data["pareto_l1"] if p["vital"]]
    if vital and len(data["pareto_l1"]) > 2:
        lines.append(f"帕累托：{len(vital)} 个一级类别集中了约 80% 的投诉，应优先整改。")
    d = data["durations"]
    lines.append(f"首次响应中位数 {fmt_dur(d['first_response']['p50_s'])}（P90 {fmt_dur(d['first_response']['p90_s'])}），"
                 f"办结时长中位数 {fmt_dur(d['resolution']['p50_s'])}（P90 {fmt_dur(d['resolution']['p90_s'])}），"
                 f"办结率 {fmt_pct(k['closed_rate'])}。")
    s = data["sla"]
    if s.get("available"):
        lines.append(f"时限达标率 {fmt_pct(s['compliance'])}，超时 {s['breached']} 件。")
    c = data["csat"]
    if c.get("available"):
        lines.append(f"满意度评价 {c['n']} 份，平均 {c['avg'] if c['avg'] is not None else '—'} 星，"
                     f"满意（4–5 星）占 {fmt_pct(c['satisfied_rate'])}。")
    lines.append(f"重开率 {fmt_pct(k['reopen_rate'])}，重复投诉率 {fmt_pct(k['repeat_rate'])}，"
                 f"升级率 {fmt_pct(k['escalation_rate'])}，疑似恶意投诉 {fmt_pct(k['malicious_rate'])}。")
    return lines


def category_changes(scope: Scope) -> list[dict]:
    cur = {p["key"]: p for p in queries.pareto_categories(scope, level=2) if p["key"]}
    prev = {p["key"]: p for p in queries.pareto_categories(scope.with_period(scope.period.previous()), level=2)
            if p["key"]}
    out = []
    for key in set(cur) | set(prev):
        n, pn = cur.get(key, {}).get("n", 0), prev.get(key, {}).get("n", 0)
        out.append({"key": key, "name": (cur.get(key) or prev.get(key))["name"], "n": n, "prev": pn, "delta": n - pn})
    return sorted(out, key=lambda c: -abs(c["delta"]))


def report_data(scope: Scope) -> dict:
    data = queries.dashboard(scope)
    data["category_changes"] = category_changes(scope)
    data["agents"] = queries.agents(scope)
    data["improvement"] = queries.improvement(scope)
    data["commentary"] = commentary(data)
    return data


def _filename(prefix: str, scope: Scope, fmt: str) -> str:
    label = scope.params.get("period") or f"{scope.period.start:%Y%m%d}-{scope.period.end:%Y%m%d}"
    dept = f"-{scope.department.code}" if scope.department else ""
    return f"{prefix}-{label}{dept}.{fmt}"


def build_report(scope: Scope, fmt: str, *, generated_at=None) -> tuple[bytes, str]:
    data = report_data(scope)
    if fmt == "pdf":
        return report_pdf(scope, data, generated_at=generated_at), _filename("qingting-report", scope, "pdf")
    return report_xlsx(scope, data), _filename("qingting-report", scope, "xlsx")


def _scope_text(scope: Scope) -> str:
    parts = [f"期间：{scope.period.start} 至 {scope.period.end}"]
    if scope.department:
        parts.append(f"部门：{scope.department.name}")
    for key, label in (("channel", "渠道"), ("category", "类别"), ("priority", "优先级"), ("brand", "品牌"),
                       ("series", "车系"), ("product", "产品")):
        if scope.params.get(key):
            parts.append(f"{label}：{scope.params[key]}")
    return "；".join(parts)


# ------------------------------------------------------------------ PDF

def _styles():
    from reportlab.lib.styles import ParagraphStyle

    base = ParagraphStyle("base", fontName=FONT, fontSize=9.5, leading=14, wordWrap="CJK")
    return {"base": base, "title": ParagraphStyle("title", parent=base, fontSize=18, leading=24, spaceAfter=6),
            "h2": ParagraphStyle("h2", parent=base, fontSize=12.5, leading=18, spaceBefore=10, spaceAfter=4),
            "small": ParagraphStyle("small", parent=base, fontSize=8, leading=11, textColor="#616e7c")}


def _table(rows, widths=None, header=True):
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    st = _styles()["base"]
    from reportlab.platypus import Paragraph

    body = [[Paragraph(str(c), st) if isinstance(c, str) and len(c) > 18 else c for c in r] for r in rows]
    t = Table(body, colWidths=widths, repeatRows=1 if header else 0)
    style = [("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTSIZE", (0, 0), (-1, -1), 9),
             ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#cbd2d9")), ("VALIGN", (0, 0), (-1, -1), "TOP")]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e6f2ee")))
    t.setStyle(TableStyle(style))
    return t


def _line_chart(points, width=480, height=170):
    from reportlab.graphics.charts.linecharts import HorizontalLineChart
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors

    d = Drawing(width, height)
    if not points:
        d.add(String(width / 2, height / 2, "暂无数据", fontName=FONT, textAnchor="middle"))
        return d
    lc = HorizontalLineChart()
    lc.x, lc.y, lc.width, lc.height = 40, 30, width - 60, height - 45
    cur = [p["n"] for p in points]
    prev = [p["prev"] if p["prev"] is not None else 0 for p in points]
    lc.data = [cur, prev]
    lc.categoryAxis.categoryNames = [p["label"] if (i % max(1, len(points) // 10) == 0) else "" for i, p in enumerate(points)]
    lc.categoryAxis.labels.fontName = FONT
    lc.categoryAxis.labels.fontSize = 7
    lc.valueAxis.valueMin = 0
    lc.valueAxis.labels.fontSize = 7
    lc.lines[0].strokeColor = colors.HexColor("#0b6e4f")
    lc.lines[0].strokeWidth = 1.6
    lc.lines[1].strokeColor = colors.HexColor("#a0aec0")
    lc.lines[1].strokeDashArray = [3, 2]
    d.add(lc)
    d.add(String(width - 10, height - 10, "实线：本期  虚线：上期", fontName=FONT, fontSize=7, textAnchor="end"))
    return d


def _bar_chart(items, width=480, height=180, title=""):
    from reportlab.graphics.charts.barcharts import HorizontalBarChart
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors

    d = Drawing(width, height)
    items = [i for i in items if i["n"]][:10]
    if not items:
        d.add(String(width / 2, height / 2, "暂无数据", fontName=FONT, textAnchor="middle"))
        return d
    items = list(reversed(items))
    bc = HorizontalBarChart()
    bc.x, bc.y, bc.width, bc.height = 150, 10, width - 180, height - 20
    bc.data = [[i["n"] for i in items]]
    bc.categoryAxis.categoryNames = [i["name"][:14] for i in items]
    bc.categoryAxis.labels.fontName = FONT
    bc.categoryAxis.labels.fontSize = 8
    bc.valueAxis.valueMin = 0
    bc.valueAxis.labels.fontSize = 7
    bc.bars[0].fillColor = colors.HexColor("#c05621")
    bc.barLabelFormat = "%d"
    bc.barLabels.fontSize = 7
    bc.barLabels.nudge = 8
    d.add(bc)
    return d


def report_pdf(scope: Scope, data: dict, *, generated_at=None) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    _fonts()
    st = _styles()
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=16 * mm, rightMargin=16 * mm, topMargin=14 * mm,
                            bottomMargin=14 * mm, title="投诉分析报告", author=settings.QINGTING_ORG_NAME)
    k, d = data["kpis"], data["durations"]
    story = [Paragraph(f"{settings.QINGTING_ORG_NAME} 投诉分析报告｜{scope.period.label}", st["title"]),
             Paragraph(_scope_text(scope), st["small"]),
             Paragraph(f"生成时间：{(generated_at or dt.datetime.now()):%Y-%m-%d %H:%M}", st["small"]),
             Paragraph("一、要点", st["h2"])]
    story += [Paragraph("● " + line, st["base"]) for line in data["commentary"]]
    story += [Paragraph("二、核心指标", st["h2"]), _table([
        ["指标", "本期", "说明"],
        ["投诉量", str(k["n"]), f"上期 {k['prev_n']}，环比 {fmt_pct(k['change'])}"],
        ["办结率", fmt_pct(k["closed_rate"]), f"未结 {k['open']} 件"],
        ["首次响应 中位数 / P90", f"{fmt_dur(d['first_response']['p50_s'])} / {fmt_dur(d['first_response']['p90_s'])}",
         "首条回复客户的消息或首次推进环节"],
        ["办结时长 中位数 / P90", f"{fmt_dur(d['resolution']['p50_s'])} / {fmt_dur(d['resolution']['p90_s'])}", "受理至结案"],
        ["时限达标率", fmt_pct(data["sla"].get("compliance")) if data["sla"].get("available") else "—",
         f"超时 {data['sla'].get('breached', '—')} 件" if data["sla"].get("available") else "时限模块未启用"],
        ["满意度", str(data["csat"].get("avg") or "—") if data["csat"].get("available") else "—",
         f"{data['csat'].get('n', 0)} 份评价" if data["csat"].get("available") else "评价模块未启用"],
        ["重开率 / 重复投诉率", f"{fmt_pct(k['reopen_rate'])} / {fmt_pct(k['repeat_rate'])}", ""],
        ["升级率 / 疑似恶意", f"{fmt_pct(k['escalation_rate'])} / {fmt_pct(k['malicious_rate'])}", ""],
        ["万单（台）投诉率", str(data["per_10k"].get("per_10k") or "—") if data["per_10k"].get("available") else "—",
         "" if data["per_10k"].get("available") else data["per_10k"].get("reason", "")],
    ], widths=[45 * mm, 45 * mm, 88 * mm])]
    story += [Paragraph("三、投诉量趋势", st["h2"]), _line_chart(data["volume"]["points"]),
              Paragraph("四、问题分布（帕累托）", st["h2"]), _bar_chart(data["pareto_l2"]),
              _table([["二级类别", "件数", "占比", "累计"]] +
                     [[p["name"], p["n"], fmt_pct(p["share"]), fmt_pct(p["cum"])] for p in data["pareto_l2"][:10]],
                     widths=[80 * mm, 25 * mm, 30 * mm, 30 * mm])]
    items = data["top_items"]["series"] or data["top_items"]["product"] or data["top_items"]["brand"]
    if items:
        story += [Paragraph("五、投诉最多的车系/商品", st["h2"]), _bar_chart(items, height=150)]
    hm = data["heatmap"]
    if hm["departments"]:
        dept_tot = {}
        for c, dpt, n in hm["cells"]:
            dept_tot[dpt] = dept_tot.get(dpt, 0) + n
        story += [Paragraph("六、部门分布", st["h2"]),
                  _table([["部门", "件数"]] + [[hm["departments"][i]["name"], dept_tot.get(i, 0)]
                                             for i in range(len(hm["departments"]))], widths=[90 * mm, 30 * mm])]
    if data["improvement"]:
        story += [Paragraph("七、整改跟踪", st["h2"]), _table(
            [["问题", "本期", "整改措施", "之后日均变化"]] +
            [[r["name"], r["n"], "；".join(a["root_cause"][:40] for a in r["actions"][:2]) or "尚无闭环记录",
              fmt_pct(r["change"]) if r["change"] is not None else "待观察"] for r in data["improvement"]],
            widths=[40 * mm, 18 * mm, 90 * mm, 30 * mm])]
    if data["agents"]:
        story += [Paragraph("八、专员工作量（前 15）", st["h2"]), _table(
            [["专员", "在办", "本期办结", "办结时长中位数", "满意度", "重开"]] +
            [[a["name"], a["open"], a["handled"], fmt_dur(a["median_s"]), a["csat"] if a["csat"] is not None else "—",
              a["reopened"]] for a in data["agents"][:15]])]
    story += [Spacer(1, 8), Paragraph("“—”表示无数据（分母为 0 时不计算比率）。口径见 docs/analytics.md。", st["small"])]
    doc.build(story)
    return buf.getvalue()


# ------------------------------------------------------------------ XLSX

def _sheet(wb, title, header, rows):
    ws = wb.create_sheet(title[:31])
    ws.append(header)
    for r in rows:
        ws.append(["—" if v is None else v for v in r])
    return ws


def report_xlsx(scope: Scope, data: dict) -> bytes:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    k, d = data["kpis"], data["durations"]
    _sheet(wb, "概要", ["项目", "值"], [
        ["范围", _scope_text(scope)], ["投诉量", k["n"]], ["上期投诉量", k["prev_n"]], ["环比%", k["change"]],
        ["办结", k["closed"]], ["办结率%", k["closed_rate"]],
        ["首次响应中位数(小时)", _h(d["first_response"]["p50_s"])], ["首次响应P90(小时)", _h(d["first_response"]["p90_s"])],
        ["办结时长中位数(小时)", _h(d["resolution"]["p50_s"])], ["办结时长P90(小时)", _h(d["resolution"]["p90_s"])],
        ["时限达标率%", data["sla"].get("compliance")], ["超时件数", data["sla"].get("breached")],
        ["满意度平均", data["csat"].get("avg")], ["评价份数", data["csat"].get("n")],
        ["重开率%", k["reopen_rate"]], ["重复投诉率%", k["repeat_rate"]], ["升级率%", k["escalation_rate"]],
        ["疑似恶意%", k["malicious_rate"]], ["万单投诉率", data["per_10k"].get("per_10k")],
        *[["点评", line] for line in data["commentary"]]])
    _sheet(wb, "趋势", ["期间", "本期", "上期同位"], [[p["label"], p["n"], p["prev"]] for p in data["volume"]["points"]])
    for key, title in (("pareto_l1", "一级类别"), ("pareto_l2", "二级类别"), ("pareto_root", "根本原因")):
        _sheet(wb, title, ["名称", "件数", "占比%", "累计%", "重点(80%)"],
               [[p["name"], p["n"], p["share"], p["cum"], "是" if p["vital"] else ""] for p in data[key]])
    hm = data["heatmap"]
    grid = {(dpt, c): n for c, dpt, n in hm["cells"]}
    _sheet(wb, "部门×类别", ["部门"] + [c["name"] for c in hm["categories"]],
           [[dep["name"]] + [grid.get((i, j), 0) for j in range(len(hm["categories"]))]
            for i, dep in enumerate(hm["departments"])])
    ti = data["top_items"]
    _sheet(wb, "车系商品", ["维度", "名称", "件数"],
           [[label, i["name"], i["n"]] for key, label in (("brand", "品牌/店铺"), ("series", "车系"), ("product", "车型/产品"))
            for i in ti[key]])
    _sheet(wb, "情绪与客户类型", ["维度", "名称", "件数"],
           [["情绪", i["name"], i["n"]] for i in data["mix"]["emotion"]] +
           [["客户类型", i["name"], i["n"]] for i in data["mix"]["persona"]])
    if data["sla"].get("available"):
        _sheet(wb, "办理时限", ["类型", "达标", "超时", "进行中", "达标率%"],
               [[x["kind"], x["met"], x["breached"], x["open"], x["compliance"]] for x in data["sla"]["kinds"]])
    if data["csat"].get("available"):
        _sheet(wb, "满意度", ["星级", "份数"], [[x["stars"], x["n"]] for x in data["csat"]["dist"]])
    _sheet(wb, "专员", ["专员", "部门", "在办", "本期办结", "办结时长中位数(小时)", "满意度", "重开", "重开率%"],
           [[a["name"], a["department"], a["open"], a["handled"], _h(a["median_s"]), a["csat"], a["reopened"],
             a["reopen_rate"]] for a in data["agents"]])
    _sheet(wb, "整改跟踪", ["问题", "本期件数", "占比%", "整改措施", "本期日均", "之后日均", "变化%"],
           [[r["name"], r["n"], r["share"], "；".join(f"{a['number']} {a['root_cause']} → {a['lessons']}"
                                                      for a in r["actions"]), r["per_day_before"], r["per_day_after"],
             r["change"]] for r in data["improvement"]])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _h(seconds):
    return None if seconds is None else round(seconds / 3600, 2)


# ------------------------------------------------------------------ regulatory statistics (finance)

DECIDED_WITHIN = (15, 30, 60)


def regulatory_data(scope: Scope) -> dict:
    """Counts by business category, cause (category) and region, and the share decided within 15/30/60 days.

    Covers complaints of the finance profile received in the period (all profiles when none is finance).
    """
    qs = ComplaintFact.objects.filter(scope.fact_q())
    from qingting.complaints.models import IndustryProfile

    finance = IndustryProfile.objects.filter(code="finance").first()
    if finance is not None and qs.filter(profile_id=finance.pk).exists():
        qs = qs.filter(profile_id=finance.pk)
    decided = {f"d{n}": Count("day", filter=Q(resolution_s__isnull=False, resolution_s__lte=n * 86400))
               for n in DECIDED_WITHIN}
    agg = {"n": Count("day"), "closed": Count("day", filter=Q(closed=True)), **decided}

    def table(group_rows, names):
        out = []
        for key, row in group_rows:
            out.append({"name": names(key), **row, **{f"p{n}": queries.rate(row[f"d{n}"], row["n"])
                                                     for n in DECIDED_WITHIN}})
        return sorted(out, key=lambda r: -r["n"])

    def grouped(col):
        return [(r[col], r) for r in qs.values(col).annotate(**agg)]

    cats = {pk: name for pk, name in Category.objects.values_list("id", "name")}
    depts = dict(Department.objects.values_list("id", "region"))
    by_region: dict[str, dict] = {}
    for key, row in grouped("department_id"):
        region = depts.get(key) or "未填写地区"
        acc = by_region.setdefault(region, {k: 0 for k in row if k != "department_id"})
        for k2, v in row.items():
            if k2 != "department_id":
                acc[k2] += v
    total = qs.aggregate(**agg)
    return {"total": {"name": "合计", **total, **{f"p{n}": queries.rate(total[f"d{n}"], total["n"]) for n in DECIDED_WITHIN}},
            "business": table(grouped("business_category"), lambda k: k or "未填写"),
            "cause_l1": table(grouped("category1_id"), lambda k: cats.get(k, "未分类")),
            "cause_l2": table(grouped("category_id"), lambda k: cats.get(k, "未分类")),
            "region": table(list(by_region.items()), lambda k: k)}


REG_HEADER = ["项目", "投诉件数", "已办结", "15日内办结", "占比", "30日内办结", "占比", "60日内办结", "占比"]


def _reg_row(r):
    return [r["name"], r["n"], r["closed"], r["d15"], fmt_pct(r["p15"]), r["d30"], fmt_pct(r["p30"]), r["d60"],
            fmt_pct(r["p60"])]


def build_regulatory(scope: Scope, fmt: str, *, generated_at=None) -> tuple[bytes, str]:
    data = regulatory_data(scope)
    sections = (("一、按业务类别", "business"), ("二、按投诉原因（一级）", "cause_l1"), ("三、按投诉原因（二级）", "cause_l2"),
                ("四、按地区", "region"))
    if fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        for title, key in sections:
            _sheet(wb, title[2:], REG_HEADER, [_reg_row(r) for r in data[key]] + [_reg_row(data["total"])])
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue(), _filename("qingting-regulatory", scope, "xlsx")
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    _fonts()
    st = _styles()
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=landscape(A4), leftMargin=14 * mm, rightMargin=14 * mm, topMargin=12 * mm,
                            bottomMargin=12 * mm, title="消费投诉统计表")
    story = [Paragraph(f"{settings.QINGTING_ORG_NAME} 消费投诉统计表", st["title"]),
             Paragraph(f"报送期间：{scope.period.start} 至 {scope.period.end}　　{_scope_text(scope)}", st["small"]),
             Paragraph(f"填报时间：{(generated_at or dt.datetime.now()):%Y-%m-%d}　　单位：件；办结时限自受理日起按自然日计算",
                       st["small"])]
    widths = [70 * mm] + [23 * mm] * 8
    for title, key in sections:
        story += [Paragraph(title, st["h2"]), _table([REG_HEADER] + [_reg_row(r) for r in data[key]] +
                                                     [_reg_row(data["total"])], widths=widths)]
    story += [Spacer(1, 10), Paragraph("填报人：__________　　复核人：__________　　负责人：__________", st["base"])]
    doc.build(story)
    return buf.getvalue(), _filename("qingting-regulatory", scope, "pdf")
