from django.apps import AppConfig


class CrisisConfig(AppConfig):
    name = "qingting.crisis"
    label = "crisis"
    verbose_name = "危机管理 Crisis"
    nav_items = [("crisis:hotspots", "危机预警", ("supervisor", "manager", "admin", "auditor"))]
    event_labels = {"crisis.linked": "关联危机事件", "crisis.unlinked": "解除危机关联", "crisis.tagged": "危机标记",
                    "crisis.offer": "危机统一补救措施"}

    def ready(self):
        from qingting.complaints import hooks
        from qingting.core import jobs

        from . import panels, services

        hooks.register("created", services.on_complaint_created)
        hooks.register("panel", panels.crisis_banner_panel)
        jobs.register("crisis.sweep", every=300, func="qingting.crisis.services.sweep_hotspots")
