"""Streaming readers for CSV (any common Chinese encoding) and XLSX (openpyxl read_only).

`open_table(path)` returns a Table: `headers` (merged / two-level header rows combined),
`rows()` yielding (row_number, values) with empty rows skipped, and `progress()` in 0..1.
Memory stays flat: nothing reads the whole file.
"""
from __future__ import annotations

import codecs
import csv
import io
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from django.conf import settings

from qingting.core.errors import Invalid, TooLarge

SNIFF_BYTES = 256 * 1024
HEADER_SCAN_ROWS = 12
csv.field_size_limit(16 * 1024 * 1024)


def max_bytes() -> int:
    return int(getattr(settings, "QINGTING_IMPORT_MAX_BYTES", 0) or os.environ.get("QINGTING_IMPORT_MAX_BYTES") or
               1024 * 1024 * 1024)


def xlsx_max_bytes() -> int:
    return int(os.environ.get("QINGTING_IMPORT_XLSX_MAX_BYTES") or 100 * 1024 * 1024)


def detect_encoding(sample: bytes) -> str:
    """utf-8 (with or without BOM), UTF-16 with BOM, else GB18030 (superset of GB2312/GBK), else Big5."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for enc in ("utf-8", "gb18030", "big5"):
        try:
            codecs.getincrementaldecoder(enc)().decode(sample, final=False)
            return enc
        except UnicodeDecodeError:
            continue
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(sample).best()
        if best is not None:
            return best.encoding
    except Exception:  # pragma: no cover - optional helper
        pass
    raise Invalid("无法识别文件编码（支持 UTF-8、GBK/GB18030、Big5）",
                  "Cannot tell the file's encoding (UTF-8, GBK/GB18030 or Big5 expected)", code="bad_encoding")


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    return value


def _blank(values) -> bool:
    return all(v == "" or v is None for v in values)


def combine_headers(top: list, sub: list | None) -> list[str]:
    """Two header rows (the top one with merged cells) into one name per column.

    [投诉编号, 客户, "", 日期] + ["", 姓名, 手机, ""] → 投诉编号, 客户姓名, 客户手机, 日期
    """
    def text(v):
        return str(v).strip() if v not in (None, "") else ""

    if sub is None:
        return [text(v) for v in top]
    width = max(len(top), len(sub))
    top = [text(v) for v in top] + [""] * (width - len(top))
    sub = [text(v) for v in sub] + [""] * (width - len(sub))
    owner, current = [], None
    for i in range(width):
        if top[i]:
            current = i
        owner.append(current)
    sizes = {o: owner.count(o) for o in set(owner) if o is not None}
    out = []
    for i in range(width):
        group = top[owner[i]] if owner[i] is not None else ""
        s = sub[i]
        if s and group and sizes.get(owner[i], 1) > 1 and not s.startswith(group):
            out.append(group + s)
        else:
            out.append(s or top[i])
    return out


def _looks_like_subheader(top: list, nxt: list) -> bool:
    """The row after `top` continues the header when `top` has gaps that `nxt` fills with text."""
    gaps = [i for i, v in enumerate(top) if v in (None, "")]
    width = len([v for v in nxt if v not in (None, "")])
    if not gaps or width < 2:
        return False
    filled = [i for i in gaps if i < len(nxt) and isinstance(nxt[i], str) and nxt[i]]
    all_text = all(isinstance(v, str) for v in nxt if v not in (None, ""))
    return bool(filled) and all_text and len(filled) >= len(gaps) / 2


def find_header(first_rows: list[tuple[int, list]]) -> tuple[list[str], int]:
    """Pick the header among the first rows: skip title rows (one filled cell), join a two-level header.

    Returns (headers, index into first_rows of the first data row).
    """
    for idx, (_, values) in enumerate(first_rows):
        filled = [v for v in values if v not in (None, "")]
        if len(filled) < 2:
            continue
        nxt = first_rows[idx + 1][1] if idx + 1 < len(first_rows) else None
        if nxt is not None and _looks_like_subheader(values, nxt):
            return combine_headers(values, nxt), idx + 2
        return combine_headers(values, None), idx + 1
    raise Invalid("文件中找不到表头行（至少两列有标题）", "No header row found (at least two named columns)", code="no_header")


@dataclass
class Table:
    path: Path
    kind: str
    headers: list[str]
    encoding: str | None = None
    _first: list = field(default_factory=list)
    _rest: Iterator | None = None
    _progress = None
    _closer = None

    def rows(self) -> Iterator[tuple[int, list]]:
        for rownum, values in self._first:
            if not _blank(values):
                yield rownum, values
        if self._rest is not None:
            for rownum, values in self._rest:
                if not _blank(values):
                    yield rownum, values

    def progress(self) -> float:
        return self._progress() if self._progress else 0.0

    def close(self):
        if self._closer:
            self._closer()


def open_table(path, *, limit: int | None = None) -> Table:
    path = Path(path)
    size = path.stat().st_size
    limit = limit if limit is not None else max_bytes()
    if size > limit:
        raise TooLarge(f"文件过大（{size / 1048576:.0f} MB，上限 {limit / 1048576:.0f} MB）",
                       f"File too large ({size / 1048576:.0f} MB; limit {limit / 1048576:.0f} MB)", code="file_too_large")
    if size == 0:
        raise Invalid("文件是空的", "The file is empty", code="empty_file")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"PK\x03\x04"):
        return _open_xlsx(path, size)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise Invalid("不支持旧版 .xls 文件，请在 Excel 中另存为 .xlsx 或 CSV",
                      "Legacy .xls is not supported; save as .xlsx or CSV", code="xls_unsupported")
    return _open_csv(path, size)


def _open_csv(path: Path, size: int) -> Table:
    raw = open(path, "rb")
    sample = raw.read(SNIFF_BYTES)
    raw.seek(0)
    encoding = detect_encoding(sample)
    text = io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="")
    try:
        dialect = csv.Sniffer().sniff(sample.decode(encoding, errors="ignore")[:20000], delimiters=",\t;|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(text, delimiter=delimiter)

    def numbered():
        try:
            for values in reader:
                yield reader.line_num, [v.strip() for v in values]
        except UnicodeDecodeError:
            raise Invalid(f"第 {reader.line_num + 1} 行附近编码不一致（按 {encoding} 无法解码）",
                          f"Encoding changes near line {reader.line_num + 1} (not valid {encoding})",
                          code="bad_encoding") from None
        except csv.Error as exc:
            raise Invalid(f"第 {reader.line_num} 行 CSV 格式错误：{exc}", f"CSV error at line {reader.line_num}: {exc}",
                          code="bad_csv") from None

    it = numbered()
    first = []
    for _ in range(HEADER_SCAN_ROWS):
        try:
            first.append(next(it))
        except StopIteration:
            break
    headers, start = find_header(first)
    table = Table(path=path, kind="csv", headers=headers, encoding=encoding, _first=first[start:], _rest=it)
    table._progress = lambda: min(1.0, raw.tell() / size) if not raw.closed else 1.0
    table._closer = raw.close
    return table


def _open_xlsx(path: Path, size: int) -> Table:
    if size > xlsx_max_bytes():
        raise TooLarge(f"Excel 文件过大（{size / 1048576:.0f} MB），请另存为 CSV 后导入（CSV 以流式读取，不受此限）",
                       "XLSX too large; save it as CSV (CSV is streamed)", code="file_too_large")
    try:
        with zipfile.ZipFile(path) as zf:
            unpacked = sum(i.file_size for i in zf.infolist())
    except zipfile.BadZipFile:
        raise Invalid("不是有效的 Excel (.xlsx) 文件", "Not a valid .xlsx file", code="bad_xlsx") from None
    if unpacked > 40 * max(size, 1) and unpacked > 500 * 1024 * 1024:
        raise TooLarge("Excel 文件解压后过大（疑似压缩炸弹）", "XLSX expands too much (zip bomb?)", code="file_too_large")
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise Invalid(f"无法打开 Excel 文件：{exc}", f"Cannot open the XLSX file: {exc}", code="bad_xlsx") from None
    ws = wb.worksheets[0]
    total = ws.max_row or 0
    state = {"row": 0}

    def numbered():
        for idx, row in enumerate(ws.iter_rows(values_only=True), start=1):
            state["row"] = idx
            yield idx, [_cell(v) for v in row]

    it = numbered()
    first = []
    for _ in range(HEADER_SCAN_ROWS):
        try:
            first.append(next(it))
        except StopIteration:
            break
    headers, start = find_header(first)
    table = Table(path=path, kind="xlsx", headers=headers, _first=first[start:], _rest=it)
    table._progress = lambda: min(1.0, state["row"] / total) if total else 0.0
    table._closer = wb.close
    return table
