"""qingting analytics-rebuild: recompute every analytics fact and the daily rollups from the complaints."""
import time

from django.core.management.base import BaseCommand

from ...facts import rebuild


class Command(BaseCommand):
    help = "重建数据分析汇总表 / Rebuild the analytics facts and daily rollups from the complaints"

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=5000)

    def handle(self, *args, **opts):
        started = time.perf_counter()

        def progress(n):
            if n % 100000 < opts["batch"]:
                self.stdout.write(f"  {n:,} complaints")

        total = rebuild(batch=opts["batch"], progress=progress if opts["verbosity"] > 1 else None)
        self.stdout.write(f"rebuilt {total:,} facts and their rollups in {time.perf_counter() - started:.1f}s")
