from django.apps import AppConfig


class DelegationConfig(AppConfig):
    name = "delegation"
    verbose_name = "Delegation and audit"

    def ready(self):
        from delegation import config_cache

        config_cache.connect()
