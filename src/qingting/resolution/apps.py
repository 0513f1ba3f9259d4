from django.apps import AppConfig


class ResolutionConfig(AppConfig):
    name = "qingting.resolution"
    label = "resolution"
    verbose_name = "解决方案与闭环"
    nav_items = [("resolution:followups", "回访", ()), ("resolution:approvals", "审批", ("supervisor", "manager", "admin")),
                 ("resolution:cases", "案例库", ())]
    event_labels = {
        "resolution.planned": "提出解决方案", "resolution.approval_requested": "方案待审批", "resolution.approved": "方案已批准",
        "resolution.rejected": "方案被驳回", "resolution.withdrawn": "撤回方案", "resolution.task_added": "新增落实任务",
        "resolution.task_assigned": "分派落实任务", "resolution.task_done": "落实任务完成",
        "negotiation.answered": "客户答复方案", "followup.scheduled": "安排回访", "followup.recorded": "回访记录",
        "followup.flagged": "回访需主管关注", "survey.requested": "请求满意度评价", "survey.sent": "发送满意度评价",
        "rootcause.recorded": "记录根本原因", "action.added": "新增整改措施", "action.assigned": "分派整改措施",
        "action.done": "整改措施完成", "action.checked": "整改效果核查", "case.added": "加入案例库",
    }

    def ready(self):
        from qingting.complaints import hooks
        from qingting.core import jobs

        from . import panels, services

        hooks.register("step_changed", services.on_step_changed)
        hooks.register("panel", panels.resolution_panel)
        hooks.register("panel", panels.similar_cases_panel)
        jobs.register("resolution.embed_cases", every=60, func="qingting.resolution.services.embed_pending")
