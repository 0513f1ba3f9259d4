from django.urls import path

from . import views

app_name = "crisis"
urlpatterns = [
    path("", views.hotspots, name="hotspots"),
    path("hotspots/<int:hotspot_id>/", views.hotspot, name="hotspot"),
    path("hotspots/<int:hotspot_id>/act/", views.hotspot_action, name="hotspot_action"),
    path("proposals/<int:proposal_id>/act/", views.proposal_action, name="proposal_action"),
    path("rules/", views.rules, name="rules"),
    path("cases/", views.crises, name="crises"),
    path("new/", views.new_crisis, name="new"),
    path("handbook/", views.handbook, name="handbook"),
    path("handbook.<str:fmt>", views.handbook_export, name="handbook_export"),
    path("<str:number>/", views.detail, name="detail"),
    path("<str:number>/act/", views.act, name="act"),
    path("<str:number>/review.<str:fmt>", views.review_export, name="review_export"),
]
