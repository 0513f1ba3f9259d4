"""Replay historical complaints (CSV or XLSX) through the early-warning detector.

``qingting hotspots-replay --data FILE --time-col C --text-col C [--id-col C]
[--about-cols a,b,c] [--problem-col C] [--step day|hour] [--json]`` prints every alert
as it would have fired. The same ``Detector`` the product runs is fed in time order:
``add`` for each complaint and ``tick`` at the end of every step (day or hour), so the
replay shows both the incremental and the periodic path. No Django import.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .detection import Alert, Complaint, Detector, Thresholds, load_thresholds

__all__ = ["ReplayError", "ReplayReport", "ReplayResult", "cmd_hotspots_replay", "parse_time",
           "read_table", "replay"]

try:
    from zoneinfo import ZoneInfo
    DEFAULT_TZ: tzinfo = ZoneInfo("Asia/Shanghai")
except Exception:  # pragma: no cover - no tz database on the machine
    DEFAULT_TZ = timezone(timedelta(hours=8), "CST")


class ReplayError(ValueError):
    """Bad input for a replay (unknown column, unreadable file …); the message says which."""


@dataclass
class ReplayReport:
    rows: int = 0
    used: int = 0
    empty_text: int = 0
    bad_time: int = 0
    bad_time_rows: list[int] = field(default_factory=list)
    future: int = 0
    future_rows: list[int] = field(default_factory=list)
    out_of_order: int = 0
    descending: bool = False
    first: datetime | None = None
    last: datetime | None = None
    days: int = 0

    def lines(self) -> list[str]:
        out = [f"rows read: {self.rows}; replayed: {self.used}"]
        if self.first and self.last:
            out.append(f"period: {self.first.isoformat()} … {self.last.isoformat()} ({self.days} days)")
        if self.empty_text:
            out.append(f"empty text: {self.empty_text} (counted in their groups, no text group)")
        if self.bad_time:
            out.append(f"unreadable time, skipped: {self.bad_time} (rows {_rows(self.bad_time_rows)})")
        if self.future:
            out.append(f"time in the future, skipped: {self.future} (rows {_rows(self.future_rows)})")
        if self.descending:
            out.append("file is newest first: replayed oldest first")
        if self.out_of_order:
            out.append(f"rows out of time order in the file: {self.out_of_order} (sorted before replay)")
        return out


def _rows(rows: list[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:10])
    return shown + (" …" if len(rows) > 10 else "")


class ReplayResult(list):
    """The alerts (a list of Alert) with ``report`` describing what was read and skipped."""

    report: ReplayReport


# ---------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------

_DATE_CN = re.compile(r"^\s*(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?\s*(.*)$")
_DATE_SLASH = re.compile(r"^\s*(\d{4})[/.\-](\d{1,2})[/.\-](\d{1,2})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*$")
_COMPACT = re.compile(r"^\s*(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?\s*$")


def parse_time(value: Any, tz: tzinfo = DEFAULT_TZ) -> datetime | None:
    """An aware datetime from a cell (datetime, date, ISO text, 2024/2/28, 2024年2月28日,
    20240228); naive values are taken in ``tz``. None when unreadable."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tz)
    s = str(value).strip()
    if not s or len(s) > 64:
        return None
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
        return dt if dt.tzinfo else dt.replace(tzinfo=tz)
    except ValueError:
        pass
    m = _DATE_CN.match(s)
    if m:
        rest = m.group(4).strip()
        s = f"{m.group(1)}-{m.group(2)}-{m.group(3)}" + (f" {rest}" if rest else "")
    for rx in (_DATE_SLASH, _COMPACT):
        m = rx.match(s)
        if m:
            try:
                parts = [int(p) if p else 0 for p in m.groups()]
                return datetime(*parts[:3], parts[3], parts[4], parts[5] if len(parts) > 5 else 0,
                                tzinfo=tz)
            except ValueError:
                return None
    return None


def _decode(raw: bytes) -> str:
    for enc in ("utf-8-sig",):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            pass
    try:
        from charset_normalizer import from_bytes
        best = from_bytes(raw[:2_000_000]).best()
        if best is not None and best.encoding:
            return raw.decode(best.encoding, errors="replace")
    except Exception:
        pass
    return raw.decode("gb18030", errors="replace")


