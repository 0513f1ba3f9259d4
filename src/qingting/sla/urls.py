from django.urls import path

from . import views

app_name = "sla"
urlpatterns = [
    path("", views.panel, name="panel"),
    path("preview/", views.preview, name="preview"),
    path("complaints/<str:number>/", views.complaint_deadlines, name="complaint"),
    path("complaints/<str:number>/deadlines/<int:deadline_id>/<str:action>/", views.deadline_action, name="action"),
    path("complaints/<str:number>/extensions/<int:extension_id>/decide/", views.decide, name="decide"),
    path("complaints/<str:number>/promises/", views.promise, name="promise"),
]
