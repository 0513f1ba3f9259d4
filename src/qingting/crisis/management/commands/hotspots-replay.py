"""qingting hotspots-replay --data FILE --time-col C --text-col C [...]: replay complaints through
the early-warning engine (argument parsing lives in the pure `qingting.crisis.replay`)."""
from qingting.complaints.management.commands._passthrough import PassthroughCommand
from qingting.crisis.replay import cmd_hotspots_replay


class Command(PassthroughCommand):
    help = "Replay complaints (CSV/XLSX) through the hotspot detector and print each alert as it would have fired"
    target = staticmethod(cmd_hotspots_replay)
