from qingting.triage.cli import cmd_triage

from ._passthrough import PassthroughCommand


class Command(PassthroughCommand):
    help = "分析一条投诉文本并输出 JSON：qingting triage \"…文本…\" [--profile auto4s] [--summary]"
    target = staticmethod(cmd_triage)
    needs_models_dir = True
