from django.urls import path

from . import views

app_name = "analytics"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("team/", views.team, name="team"),
    path("improvement/", views.improvement, name="improvement"),
    path("report.<str:fmt>", views.report, name="report"),
    path("regulatory.<str:fmt>", views.regulatory, name="regulatory"),
]
