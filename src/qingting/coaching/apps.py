from django.apps import AppConfig


class CoachingConfig(AppConfig):
    name = "qingting.coaching"
    label = "coaching"
    verbose_name = "答复辅导与关怀"
    nav_items = [("coaching:care", "我的状态", ("agent",)),
                 ("coaching:team_care", "团队关怀", ("supervisor", "manager", "admin"))]

    def ready(self):
        from qingting.complaints import hooks

        from . import panels

        hooks.register("panel", panels.care_break_panel)
        hooks.register("panel", panels.reply_editor_panel)
