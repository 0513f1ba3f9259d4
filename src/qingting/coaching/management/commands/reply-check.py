"""`qingting reply-check "text" [--json]` / `--data FILE --text-col C [--message-col C] --out OUT.csv`:
delegates to the pure coaching.cli (same options, same exit codes)."""
import sys

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "检查答复质量 / check a reply to a customer (see --help of the pure CLI)"

    def run_from_argv(self, argv):
        from qingting.coaching.cli import cmd_reply_check

        # argv: [prog, "reply-check", ...]
        code = cmd_reply_check(argv[2:], out=sys.stdout, err=sys.stderr)
        if code:
            sys.exit(code)

    def handle(self, *args, **options):  # pragma: no cover - call_command path
        from qingting.coaching.cli import cmd_reply_check

        return str(cmd_reply_check(list(args)) or "")
