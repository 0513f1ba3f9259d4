"""Read labelled complaints from CSV (encoding detected) or XLSX files."""
from __future__ import annotations

import csv
import io
from pathlib import Path


class TableError(ValueError):
    pass


def _decode(raw: bytes) -> str:
    for bom, enc in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if raw.startswith(bom):
            return raw.decode(enc)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(raw[:2_000_000]).best()
        if best is not None and best.encoding:
            enc = best.encoding
            if enc.lower().replace("-", "").replace("_", "") in ("gb2312", "gbk", "cp936"):
                enc = "gb18030"  # superset: never fails on rare characters
            return raw.decode(enc, errors="replace")
    except Exception:
        pass
    return raw.decode("gb18030", errors="replace")


def _rows_csv(path: Path):
    text = _decode(path.read_bytes())
    try:
        dialect = csv.Sniffer().sniff(text[:20000], delimiters=",\t;|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    return list(reader)


def _rows_xlsx(path: Path, sheet=None):
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        ws = wb[sheet] if sheet else wb.worksheets[0]
        return [["" if v is None else str(v) for v in row] for row in ws.iter_rows(values_only=True)]
    finally:
        wb.close()


def read_table(path, columns, *, sheet: str | None = None) -> dict[str, list[str]]:
    """Columns (by header name) of a CSV/TSV or XLSX file: {column: [values...]}.

    Raises TableError naming the missing columns and the ones available."""
    path = Path(path)
    if not path.is_file():
        raise TableError(f"{path}: file not found")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        rows = _rows_xlsx(path, sheet)
    else:
        rows = _rows_csv(path)
    if not rows:
        raise TableError(f"{path}: empty file")
    header = [h.strip().lstrip("\ufeff") for h in rows[0]]
    columns = [c for c in columns if c]
    missing = [c for c in columns if c not in header]
    if missing:
        raise TableError(f"{path}: column(s) not found: {', '.join(missing)}; available: {', '.join(header)}")
    idx = {c: header.index(c) for c in columns}
    out: dict[str, list[str]] = {c: [] for c in columns}
    for row in rows[1:]:
        if not any(cell.strip() for cell in row if isinstance(cell, str)):
            continue
        for c, i in idx.items():
            out[c].append(row[i] if i < len(row) else "")
    return out
