"""`qingting reply-check` (pure Python; the project CLI dispatches to cmd_reply_check).

    qingting reply-check "答复文本" [--json] [--lang zh|en] [--fault yes|no]
                         [--approval-limit N] [--private]
    qingting reply-check --data FILE --text-col C [--message-col C] --out OUT.csv

Batch mode streams CSV (encoding detected with charset-normalizer) or XLSX (openpyxl,
read-only) and writes every input row with two more columns: ``score`` and ``findings``
(finding codes separated by ";"). ``--message-col`` names the customer's message column;
it is used to tell the language when the reply alone does not.
Exit status: 0 done, 2 bad usage or unreadable input.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Iterator

from .checker import check_reply, detect_language

SNIFF_BYTES = 256 * 1024


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qingting reply-check",
                                description="检查答复质量 / check a reply to a customer")
    p.add_argument("text", nargs="?", help="the reply text (single mode)")
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.add_argument("--lang", choices=("zh", "en"), help="language (default: detected)")
    p.add_argument("--fault", choices=("yes", "no", "unknown"), default="unknown",
                   help="are we at fault? (an apology is expected when yes)")
    p.add_argument("--approval-limit", type=float, help="the agent's approval limit (amount)")
    p.add_argument("--private", action="store_true", help="the reply is not published")
    p.add_argument("--data", help="CSV or XLSX file to check row by row")
    p.add_argument("--text-col", help="column holding the reply")
    p.add_argument("--message-col", help="column holding the customer's message (optional)")
    p.add_argument("--out", help="output CSV (batch mode)")
    return p


def _context(args) -> dict:
    ctx: dict = {"fault": {"yes": True, "no": False}.get(args.fault), "public": not args.private}
    if args.approval_limit is not None:
        ctx["approval_limit"] = args.approval_limit
    return ctx


def detect_encoding(path: Path) -> str:
    head = path.open("rb").read(SNIFF_BYTES)
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 4:  # a character cut at the sniff boundary
            return "utf-8"
    try:
        from charset_normalizer import from_bytes
        best = from_bytes(head).best()
        if best is not None and best.encoding:
            enc = best.encoding
            return "gb18030" if enc.lower() in ("gb2312", "gbk", "gb18030") else enc
    except Exception:  # noqa: BLE001
        pass
    return "gb18030"


def _rows(path: Path) -> tuple[list[str], Iterator[list]]:
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook
        wb = load_workbook(path, read_only=True, data_only=True)
        ws = wb.worksheets[0]
        it = ws.iter_rows(values_only=True)
        header = [("" if v is None else str(v)).strip() for v in next(it, ())]

        def gen():
            try:
                for row in it:
                    yield ["" if v is None else str(v) for v in row]
            finally:
                wb.close()
        return header, gen()
    enc = detect_encoding(path)
    fh = path.open(encoding=enc, errors="replace", newline="")
    reader = csv.reader(fh)
    header = [h.strip().lstrip("\ufeff") for h in next(reader, [])]

    def gen():
        try:
            yield from reader
        finally:
            fh.close()
    return header, gen()


def _batch(args, out=sys.stdout, err=sys.stderr) -> int:
    if not args.text_col or not args.out:
        print("reply-check --data needs --text-col and --out", file=err)
        return 2
    path = Path(args.data)
    if not path.exists():
        print(f"reply-check: {path}: no such file", file=err)
        return 2
    try:
        header, rows = _rows(path)
    except Exception as exc:  # noqa: BLE001
        print(f"reply-check: cannot read {path}: {exc}", file=err)
        return 2
    if args.text_col not in header:
        print(f"reply-check: column {args.text_col!r} not in {path.name}; columns: {', '.join(header)}", file=err)
        return 2
    ti = header.index(args.text_col)
    mi = None
    if args.message_col:
        if args.message_col not in header:
            print(f"reply-check: column {args.message_col!r} not in {path.name}; columns: {', '.join(header)}",
                  file=err)
            return 2
        mi = header.index(args.message_col)
    ctx = _context(args)
    n = 0
    total = 0
    with open(args.out, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([*header, "score", "findings"])
        for row in rows:
            row = list(row) + [""] * (len(header) - len(row))
            text = row[ti] if ti < len(row) else ""
            lang = args.lang
            if lang is None and mi is not None and len(text.strip()) < 4:
                lang = detect_language(row[mi] or "")
            r = check_reply(text, lang=lang, context=ctx)
            w.writerow([*row, r.score, ";".join(r.codes)])
            n += 1
            total += r.score
    print(f"{n} rows checked, mean score {total / n:.1f} → {args.out}" if n else f"0 rows → {args.out}",
          file=out)
    return 0


def cmd_reply_check(argv: list[str] | None = None, out=sys.stdout, err=sys.stderr) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) if exc.code in (0, None) else 2
    if args.data:
        return _batch(args, out, err)
    if args.text is None:
        parser.print_usage(err)
        print("reply-check: give the reply text, or --data FILE --text-col C --out OUT.csv", file=err)
        return 2
    text = sys.stdin.read() if args.text == "-" else args.text
    r = check_reply(text, lang=args.lang, context=_context(args))
    if args.json:
        print(json.dumps(r.to_dict(), ensure_ascii=False, indent=2), file=out)
        return 0
    print(f"得分 score: {r.score}/100 ({r.lang})", file=out)
    for f in r.findings:
        quoted = "、".join(f"“{text[s:e]}”" for s, e in f.spans[:5])
        print(f"  [{f.severity}] {f.code} -{f.penalty}: {f.message_zh}" + (f"  {quoted}" if quoted else ""),
              file=out)
        print(f"      {f.message_en}", file=out)
    if not r.findings:
        print("  没有发现问题 / no findings", file=out)
    return 0


def main() -> None:  # pragma: no cover - convenience entry point
    sys.exit(cmd_reply_check(sys.argv[1:]))


if __name__ == "__main__":  # pragma: no cover
    main()