def read_table(path: str | Path) -> tuple[list[str], list[dict[str, Any]]]:
    """Header and rows of a CSV (encoding and delimiter detected) or XLSX (first sheet)."""
    p = Path(path)
    if not p.is_file():
        raise ReplayError(f"{p}: no such file")
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        try:
            import openpyxl
            wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
        except Exception as exc:
            raise ReplayError(f"{p}: cannot read as XLSX ({exc})") from exc
        try:
            it = wb.worksheets[0].iter_rows(values_only=True)
            header: list[str] | None = None
            rows: list[dict[str, Any]] = []
            for values in it:
                if header is None:
                    if values and any(v not in (None, "") for v in values):
                        header = [str(v).strip() if v is not None else "" for v in values]
                    continue
                if not values or all(v in (None, "") for v in values):
                    continue
                rows.append({h: v for h, v in zip(header, values) if h})
        finally:
            wb.close()
        return [h for h in (header or []) if h], rows
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ReplayError(f"{p}: cannot read ({exc})") from exc
    text = _decode(raw)
    sample = text[:20000]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    rows = [r for r in reader if any((v or "").strip() for v in r.values() if isinstance(v, str))]
    return [h for h in header if h], rows


# ---------------------------------------------------------------------------
# replay
# ---------------------------------------------------------------------------


def _check_columns(columns: Sequence[str], wanted: Mapping[str, str | None]) -> None:
    for option, col in wanted.items():
        if col is not None and col not in columns:
            raise ReplayError(f"{option}: no column named {col!r}; available columns: "
                              + ", ".join(repr(c) for c in columns))


def _cell(row: Mapping[str, Any], col: str | None) -> str:
    if col is None:
        return ""
    v = row.get(col)
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


def replay(rows: Iterable[Mapping[str, Any]], time_col: str, text_col: str, id_col: str | None = None,
           about_cols: Sequence[str] = (), problem_col: str | None = None, step: str = "day", *,
           thresholds: Thresholds | None = None, columns: Sequence[str] | None = None,
           now: datetime | None = None, tz: tzinfo = DEFAULT_TZ) -> ReplayResult:
    """Feed rows in time order through a fresh Detector and return the alerts it raises.

    Rows whose time cannot be read, or lies after ``now`` (default: the current time), are
    skipped and reported; rows out of order are sorted (stable; a file written newest
    first is replayed oldest first). ``result.report`` says what was skipped."""
    if step not in ("day", "hour"):
        raise ReplayError(f"--step: must be 'day' or 'hour', got {step!r}")
    rows = list(rows)
    if columns is None:
        seen: dict[str, None] = {}
        for r in rows[:1000]:
            seen.update(dict.fromkeys(r.keys()))
        columns = list(seen)
    about_cols = [c for c in about_cols if c]
    wanted: dict[str, str | None] = {"--time-col": time_col, "--text-col": text_col,
                                     "--id-col": id_col, "--problem-col": problem_col}
    for c in about_cols:
        wanted.setdefault(f"--about-cols ({c})", c)
        wanted[f"--about-cols ({c})"] = c
    if rows:
        _check_columns(list(columns), wanted)
    report = ReplayReport(rows=len(rows))
    now = now or datetime.now(timezone.utc)
    parsed: list[tuple[datetime, int, Mapping[str, Any]]] = []
    prev: datetime | None = None
    ups = downs = 0
    for i, row in enumerate(rows):
        rowno = i + 2  # header is line 1
        dt = parse_time(row.get(time_col), tz)
        if dt is None:
            report.bad_time += 1
            report.bad_time_rows.append(rowno)
            continue
        if dt > now:
            report.future += 1
            report.future_rows.append(rowno)
            continue
        if prev is not None:
            if dt < prev:
                downs += 1
            elif dt > prev:
                ups += 1
        prev = dt
        parsed.append((dt, i, row))
    if downs > ups:
        # newest-first file: replay oldest first, keeping the file's order inside a timestamp reversed
        report.descending = True
        report.out_of_order = ups
        parsed.sort(key=lambda x: (x[0], -x[1]))
    else:
        report.out_of_order = downs
        parsed.sort(key=lambda x: (x[0], x[1]))
    det = Detector(thresholds or Thresholds())
    alerts = ReplayResult()
    current_step: datetime | None = None

    def step_start(dt: datetime) -> datetime:
        local = dt.astimezone(tz)
        if step == "day":
            return datetime.combine(local.date(), time(0), tz)
        return local.replace(minute=0, second=0, microsecond=0)

    delta = timedelta(days=1) if step == "day" else timedelta(hours=1)
    for dt, i, row in parsed:
        s = step_start(dt)
        if current_step is not None and s > current_step:
            alerts.extend(det.tick(current_step + delta - timedelta(seconds=1)))
        current_step = s
        text = _cell(row, text_col)
        if not text:
            report.empty_text += 1
        about = tuple((c, _cell(row, c)) for c in about_cols)
        problem = _cell(row, problem_col) or None
        cid = _cell(row, id_col) if id_col else ""
        c = Complaint(id=cid or f"row {i + 2}", received_at=dt, text=text, about=about,
                      problem=problem, problem_label=problem)
        alerts.extend(det.add(c))
        report.used += 1
    if current_step is not None:
        alerts.extend(det.tick(current_step + delta - timedelta(seconds=1)))
    if parsed:
        report.first, report.last = parsed[0][0], parsed[-1][0]
        report.days = (step_start(parsed[-1][0]).date() - step_start(parsed[0][0]).date()).days + 1
    alerts.report = report
    return alerts


