"""Commands whose argument parsing lives in a pure module (triage, coaching …): Django hands
them the raw arguments and exits with the function's status code."""
import sys

from django.conf import settings
from django.core.management.base import BaseCommand


class PassthroughCommand(BaseCommand):
    prog = ""
    target = None  # a function argv -> exit code
    needs_models_dir = False

    def run_from_argv(self, argv):
        args = list(argv[2:])
        if self.needs_models_dir and not any(a == "--models-dir" or a.startswith("--models-dir=") for a in args):
            args += ["--models-dir", str(settings.DATA_DIR / "models" / "triage")]
        sys.exit(self.run(args) or 0)

    def run(self, args):
        return type(self).target(args)

    def handle(self, *args, **options):  # called only through call_command
        return str(self.run(list(args)))
