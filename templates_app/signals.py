"""Load and update the built-in templates after every ``migrate`` (and test-database flush)."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_migrate, post_save
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


def _touch_template(template_id) -> None:
    from django.utils import timezone

    from templates_app.models import Template

    Template.objects.filter(pk=template_id).update(updated_at=timezone.now())


@receiver([post_save, post_delete], sender="templates_app.TemplateSection")
def section_changed(sender, instance, **kwargs) -> None:
    """Any change to a section moves its template's ``updated_at`` (outline snapshots key on it)."""
    _touch_template(instance.template_id)


@receiver([post_save, post_delete], sender="templates_app.Rule")
def rule_changed(sender, instance, **kwargs) -> None:
    from templates_app.models import TemplateSection

    template_id = (
        TemplateSection.objects.filter(pk=instance.section_id)
        .values_list("template_id", flat=True)
        .first()
    )
    if template_id is not None:
        _touch_template(template_id)
