"""qingting report --period 2026-10 --format pdf|xlsx [--out FILE] [--department CODE] [--kind monthly|regulatory]"""
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from qingting.core.errors import ServiceError

from ...reports import build_regulatory, build_report
from ...scope import parse_scope


class Command(BaseCommand):
    help = "生成投诉分析报告（PDF/Excel）或监管统计报表 / Build the period report or the regulatory statistics"

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="2026-10, 2026-Q3, 2026 或 2026-10-01..2026-10-15")
        parser.add_argument("--format", choices=["pdf", "xlsx"], default="pdf")
        parser.add_argument("--out", help="output file (default: the report's own name in the current directory)")
        parser.add_argument("--department", help="department code (its subtree)")
        parser.add_argument("--kind", choices=["monthly", "regulatory"], default="monthly")

    def handle(self, *args, **opts):
        params = {}
        if ".." in opts["period"]:
            params["start"], params["end"] = opts["period"].split("..", 1)
        else:
            params["period"] = opts["period"]
        if opts.get("department"):
            params["department"] = opts["department"]
        try:
            scope = parse_scope(None, params)
            builder = build_regulatory if opts["kind"] == "regulatory" else build_report
            content, name = builder(scope, opts["format"], generated_at=timezone.now())
        except ServiceError as exc:
            raise CommandError(f"{exc.zh} / {exc.en}") from None
        out = opts.get("out") or name
        with open(out, "wb") as fh:
            fh.write(content)
        self.stdout.write(f"{out} ({len(content):,} bytes)")
