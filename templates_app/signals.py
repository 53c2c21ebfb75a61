"""Load and update the built-in templates after every ``migrate`` (and test-database flush)."""

from __future__ import annotations

from django.db.models.signals import post_migrate
from django.dispatch import receiver


@receiver(post_migrate)
def load_builtin_templates(sender, **kwargs) -> None:
    if getattr(sender, "name", None) != "templates_app":
        return
    from templates_app.builtin import sync_builtin_templates

    results = sync_builtin_templates(using=kwargs.get("using") or "default")
    stdout = kwargs.get("stdout")
    if stdout is not None and kwargs.get("verbosity", 1) >= 1:
        for result in results:
            if result.changed:
                state = "created" if result.created else "updated"
                stdout.write(f"  Built-in template {result.key}: {state}\n")
