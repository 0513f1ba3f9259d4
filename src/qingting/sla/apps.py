from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "qingting.sla"
    label = "sla"
    verbose_name = "办理时限 SLA"
    nav_items = [("sla:panel", "时限预警", ("supervisor", "manager", "admin", "auditor"))]
    event_labels = {
        "deadline.started": "开始计时", "deadline.at_risk": "时限预警", "deadline.breached": "超出办理时限",
        "deadline.met": "按时完成", "deadline.paused": "暂停计时", "deadline.resumed": "恢复计时",
        "deadline.extended": "延长时限", "deadline.extension_requested": "申请延期",
        "deadline.extension_rejected": "延期被驳回", "deadline.extension_notice": "延期告知客户",
        "deadline.recomputed": "重新计算时限", "deadline.cancelled": "取消时限", "deadline.not_computable": "无法计算时限",
    }

    def banners(self, request):
        from .context import calendar_banner

        return calendar_banner(request).get("sla_calendar_warnings", [])

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from qingting.complaints import hooks
        from qingting.complaints.models import Message
        from qingting.core import jobs

        from . import config, services
        from .models import BusinessCalendar, SlaExtensionRule, SlaPolicy, SlaTarget

        hooks.register("created", services.on_created)
        hooks.register("step_changed", services.on_step_changed)
        hooks.register("updated", services.on_updated)
        hooks.register("output", services.output_extra)
        from django.apps import apps

        if apps.is_installed("qingting.sla"):  # the 剩余时限 column of the workbench queues
            from .queries import with_next_due

            hooks.register("queue", with_next_due)
        from . import panels

        hooks.register("panel", panels.deadlines_panel)
        post_save.connect(services.on_message_saved, sender=Message, dispatch_uid="sla.message_saved")
        for model in (BusinessCalendar, SlaPolicy, SlaTarget, SlaExtensionRule):
            post_save.connect(config.bump_version, sender=model, dispatch_uid=f"sla.bump.save.{model.__name__}")
            post_delete.connect(config.bump_version, sender=model, dispatch_uid=f"sla.bump.delete.{model.__name__}")
        jobs.register("sla.sweep", every=60, func="qingting.sla.services.sweep_deadlines")
