from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "qingting.intake"
    label = "intake"
    verbose_name = "受理渠道 Intake"
    nav_items = [("intake:import", "批量导入", ("supervisor", "manager", "admin"))]
    event_labels = {"survey.answered": "客户满意度评价", "survey.flagged": "不满意评价待主管处理",
                    "customer.merged": "客户合并", "complaint.repeat": "重复投诉", "mail.received": "收到邮件"}

    def ready(self):
        from qingting.complaints import hooks

        from qingting.core import jobs

        from . import duplicates, panels

        hooks.register("created", duplicates.on_complaint_created)
        hooks.register("panel", panels.links_panel)
        jobs.register("intake.poll_mail", every=120, func="qingting.intake.tasks.poll_mailboxes")
