from django.urls import path

from . import views

app_name = "training"
urlpatterns = [
    path("", views.home, name="home"),
    path("quiz/", views.quiz, name="quiz"),
    path("trainer/", views.trainer, name="trainer"),
    path("trainer/from-complaint/", views.from_complaint, name="from_complaint"),
    path("start/<str:scenario_id>/", views.start, name="start"),
    path("sessions/<int:session_id>/", views.session, name="session"),
]
