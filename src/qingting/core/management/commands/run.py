"""`qingting run`: migrate, optionally load demo data, and serve with gunicorn (threads),
running the periodic jobs in-process unless a broker (REDIS_URL) is configured."""
import os

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from qingting.core import background


class Command(BaseCommand):
    help = "Run Qingting: migrate, (demo data), serve on 127.0.0.1:8000 with the periodic jobs."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("QINGTING_BIND", "127.0.0.1:8000"))
        parser.add_argument("--demo", action="store_true", help="load demo data when the database is empty")
        parser.add_argument("--threads", type=int, default=8)
        parser.add_argument("--no-jobs", action="store_true", help="do not run periodic jobs in this process")

    def handle(self, *args, bind, demo, threads, no_jobs, **options):
        call_command("migrate", interactive=False, verbosity=0)
        if demo:
            call_command("demo", if_empty=True)
        background.wait_all()  # the demo's after-commit work finishes before gunicorn forks its worker
        run_jobs = not no_jobs and not settings.REDIS_URL
        self.stdout.write(self.style.SUCCESS(f"倾听 Qingting → http://{bind}/  (jobs in-process: {run_jobs})"))
        serve(bind=bind, threads=threads, run_jobs=run_jobs)


def serve(*, bind: str, threads: int, run_jobs: bool) -> None:
    from gunicorn.app.base import BaseApplication

    from qingting.wsgi import application

    def post_worker_init(worker):
        if run_jobs:
            from qingting.core.jobs import InProcessScheduler

            InProcessScheduler().start()

    class App(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", bind)
            self.cfg.set("workers", 1)  # one process: the in-process jobs run exactly once
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("timeout", 120)
            self.cfg.set("accesslog", "-")
            self.cfg.set("post_worker_init", post_worker_init)

        def load(self):
            return application

    App().run()
