from django.core.management.base import BaseCommand, CommandError

from qingting.core.demo import DEMO_PASSWORD, USERS, create_demo


class Command(BaseCommand):
    help = "Load demo data: users for every role and a few hundred realistic complaints (演示数据)."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=300)
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--if-empty", action="store_true", help="do nothing when complaints already exist")

    def handle(self, *args, count, seed, if_empty, **options):
        from qingting.complaints.models import Complaint

        if count < 0 or count > 100_000:
            raise CommandError("--count must be between 0 and 100000")
        if if_empty and Complaint.objects.exists():
            self.stdout.write("已有投诉数据，跳过演示数据 (complaints exist; demo skipped)")
            return
        result = create_demo(count=count, seed=seed)
        self.stdout.write(self.style.SUCCESS(f"演示数据已创建：{len(result['complaints'])} 件投诉"))
        self.stdout.write(f"登录 (password for all: {DEMO_PASSWORD}):")
        for username, display, role, dept in USERS:
            self.stdout.write(f"  {username:<15} {display:<8} {role.label:<6} {dept}")