# ---------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------


def alert_json(a: Alert) -> dict[str, Any]:
    d = a.to_dict()
    return {"fired_at": d["fired_at"], "group": d["group"], "label": d["label"],
            "count": d["count"], "baseline": d["baseline"], "score": d["score"],
            "ids": d["ids"], "sample_texts": d["sample_texts"], "keywords": d["keywords"],
            "signals": d["signals"], "refire": d["refire"], "group_kind": d["group_kind"]}


def format_alert(a: Alert, tz: tzinfo = DEFAULT_TZ) -> str:
    when = a.fired_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    group = ", ".join(f"{f}={v}" for f, v in a.group.fields)
    lines = [f"{when}  {a.label}" + ("  (再次预警 / grew)" if a.refire else ""),
             f"  group: {group}",
             f"  count={a.count}  baseline={a.baseline:.2f}  score={a.score:.1f}"
             + (f"  signals={','.join(sorted(a.signals))}" if a.signals else ""),
             f"  keywords: {' '.join(a.keywords)}",
             f"  ids: {' '.join(a.ids[:20])}" + (f" … (+{len(a.ids) - 20})" if len(a.ids) > 20 else "")]
    for s in a.sample_texts:
        lines.append(f"  - {s[:120]}")
    return "\n".join(lines)


def cmd_hotspots_replay(argv: Sequence[str] | None = None, *, stdout=None, stderr=None) -> int:
    """CLI entry: returns the exit code (0 ok, 2 bad input)."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    parser = argparse.ArgumentParser(
        prog="qingting hotspots-replay",
        description="回放历史投诉，显示热点预警当时会如何触发 / replay complaints through the early-warning detector")
    parser.add_argument("--data", required=True, help="CSV or XLSX file")
    parser.add_argument("--time-col", required=True)
    parser.add_argument("--text-col", required=True)
    parser.add_argument("--id-col")
    parser.add_argument("--about-cols", default="", help="hierarchy columns, most general first: a,b,c")
    parser.add_argument("--problem-col")
    parser.add_argument("--step", choices=("day", "hour"), default="day")
    parser.add_argument("--profile", default="default", help="thresholds profile (thresholds.toml)")
    parser.add_argument("--thresholds", help="a thresholds TOML file instead of the shipped one")
    parser.add_argument("--json", action="store_true", help="one JSON array of alerts")
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:
        return int(exc.code or 0) if exc.code not in (None, 0) else 0
    try:
        thresholds = load_thresholds(args.profile, args.thresholds)
        columns, rows = read_table(args.data)
        about = [c.strip() for c in re.split(r"[,，]", args.about_cols) if c.strip()]
        if not rows:
            print(f"{args.data}: no data rows", file=err)
        result = replay(rows, args.time_col, args.text_col, args.id_col, about, args.problem_col,
                        args.step, thresholds=thresholds, columns=columns)
    except (ReplayError, ValueError) as exc:
        print(f"error: {exc}", file=err)
        return 2
    if args.json:
        json.dump([alert_json(a) for a in result], out, ensure_ascii=False, indent=1)
        out.write("\n")
    else:
        for a in result:
            out.write(format_alert(a) + "\n\n")
        per_day = len(result) / result.report.days if result.report.days else 0.0
        out.write(f"{len(result)} alerts over {result.report.days} days ({per_day:.2f} a day)\n")
    for line in result.report.lines():
        print(line, file=err)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(cmd_hotspots_replay())
