from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "qingting.analytics"
    label = "analytics"
    verbose_name = "数据分析与改进"
    nav_items = [("analytics:dashboard", "数据分析", ("supervisor", "manager", "admin", "auditor"))]

    def ready(self):
        from qingting.complaints import hooks

        from . import facts

        hooks.register("created", facts.on_created)
        hooks.register("step_changed", facts.on_step_changed)
        hooks.register("updated", facts.on_updated)
        hooks.register("imported", facts.on_imported)

        from . import tasks

        tasks.register()
