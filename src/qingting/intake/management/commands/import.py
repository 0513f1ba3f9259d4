"""qingting import FILE --mapping NAME | --map 列=字段 … [--dry-run] [--skip-invalid --rejects OUT.csv]"""
from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from qingting.accounts.models import User
from qingting.core import background
from qingting.core.errors import ServiceError
from qingting.intake.actors import system_user
from qingting.intake.importer import mapping as mapping_mod
from qingting.intake.importer.engine import run_import
from qingting.intake.importer.readers import open_table


class Command(BaseCommand):
    help = "批量导入历史投诉（CSV/XLSX）/ Bulk import historical complaints from CSV or XLSX"

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--mapping", help="保存的映射或内置预设名（car-complaints、cfpb、gov-messages）")
        parser.add_argument("--map", action="append", default=[], metavar="列=字段",
                            help="逐列映射，可重复；与 --mapping 一起用时覆盖其中的列")
        parser.add_argument("--source", help="来源标识（与外部编号一起保证不重复导入）")
        parser.add_argument("--profile", help="行业配置编码（general、auto4s、finance …）")
        parser.add_argument("--department", help="导入投诉的部门编码")
        parser.add_argument("--open", action="store_true", help="作为未办结投诉导入（默认作为已办结历史导入）")
        parser.add_argument("--dry-run", action="store_true", help="只检查，不写入；输出逐行错误报告")
        parser.add_argument("--skip-invalid", action="store_true", help="跳过无效行，只导入有效行")
        parser.add_argument("--rejects", help="与 --skip-invalid 一起：把无效行及原因写入此 CSV")
        parser.add_argument("--actor", help="记为导入人的用户名（默认系统用户 import）")
        parser.add_argument("--suggest", action="store_true", help="只显示根据表头建议的映射")
        parser.add_argument("--save-mapping", metavar="NAME", help="把本次映射保存为命名映射")
        parser.add_argument("--json", action="store_true", help="以 JSON 输出报告")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **opts):
        try:
            self._handle(opts)
        except ServiceError as exc:
            raise CommandError(f"{exc.zh} / {exc.en}") from None

    def _handle(self, opts):
        if opts["suggest"]:
            table = open_table(opts["file"])
            table.close()
            suggestion = mapping_mod.suggest(table.headers)
            self.stdout.write(json.dumps({"encoding": table.encoding, "columns": suggestion}, ensure_ascii=False, indent=2))
            return
        if opts["mapping"]:
            mapping = dict(mapping_mod.get_mapping(opts["mapping"]))
            mapping["columns"] = dict(mapping["columns"])
        elif opts["map"]:
            mapping = {"name": "cli", "columns": {}, "values": {}}
        else:
            raise CommandError("需要 --mapping NAME 或 --map 列=字段（可先用 --suggest 查看建议）")
        mapping["columns"].update(mapping_mod.parse_cli_maps(opts["map"]))
        for key in ("source", "profile", "department"):
            if opts[key]:
                mapping[key] = opts[key]
        mapping.setdefault("source", "cli")
        if opts["open"]:
            mapping["closed"] = False
        if opts["rejects"] and not opts["skip_invalid"]:
            raise CommandError("--rejects 需要与 --skip-invalid 一起使用")
        actor = system_user("import")
        if opts["actor"]:
            actor = User.objects.filter(username=opts["actor"], is_active=True).first()
            if actor is None:
                raise CommandError(f"用户 {opts['actor']} 不存在")
        if opts["save_mapping"]:
            self._save(opts["save_mapping"], mapping, actor)
        bar = None if opts["no_progress"] or opts["json"] else _Bar(sys.stderr)
        report = run_import(opts["file"], mapping, actor=actor, dry_run=opts["dry_run"],
                            skip_invalid=opts["skip_invalid"], rejects_path=opts["rejects"],
                            progress=bar.update if bar else None)
        if bar:
            bar.done()
        if opts["json"]:
            self.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        else:
            self._print(report, opts)
        if report.written and report.imported:
            if not opts["json"]:
                self.stdout.write("正在更新统计数据（投诉分析）……")
            background.wait_all()
        if report.error_count and not opts["skip_invalid"]:
            raise CommandError("导入未执行：存在无效行" if not opts["dry_run"] else "试运行发现无效行")

    def _save(self, name, mapping, actor):
        from django.utils import timezone

        from qingting.intake.models import ImportMapping

        problems = mapping_mod.check_mapping(mapping)
        if problems:
            raise CommandError("映射有误：" + "；".join(problems))
        ImportMapping.objects.update_or_create(name=name, defaults={
            "title": mapping.get("title", ""), "source": mapping["source"], "profile": mapping.get("profile", "general"),
            "closed": mapping.get("closed", True), "columns": mapping["columns"], "values": mapping.get("values", {}),
            "created_by": actor if actor.pk else None, "updated_at": timezone.now()})

    def _print(self, report, opts):
        w = self.stdout.write
        verb = "试运行（未写入）" if report.dry_run else ("已导入" if report.written else "未导入")
        w(f"{verb}：读取 {report.rows_seen} 行，新增 {report.imported}，已存在 {report.existing}，"
          f"文件内重复 {report.duplicates_in_file}，无效 {report.rejected}，用时 {report.seconds:.1f} 秒"
          + (f"（{report.imported / report.seconds:.0f} 行/秒）" if report.seconds and report.imported else ""))
        if report.errors:
            w("行号\t列\t问题")
            for e in report.errors[:200]:
                w(f"{e.row}\t{e.column}\t{e.problem}")
            if report.error_count > 200:
                w(f"…… 共 {report.error_count} 个问题（--json 可输出前 1000 个）")
        if report.message:
            w(report.message)
        if opts["rejects"] and report.rejected:
            w(f"无效行已写入 {opts['rejects']}")


class _Bar:
    def __init__(self, stream):
        self.stream = stream
        self.tty = stream.isatty()
        self.last = -1

    def update(self, fraction, report):
        pct = int(fraction * 100)
        if not self.tty and pct // 10 == self.last // 10:
            return
        self.last = pct
        filled = int(fraction * 30)
        line = f"[{'#' * filled}{'.' * (30 - filled)}] {pct:3d}%  {report.rows_seen} 行  新增 {report.imported}"
        self.stream.write(("\r" + line) if self.tty else line + "\n")
        self.stream.flush()

    def done(self):
        if self.tty:
            self.stream.write("\n")
