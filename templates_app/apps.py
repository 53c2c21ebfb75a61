from django.apps import AppConfig


class TemplatesAppConfig(AppConfig):
    name = "templates_app"
    verbose_name = "Templates and style guides"

    def ready(self) -> None:
        from templates_app import signals  # noqa: F401  (loads built-ins after migrate)
