"""A template's sections: add, change, reorder (renumbering all), rename, delete.

A section's level is at most one deeper than the section before it (the first is level 1);
reordering renumbers every section from order and level ("1", "1.1", "2"...), except the sections
whose hints say ``unnumbered`` (front matter such as the M11 title page)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from portal.errors import Problems
from templates_app.models import Rule, Template, TemplateSection
from templates_app.services.auditing import audited
from templates_app.services.cleaning import (
    _as_uuid_text,
    _clean_rules,
    _dict,
    _level,
    _order_index,
    _text,
)
from templates_app.services.errors import TemplateValidationError
from templates_app.services.numbering import (
    _is_unnumbered,
    _level_problem,
    outline_numbers,
    parse_section_name,
)
from templates_app.services.permissions import _require_editable
from templates_app.services.templates import _touch, _write_order


@audited("section_add", "template")
@transaction.atomic
def template_section_add(
    *,
    user: Any,
    template: Template,
    section_name: str,
    level: int = 1,
    order_index: int | None = None,
    synopsis: str = "",
    template_instructions: str = "",
    template_text: str = "",
    hints: dict[str, Any] | None = None,
    rules: list[dict[str, Any]] | None = None,
) -> TemplateSection:
    """Insert a section at ``order_index`` (0-based; default: at the end). A number typed in
    ``section_name`` is kept; without one the section gets the number of its position."""
    _require_editable(user, template)
    number, title = parse_section_name(section_name)
    new_level = _level(level, "level")
    position = _order_index(order_index, "order_index")
    clean_hints = _dict(hints, "hints")
    clean_rules = _clean_rules(rules, "rules")
    existing = list(template.sections.select_for_update().order_by("order_index"))
    if position is None or position > len(existing):
        position = len(existing)
    before = existing[position - 1].level if position > 0 else 0
    if new_level > before + 1:
        if before == 0:
            raise TemplateValidationError.about(
                "level", f"the first section must be level 1, not {new_level}."
            )
        raise TemplateValidationError.about(
            "level",
            f"a level-{new_level} section cannot follow a level-{before} section "
            "(a level may only go one deeper at a time).",
        )
    if position < len(existing) and existing[position].level > new_level + 1:
        after = existing[position]
        raise TemplateValidationError.about(
            "level",
            f"a level-{new_level} section at position {position} would leave the "
            f"following level-{after.level} section {after.title!r} without a parent.",
        )
    if not number and not _is_unnumbered(clean_hints):
        levels = [s.level for s in existing]
        flags = [_is_unnumbered(s.hints) for s in existing]
        levels.insert(position, new_level)
        flags.insert(position, False)
        number = outline_numbers(levels, flags)[position]
    _write_order(template, existing, [], gap_at=position)
    section = TemplateSection.objects.create(
        template=template,
        order_index=position,
        level=new_level,
        number=number,
        title=title,
        synopsis=_text(synopsis, "synopsis"),
        instructions=_text(template_instructions, "template_instructions"),
        template_text=_text(template_text, "template_text"),
        hints=clean_hints,
    )
    Rule.objects.bulk_create([Rule(section=section, **rule) for rule in clean_rules])
    _touch(template)
    return section


@audited("section_update", "template")
@transaction.atomic
def template_section_update(
    *,
    user: Any,
    section: TemplateSection,
    synopsis: str | None = None,
    template_instructions: str | None = None,
    template_text: str | None = None,
    hints: dict[str, Any] | None = None,
) -> TemplateSection:
    """Change a section's content fields (its place and name have their own services)."""
    _require_editable(user, section.template)
    if synopsis is not None:
        section.synopsis = _text(synopsis, "synopsis")
    if template_instructions is not None:
        section.instructions = _text(template_instructions, "template_instructions")
    if template_text is not None:
        section.template_text = _text(template_text, "template_text")
    if hints is not None:
        section.hints = _dict(hints, "hints")
    section.save()
    _touch(section.template)
    return section


