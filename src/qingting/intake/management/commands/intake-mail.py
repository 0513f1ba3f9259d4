"""qingting intake-mail [--mailbox NAME]: poll the complaint mailboxes once."""
import json

from django.core.management.base import BaseCommand, CommandError

from qingting.intake import mail
from qingting.intake.models import Mailbox


class Command(BaseCommand):
    help = "收取投诉邮箱（IMAP）并登记投诉 / Poll the IMAP complaint mailboxes"

    def add_arguments(self, parser):
        parser.add_argument("--mailbox", help="只收取这个邮箱（名称）")

    def handle(self, *args, **opts):
        if opts["mailbox"]:
            box = Mailbox.objects.filter(name=opts["mailbox"]).first()
            if box is None:
                raise CommandError(f"邮箱 {opts['mailbox']} 不存在")
            result = {box.name: mail.poll_mailbox(box)}
        else:
            result = mail.poll_all()
        self.stdout.write(json.dumps(result, ensure_ascii=False))
