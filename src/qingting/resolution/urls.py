from django.urls import path

from . import views

app_name = "resolution"
urlpatterns = [
    path("follow-ups/", views.followups, name="followups"),
    path("approvals/", views.approvals, name="approvals"),
    path("cases/", views.case_list, name="cases"),
    path("cases/<int:case_id>/", views.case_detail, name="case"),
    path("approvals/<int:request_id>/decide/", views.decide, name="decide"),
    path("plans/<int:plan_id>/answer/", views.answer, name="answer"),
    path("plans/<int:plan_id>/tasks/", views.add_task, name="add_task"),
    path("tasks/<int:task_id>/done/", views.task_done, name="task_done"),
    path("follow-ups/<int:followup_id>/", views.followup, name="followup"),
    path("actions/<int:action_id>/<str:what>/", views.action_step, name="action_step"),
    path("<str:number>/", views.complaint_page, name="complaint"),
    path("<str:number>/plans/", views.propose, name="propose"),
    path("<str:number>/similar/", views.similar_panel, name="similar"),
    path("<str:number>/root-cause/", views.root_cause, name="root_cause"),
    path("<str:number>/close/", views.close, name="close"),
    path("<str:number>/actions/", views.add_action, name="add_action"),
    path("<str:number>/library/", views.add_to_library, name="library"),
]