@audited("sections_reorder", "template")
@transaction.atomic
def template_sections_reorder(
    *, user: Any, template: Template, sections: list[dict[str, Any]]
) -> list[TemplateSection]:
    """Apply new positions (and levels) and renumber every section from order and level.

    ``sections`` lists ``{"section_id", "order_index", "level"}``; sections left out keep their
    place relative to their current ``order_index`` (on a tie a listed section goes first).
    """
    _require_editable(user, template)
    if not isinstance(sections, list) or not sections:
        raise TemplateValidationError.about(
            "sections", "must be a non-empty list of {section_id, order_index, level}."
        )
    current = list(template.sections.select_for_update().order_by("order_index"))
    by_id = {str(s.id): s for s in current}
    moves: dict[str, tuple[int, int]] = {}
    problems = Problems()
    for i, item in enumerate(sections):
        where = f"sections[{i}]"
        if not isinstance(item, dict):
            problems.add(where, "must be an object.")
            continue
        sid = _as_uuid_text(item.get("section_id"))
        if sid is None or sid not in by_id:
            shown = str(item.get("section_id"))[:60]
            problems.add(f"{where}.section_id", f"{shown!r} is not a section of this template.")
            continue
        if sid in moves:
            problems.add(f"{where}.section_id", f"{sid} is listed twice.")
            continue
        try:
            index = _order_index(item.get("order_index"), f"{where}.order_index")
            level = _level(item.get("level"), f"{where}.level", default=by_id[sid].level)
        except TemplateValidationError as exc:
            problems.add_error(exc)
            continue
        moves[sid] = (i if index is None else index, level)
    problems.raise_if_any(TemplateValidationError)

    def sort_key(pair: tuple[int, TemplateSection]) -> tuple[int, int, int]:
        position, section = pair
        move = moves.get(str(section.id))
        if move is not None:
            return (move[0], 0, position)
        return (section.order_index, 1, position)

    ordered = [s for _, s in sorted(enumerate(current), key=sort_key)]
    for section in ordered:
        move = moves.get(str(section.id))
        if move is not None:
            section.level = move[1]
    problem = _level_problem(
        [s.level for s in ordered],
        lambda k: f"sections: section {ordered[k].id} ({ordered[k].title!r})",
    )
    if problem:
        raise TemplateValidationError.saying(problem)
    numbers = outline_numbers(
        [s.level for s in ordered], [_is_unnumbered(s.hints) for s in ordered]
    )
    for section, number in zip(ordered, numbers, strict=True):
        section.number = number
    _write_order(template, ordered, ["level", "number"])
    _touch(template)
    return ordered


@audited("section_rename", "template")
@transaction.atomic
def template_section_rename(
    *, user: Any, section: TemplateSection, section_name: str
) -> TemplateSection:
    """``"2.1 Efficacy Results"`` sets number and title; a name without a number keeps the
    section's current number."""
    _require_editable(user, section.template)
    number, title = parse_section_name(section_name)
    if number:
        section.number = number
    section.title = title
    section.save(update_fields=["number", "title"])
    _touch(section.template)
    return section


@audited("section_delete", "template")
@transaction.atomic
def template_section_delete(
    *, user: Any, section: TemplateSection, cascade_children: bool = True
) -> int:
    """Delete a section (and, when cascading, the deeper-level sections that follow it, i.e.
    its descendants). Rules go with their sections. Returns the number of sections deleted.
    The remaining sections keep their numbers and are re-indexed 0..n-1."""
    template = section.template
    _require_editable(user, template)
    ordered = list(template.sections.select_for_update().order_by("order_index"))
    position = next(i for i, s in enumerate(ordered) if s.pk == section.pk)
    doomed = [ordered[position]]
    if cascade_children:
        for following in ordered[position + 1 :]:
            if following.level <= section.level:
                break
            doomed.append(following)
    doomed_ids = {s.pk for s in doomed}
    TemplateSection.objects.filter(pk__in=doomed_ids).delete()
    _write_order(template, [s for s in ordered if s.pk not in doomed_ids], [])
    _touch(template)
    return len(doomed)
