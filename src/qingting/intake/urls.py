from django.urls import path

from . import views

app_name = "intake"
urlpatterns = [
    path("", views.submit, name="submit"),
    path("done/", views.done, name="done"),
    path("status/", views.status, name="status"),
    path("status/<str:code>/", views.track, name="track"),
    path("import/", views.import_page, name="import"),
    path("import/<int:job_id>/", views.import_job, name="import_job"),
    path("customers/<int:customer_id>/", views.customer_page, name="customer"),
    path("customers/<int:customer_id>/merge/", views.customer_merge, name="customer_merge"),
    path("export/", views.export_view, name="export"),
]
