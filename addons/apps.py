from django.apps import AppConfig


class AddonsConfig(AppConfig):
    name = "addons"
    verbose_name = "Add-ons"
