"""Load and update the built-in templates after every ``migrate``."""

from __future__ import annotations

from django.db.models.signals import post_migrate
from django.dispatch import receiver


@receiver(post_migrate)
def load_builtin_templates(sender, **kwargs) -> None:
    if getattr(sender, "name", None) != "templates_app":
        return
    from templates_app.builtin import sync_builtin_templates

    sync_builtin_templates()
