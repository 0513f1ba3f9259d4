from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "qingting.notify"
    label = "notify"
    verbose_name = "通知 Notifications"

    def ready(self):
        from qingting.core import jobs

        jobs.register("notify.retry", every=30, func="qingting.notify.services.send_due")
