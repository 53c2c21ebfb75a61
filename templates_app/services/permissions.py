"""Who may write: an organization's managers (and superusers); built-in templates are read-only."""

from __future__ import annotations

from typing import Any

from portal.selectors import membership_of
from templates_app.models import StyleGuide, Template
from templates_app.services.errors import TemplatePermissionDenied, TemplateReadOnly


def _require_manager(user: Any) -> Any | None:
    """The organization a manager writes into; None for a superuser without one (global)."""
    if user is None or not getattr(user, "is_authenticated", False):
        raise TemplatePermissionDenied.saying("Sign in as a template manager to do this.")
    membership = membership_of(user)
    if membership is not None and membership.is_manager:
        return membership.organization
    if getattr(user, "is_superuser", False):
        return membership.organization if membership is not None else None
    raise TemplatePermissionDenied.saying(
        "Only the organization's template managers may edit templates and style guides."
    )


def _require_editable(user: Any, template: Template) -> None:
    _require_manager(user)
    if template.built_in:
        raise TemplateReadOnly.saying(
            f"{template.name!r} is a built-in template and is read-only: duplicate it to "
            "customise it."
        )
    if getattr(user, "is_superuser", False):
        return
    membership = membership_of(user)
    if membership is None or template.organization_id != membership.organization_id:
        raise TemplatePermissionDenied.saying("This template belongs to another organization.")


def _require_style_guide_editable(user: Any, style_guide: StyleGuide) -> None:
    _require_manager(user)
    if getattr(user, "is_superuser", False):
        return
    membership = membership_of(user)
    if membership is None or style_guide.organization_id != membership.organization_id:
        raise TemplatePermissionDenied.saying("This style guide belongs to another organization.")


def can_edit_templates(user: Any) -> bool:
    """Whether ``user`` may write templates and style guides (for views that hide buttons)."""
    try:
        _require_manager(user)
    except TemplatePermissionDenied:
        return False
    return True
