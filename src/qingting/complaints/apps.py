from django.apps import AppConfig


class ComplaintsConfig(AppConfig):
    name = "qingting.complaints"
    label = "complaints"
    verbose_name = "投诉 Complaints"
