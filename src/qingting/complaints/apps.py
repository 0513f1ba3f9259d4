from django.apps import AppConfig


class ComplaintsConfig(AppConfig):
    name = "qingting.complaints"
    label = "complaints"
    verbose_name = "投诉 Complaints"

    def ready(self):
        from . import reference

        reference.connect_signals()
