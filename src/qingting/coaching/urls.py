from django.urls import path

from . import views

app_name = "coaching"
urlpatterns = [
    path("care/", views.my_care, name="care"),
    path("team-care/", views.team_care, name="team_care"),
    path("<str:number>/", views.assistant_page, name="assistant"),
]
