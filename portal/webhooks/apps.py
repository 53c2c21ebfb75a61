from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal.webhooks"
    label = "webhooks"  # its tables and migrations keep the name they were made with
    verbose_name = "Webhooks"
