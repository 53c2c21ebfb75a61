"""Style guides: an organization's terms, abbreviations, banned phrases and writer instructions."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from templates_app.models import StyleGuide
from templates_app.services.auditing import audited
from templates_app.services.cleaning import (
    _clean_abbreviations,
    _clean_banned,
    _clean_preferred_terms,
    _required_text,
    _tense,
    _text,
)
from templates_app.services.errors import TemplateValidationError
from templates_app.services.permissions import _require_manager, _require_style_guide_editable


@audited("create", "style_guide")
@transaction.atomic
def style_guide_create(
    *,
    user: Any,
    name: str,
    tense: str = "past",
    preferred_terms: dict[str, list[str]] | None = None,
    abbreviations: dict[str, str] | None = None,
    banned_phrases: list[str] | None = None,
    instructions: str = "",
) -> StyleGuide:
    organization = _require_manager(user)
    if organization is None:
        raise TemplateValidationError.saying(
            "A style guide belongs to an organization; join one first."
        )
    return StyleGuide.objects.create(
        organization=organization,
        name=_required_text(name, "name", max_length=200),
        tense=_tense(tense or "past"),
        preferred_terms=_clean_preferred_terms(preferred_terms),
        abbreviations=_clean_abbreviations(abbreviations),
        banned_phrases=_clean_banned(banned_phrases),
        instructions=_text(instructions, "instructions"),
    )


@audited("update", "style_guide")
@transaction.atomic
def style_guide_update(
    *,
    user: Any,
    style_guide: StyleGuide,
    name: str | None = None,
    tense: str | None = None,
    preferred_terms: dict[str, list[str]] | None = None,
    abbreviations: dict[str, str] | None = None,
    banned_phrases: list[str] | None = None,
    instructions: str | None = None,
) -> StyleGuide:
    """Change the given fields; fields left as None keep their value."""
    _require_style_guide_editable(user, style_guide)
    if name is not None:
        style_guide.name = _required_text(name, "name", max_length=200)
    if tense is not None:
        style_guide.tense = _tense(tense)
    if preferred_terms is not None:
        style_guide.preferred_terms = _clean_preferred_terms(preferred_terms)
    if abbreviations is not None:
        style_guide.abbreviations = _clean_abbreviations(abbreviations)
    if banned_phrases is not None:
        style_guide.banned_phrases = _clean_banned(banned_phrases)
    if instructions is not None:
        style_guide.instructions = _text(instructions, "instructions")
    style_guide.save()
    return style_guide


@audited("delete", "style_guide")
@transaction.atomic
def style_guide_delete(*, user: Any, style_guide: StyleGuide) -> None:
    """Delete a style guide; documents that used it keep their text and lose the link."""
    _require_style_guide_editable(user, style_guide)
    style_guide.delete()
