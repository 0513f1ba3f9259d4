from qingting.triage.cli import cmd_eval

from ._passthrough import PassthroughCommand


class Command(PassthroughCommand):
    help = "评估当前分类模型：qingting triage-eval --data FILE --text-col C --label-col L [--json]"
    target = staticmethod(cmd_eval)
    needs_models_dir = True
