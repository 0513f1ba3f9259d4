from django.urls import path

from . import views

app_name = "complaints"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("team/", views.team_queue, name="team"),
    path("complaints/", views.all_complaints, name="all"),
    path("supervisor/", views.supervisor, name="supervisor"),
    path("complaints/new/", views.new_complaint, name="new"),
    path("complaints/lookup/", views.customer_lookup, name="lookup"),
    path("complaints/<str:number>/", views.detail, name="detail"),
    path("complaints/<str:number>/edit/", views.edit, name="edit"),
    path("complaints/<str:number>/transition/", views.transition, name="transition"),
    path("complaints/<str:number>/notes/", views.add_note, name="note"),
    path("complaints/<str:number>/messages/", views.add_message, name="message"),
    path("complaints/<str:number>/attachments/", views.upload_attachment, name="upload"),
    path("complaints/<str:number>/assign/", views.assign, name="assign"),
    path("complaints/<str:number>/take/", views.take, name="take"),
    path("complaints/<str:number>/escalate/", views.escalate, name="escalate"),
    path("attachments/<int:attachment_id>/download/", views.download, name="download"),
]
