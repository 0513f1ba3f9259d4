from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "qingting.training"
    label = "training"
    verbose_name = "情景演练"
    nav_items = [("training:home", "情景演练", ())]
