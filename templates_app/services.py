"""Every write to templates, their sections and rules, and style guides.

Keyword-only, typed, transactional; no HTTP and no DRF here. Expected failures raise
``TemplateError`` subclasses that carry an HTTP-like ``status`` and a stable ``code`` for the API
layer to translate, and a message a person can act on (naming the offending field).

Rules the functions enforce for every caller (API, portal, admin, commands):
- only an organization's managers (and superusers) write; members get ``TemplatePermissionDenied``;
- built-in templates are read-only (``TemplateReadOnly``): duplicating one makes an editable copy;
- section ids are UUIDs that survive reordering and renaming; ``order_index`` stays 0..n-1;
- a section's level is at most one deeper than the section before it (the first is level 1);
- reordering renumbers every section from order and level ("1", "1.1", "2"...), except the
  sections whose hints say ``unnumbered`` (front matter such as the M11 title page).
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils.text import get_valid_filename

from templates_app.docx_outline import DocxOutline, read_docx_outline_file
from templates_app.models import Rule, StyleGuide, Template, TemplateSection

MAX_LEVEL = 9
ORDER_OFFSET = 1_000_000  # moves rows out of the way of the (template, order_index) constraint
TENSES = ("past", "source")
SECTION_NAME = re.compile(r"^\s*(\d+(?:\.\d+)*)\.?(?:\s+(\S.*))?$", re.DOTALL)


# --- errors ---------------------------------------------------------------------------------------


class TemplateError(Exception):
    """An expected failure with a message for a person; ``status`` hints the HTTP status."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class TemplateValidationError(TemplateError):
    status = 400
    code = "invalid"


class TemplatePermissionDenied(TemplateError):
    status = 403
    code = "permission_denied"


class TemplateReadOnly(TemplateError):
    status = 403
    code = "read_only"


class TemplateImportError(TemplateError):
    status = 400
    code = "invalid_template_file"


# --- who may write --------------------------------------------------------------------------------


def _membership(user: Any) -> Any | None:
    membership = getattr(user, "folio_membership", None)
    if membership is not None:
        return membership
    try:
        return user.membership
    except Exception:  # no membership (RelatedObjectDoesNotExist) or no user
        return None


def _require_manager(user: Any) -> Any | None:
    """The organization a manager writes into; None for a superuser without one (global)."""
    if user is None or not getattr(user, "is_authenticated", False):
        raise TemplatePermissionDenied("Sign in as a template manager to do this.")
    membership = _membership(user)
    if membership is not None and membership.is_manager:
        return membership.organization
    if getattr(user, "is_superuser", False):
        return membership.organization if membership is not None else None
    raise TemplatePermissionDenied(
        "Only the organization's template managers may edit templates and style guides."
    )


def _require_editable(user: Any, template: Template) -> None:
    _require_manager(user)
    if template.built_in:
        raise TemplateReadOnly(
            f"{template.name!r} is a built-in template and is read-only: duplicate it to "
            "customise it."
        )
    if getattr(user, "is_superuser", False):
        return
    membership = _membership(user)
    if membership is None or template.organization_id != membership.organization_id:
        raise TemplatePermissionDenied("This template belongs to another organization.")


def _require_style_guide_editable(user: Any, style_guide: StyleGuide) -> None:
    _require_manager(user)
    if getattr(user, "is_superuser", False):
        return
    membership = _membership(user)
    if membership is None or style_guide.organization_id != membership.organization_id:
        raise TemplatePermissionDenied("This style guide belongs to another organization.")


def can_edit_templates(user: Any) -> bool:
    """Whether ``user`` may write templates and style guides (for views that hide buttons)."""
    try:
        _require_manager(user)
    except TemplatePermissionDenied:
        return False
    return True


# --- outline helpers ------------------------------------------------------------------------------


def parse_section_name(value: Any, *, field: str = "section_name") -> tuple[str, str]:
    """``"9.4.1 Blinding"`` → ``("9.4.1", "Blinding")``; ``"1. Summary"`` → ``("1", "Summary")``;
    a name without a leading number is all title."""
    if not isinstance(value, str) or not value.strip():
        raise TemplateValidationError(f"{field}: this field is required.")
    text = " ".join(value.split())
    match = SECTION_NAME.match(text)
    if match:
        number, title = match.group(1), (match.group(2) or "").strip()
        if not title:
            raise TemplateValidationError(f"{field}: {text!r} has a number but no title.")
    else:
        number, title = "", text
    if len(number) > 40:
        raise TemplateValidationError(f"{field}: the number is longer than 40 characters.")
    if len(title) > 400:
        raise TemplateValidationError(f"{field}: the title is longer than 400 characters.")
    return number, title


def outline_numbers(levels: list[int], unnumbered: list[bool] | None = None) -> list[str]:
    """Hierarchical numbers from levels: [1, 2, 2, 1] → ["1", "1.1", "1.2", "2"]."""
    counters: list[int] = []
    numbers: list[str] = []
    for i, raw in enumerate(levels):
        if unnumbered and unnumbered[i]:
            numbers.append("")
            continue
        level = max(1, int(raw))
        del counters[level:]
        while len(counters) < level - 1:
            counters.append(1)  # a skipped level (only after a non-cascading delete)
        if len(counters) == level:
            counters[-1] += 1
        else:
            counters.append(1)
        numbers.append(".".join(str(c) for c in counters))
    return numbers


def _is_unnumbered(hints: Any) -> bool:
    return isinstance(hints, dict) and bool(hints.get("unnumbered"))


def _level_problem(levels: list[int], describe: Callable[[int], str]) -> str | None:
    previous = 0
    for i, level in enumerate(levels):
        if level > previous + 1:
            if previous == 0:
                return f"{describe(i)}: the first section must be level 1, not level {level}."
            return (
                f"{describe(i)}: a level-{level} section cannot follow a level-{previous} "
                "section (a level may only go one deeper at a time)."
            )
        previous = level
    return None


def _write_order(
    template: Template,
    ordered: list[TemplateSection],
    fields: Iterable[str],
    *,
    gap_at: int | None = None,
) -> None:
    """Store ``ordered`` as the template's sections 0..n-1 (plus ``fields``), leaving index
    ``gap_at`` free when given, without ever violating the unique (template, order_index)
    constraint on the way: every row first moves out of range, then to its final index."""
    TemplateSection.objects.filter(template=template).update(
        order_index=F("order_index") + ORDER_OFFSET
    )
    for index, section in enumerate(ordered):
        section.order_index = index + 1 if gap_at is not None and index >= gap_at else index
    if ordered:
        TemplateSection.objects.bulk_update(ordered, ["order_index", *fields])


def _touch(template: Template) -> None:
    template.save(update_fields=["updated_at"])


def _default_tense(document_type: str) -> str:
    return "past" if document_type.strip().upper() in {"CSR", "CLINICAL STUDY REPORT"} else "source"


# --- input cleaning -------------------------------------------------------------------------------


def _text(value: Any, field: str, *, max_length: int | None = None, default: str = "") -> str:
    if value is None:
        return default
    if not isinstance(value, str):
        raise TemplateValidationError(f"{field}: must be text.")
    value = value.strip()
    if max_length is not None and len(value) > max_length:
        raise TemplateValidationError(f"{field}: must be at most {max_length} characters.")
    return value


def _required_text(value: Any, field: str, *, max_length: int) -> str:
    text = _text(value, field, max_length=max_length)
    if not text:
        raise TemplateValidationError(f"{field}: this field is required.")
    return text


def _level(value: Any, field: str, default: int | None = 1) -> int:
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TemplateValidationError(f"{field}: must be an integer from 1 to {MAX_LEVEL}.")
    try:
        level = int(value)
    except ValueError as exc:
        raise TemplateValidationError(
            f"{field}: must be an integer from 1 to {MAX_LEVEL}."
        ) from exc
    if not 1 <= level <= MAX_LEVEL:
        raise TemplateValidationError(f"{field}: must be an integer from 1 to {MAX_LEVEL}.")
    return level


def _order_index(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TemplateValidationError(f"{field}: must be a non-negative integer.")
    try:
        index = int(value)
    except ValueError as exc:
        raise TemplateValidationError(f"{field}: must be a non-negative integer.") from exc
    if index < 0:
        raise TemplateValidationError(f"{field}: must be a non-negative integer.")
    return index


def _dict(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TemplateValidationError(f"{field}: must be an object.")
    return value


def _tense(value: Any, field: str = "tense") -> str:
    if value not in TENSES:
        raise TemplateValidationError(f"{field}: must be one of {', '.join(TENSES)}.")
    return value


def _clean_rules(value: Any, field: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TemplateValidationError(f"{field}: must be a list.")
    rules = []
    for j, raw in enumerate(value):
        where = f"{field}[{j}]"
        if not isinstance(raw, dict):
            raise TemplateValidationError(f"{where}: must be an object.")
        rule_type = raw.get("rule_type") or Rule.RuleType.EXTRACTION
        if rule_type not in Rule.RuleType.values:
            raise TemplateValidationError(
                f"{where}.rule_type: must be one of {', '.join(Rule.RuleType.values)}."
            )
        parameters = raw.get("parameters", raw.get("rule_parameters"))
        rules.append(
            {
                "rule_type": rule_type,
                "description": _text(raw.get("description"), f"{where}.description"),
                "parameters": _dict(parameters, f"{where}.parameters"),
                "styles": _dict(raw.get("styles"), f"{where}.styles"),
            }
        )
    return rules


def _clean_section(raw: Any, field: str) -> dict[str, Any]:
    """One section of a create/import payload: ``section_name`` (number and title together) or
    ``number`` + ``title``; ``template_instructions`` or ``instructions``."""
    if not isinstance(raw, dict):
        raise TemplateValidationError(f"{field}: must be an object.")
    if raw.get("section_name") not in (None, ""):
        number, title = parse_section_name(raw["section_name"], field=f"{field}.section_name")
        if raw.get("number") not in (None, ""):
            number = _text(raw["number"], f"{field}.number", max_length=40).rstrip(".")
    else:
        title = _text(raw.get("title"), f"{field}.title", max_length=400)
        if not title:
            raise TemplateValidationError(f"{field}.section_name: this field is required.")
        number = _text(raw.get("number"), f"{field}.number", max_length=40).rstrip(".")
    instructions = raw.get("template_instructions", raw.get("instructions"))
    return {
        "number": number,
        "title": title,
        "level": _level(raw.get("level"), f"{field}.level"),
        "order_index": _order_index(raw.get("order_index"), f"{field}.order_index"),
        "synopsis": _text(raw.get("synopsis"), f"{field}.synopsis"),
        "instructions": _text(instructions, f"{field}.template_instructions"),
        "template_text": _text(raw.get("template_text"), f"{field}.template_text"),
        "hints": _dict(raw.get("hints"), f"{field}.hints"),
        "rules": _clean_rules(raw.get("rules"), f"{field}.rules"),
    }


def _create_sections(template: Template, cleaned: list[dict[str, Any]]) -> None:
    """Create sections (already in order) with their rules; numbers missing are computed."""
    computed = outline_numbers(
        [c["level"] for c in cleaned], [_is_unnumbered(c["hints"]) for c in cleaned]
    )
    sections: list[TemplateSection] = []
    rules: list[Rule] = []
    for index, (item, number) in enumerate(zip(cleaned, computed, strict=True)):
        section = TemplateSection(
            id=uuid.uuid4(),
            template=template,
            order_index=index,
            level=item["level"],
            number=item["number"] or ("" if _is_unnumbered(item["hints"]) else number),
            title=item["title"],
            synopsis=item["synopsis"],
            instructions=item["instructions"],
            template_text=item["template_text"],
            hints=item["hints"],
        )
        sections.append(section)
        rules.extend(Rule(section=section, **rule) for rule in item["rules"])
    TemplateSection.objects.bulk_create(sections)
    if rules:
        Rule.objects.bulk_create(rules)


# --- templates ------------------------------------------------------------------------------------


@transaction.atomic
def template_create(
    *,
    user: Any,
    template_name: str,
    document_type: str,
    sections: list[dict[str, Any]],
    description: str = "",
    tense: str | None = None,
    base_document: str = "",
) -> Template:
    """An organization's own template from an outline (at least one section)."""
    organization = _require_manager(user)
    name = _required_text(template_name, "template_name", max_length=300)
    doc_type = _required_text(document_type, "document_type", max_length=80)
    if not isinstance(sections, list) or not sections:
        raise TemplateValidationError("sections: must be a non-empty list of sections.")
    cleaned = [_clean_section(raw, f"sections[{i}]") for i, raw in enumerate(sections)]
    # Sections sort by their order_index where given (stable), else by position.
    positions = sorted(
        range(len(cleaned)),
        key=lambda i: (
            cleaned[i]["order_index"] if cleaned[i]["order_index"] is not None else i,
            i,
        ),
    )
    ordered = [cleaned[i] for i in positions]
    problem = _level_problem(
        [c["level"] for c in ordered], lambda k: f"sections[{positions[k]}].level"
    )
    if problem:
        raise TemplateValidationError(problem)
    template = Template.objects.create(
        organization=organization,
        name=name,
        document_type=doc_type,
        description=_text(description, "description"),
        tense=_tense(tense) if tense is not None else _default_tense(doc_type),
        built_in=False,
        key=None,
        base_document=base_document,
    )
    _create_sections(template, ordered)
    return template


@transaction.atomic
def template_update(
    *,
    user: Any,
    template: Template,
    template_name: str | None = None,
    document_type: str | None = None,
    description: str | None = None,
    tense: str | None = None,
) -> Template:
    """Change a template's own fields (not its sections)."""
    _require_editable(user, template)
    if template_name is not None:
        template.name = _required_text(template_name, "template_name", max_length=300)
    if document_type is not None:
        template.document_type = _required_text(document_type, "document_type", max_length=80)
    if description is not None:
        template.description = _text(description, "description")
    if tense is not None:
        template.tense = _tense(tense)
    template.save()
    return template


@transaction.atomic
def template_delete(*, user: Any, template: Template) -> None:
    """Delete an organization's template. Documents made from it keep their outline snapshot."""
    _require_editable(user, template)
    template.delete()


@transaction.atomic
def template_duplicate(*, user: Any, template: Template, template_name: str = "") -> Template:
    """An editable copy in the caller's organization, with new section ids and the same rules."""
    organization = _require_manager(user)
    name = _text(template_name, "template_name", max_length=300) or f"{template.name} (copy)"[:300]
    copy = Template.objects.create(
        organization=organization,
        name=name,
        document_type=template.document_type,
        description=template.description,
        tense=template.tense,
        built_in=False,
        key=None,
        base_document=template.base_document,
    )
    sections: list[TemplateSection] = []
    rules: list[Rule] = []
    originals = template.sections.order_by("order_index").prefetch_related("rules")
    for index, original in enumerate(originals):
        section = TemplateSection(
            id=uuid.uuid4(),
            template=copy,
            order_index=index,
            level=original.level,
            number=original.number,
            title=original.title,
            synopsis=original.synopsis,
            instructions=original.instructions,
            template_text=original.template_text,
            hints=dict(original.hints or {}),
        )
        sections.append(section)
        rules.extend(
            Rule(
                section=section,
                rule_type=rule.rule_type,
                description=rule.description,
                parameters=dict(rule.parameters or {}),
                styles=dict(rule.styles or {}),
            )
            for rule in original.rules.all()
        )
    TemplateSection.objects.bulk_create(sections)
    if rules:
        Rule.objects.bulk_create(rules)
    return copy


# --- sections -------------------------------------------------------------------------------------


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
            raise TemplateValidationError(
                f"level: the first section must be level 1, not {new_level}."
            )
        raise TemplateValidationError(
            f"level: a level-{new_level} section cannot follow a level-{before} section "
            "(a level may only go one deeper at a time)."
        )
    if position < len(existing) and existing[position].level > new_level + 1:
        after = existing[position]
        raise TemplateValidationError(
            f"level: a level-{new_level} section at position {position} would leave the "
            f"following level-{after.level} section {after.title!r} without a parent."
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


def _as_uuid_text(value: Any) -> str | None:
    try:
        return str(uuid.UUID(str(value).strip()))
    except (TypeError, ValueError, AttributeError):
        return None


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
        raise TemplateValidationError(
            "sections: must be a non-empty list of {section_id, order_index, level}."
        )
    current = list(template.sections.select_for_update().order_by("order_index"))
    by_id = {str(s.id): s for s in current}
    moves: dict[str, tuple[int, int]] = {}
    problems: list[str] = []
    for i, item in enumerate(sections):
        where = f"sections[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: must be an object.")
            continue
        sid = _as_uuid_text(item.get("section_id"))
        if sid is None or sid not in by_id:
            shown = str(item.get("section_id"))[:60]
            problems.append(f"{where}.section_id: {shown!r} is not a section of this template.")
            continue
        if sid in moves:
            problems.append(f"{where}.section_id: {sid} is listed twice.")
            continue
        try:
            index = _order_index(item.get("order_index"), f"{where}.order_index")
            level = _level(item.get("level"), f"{where}.level", default=by_id[sid].level)
        except TemplateValidationError as exc:
            problems.append(exc.message)
            continue
        moves[sid] = (i if index is None else index, level)
    if problems:
        raise TemplateValidationError(" ".join(problems))

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
        raise TemplateValidationError(problem)
    numbers = outline_numbers(
        [s.level for s in ordered], [_is_unnumbered(s.hints) for s in ordered]
    )
    for section, number in zip(ordered, numbers, strict=True):
        section.number = number
    _write_order(template, ordered, ["level", "number"])
    _touch(template)
    return ordered


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


# --- imports --------------------------------------------------------------------------------------


def _read_limited(file: Any, max_bytes: int, label: str) -> bytes:
    size = getattr(file, "size", None)
    if isinstance(size, int) and size > max_bytes:
        raise TemplateImportError(
            f"file: {label!r} is larger than the {max_bytes // (1024 * 1024)} MB limit.",
            status=413,
            code="file_too_large",
        )
    if hasattr(file, "seek"):
        try:
            file.seek(0)
        except (OSError, ValueError):
            pass
    data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise TemplateImportError(
            f"file: {label!r} is larger than the {max_bytes // (1024 * 1024)} MB limit.",
            status=413,
            code="file_too_large",
        )
    if not data:
        raise TemplateImportError(f"file: {label!r} is empty.", code="empty_file")
    return data


def template_import_docx(
    *,
    user: Any,
    file: IO[bytes] | Any,
    template_name: str | None = None,
    document_type: str = "Protocol",
    filename: str | None = None,
) -> Template:
    """A template from a Word file: its headings become sections (levels from the heading
    outline level, following style inheritance), instructional text becomes each section's
    instructions, other text its template text; numbering is recomputed. The file is kept as
    the template's base document at ``<organization_id>/templates/<name>``."""
    organization = _require_manager(user)
    label = Path(filename or getattr(file, "name", "") or "template.docx").name
    if not label.lower().endswith(".docx"):
        raise TemplateImportError(
            f"file: {label!r} is not a Word .docx file (save .doc and .dotx files as .docx).",
            status=400,
            code="invalid_file_type",
        )
    doc_type = _required_text(document_type or "Protocol", "document_type", max_length=80)
    name_given = _text(template_name, "template_name", max_length=300)
    data = _read_limited(file, settings.FOLIO_MAX_UPLOAD_MB * 1024 * 1024, label)
    outline = _parse_docx_limited(data, label)

    levels = [entry.level for entry in outline.sections]
    numbers = outline_numbers(levels)
    cleaned = [
        {
            "number": number,
            "title": entry.title,
            "level": entry.level,
            "synopsis": "",
            "instructions": "\n".join(entry.instructions),
            "template_text": "\n".join(entry.text),
            "hints": {},
            "rules": [],
        }
        for entry, number in zip(outline.sections, numbers, strict=True)
    ]
    name = name_given or outline.title or Path(label).stem
    safe = get_valid_filename(label)[:150] or "template.docx"
    prefix = str(organization.id) if organization is not None else "global"
    key = default_storage.save(f"{prefix}/templates/{safe}", ContentFile(data))
    try:
        with transaction.atomic():
            template = Template.objects.create(
                organization=organization,
                name=name[:300],
                document_type=doc_type,
                description=f"Imported from {label}.",
                tense=_default_tense(doc_type),
                built_in=False,
                key=None,
                base_document=key,
            )
            _create_sections(template, cleaned)
    except Exception:
        default_storage.delete(key)
        raise
    return template


_IMPORT_REFUSALS = {
    "unreadable_document": ("it is not a Word (.docx) document", "invalid_template_file"),
    "invalid_file_type": ("it is not a Word (.docx) document", "invalid_template_file"),
    "encrypted_document": ("it is password-protected", "encrypted_document"),
    "document_too_complex": (
        "it is too large or too complex to read within Folio's limits",
        "document_too_complex",
    ),
    "processing_timeout": ("reading it took longer than the time limit", "processing_timeout"),
    "resource_limit_exceeded": (
        "reading it needed more memory than allowed",
        "resource_limit_exceeded",
    ),
}


def _parse_docx_limited(data: bytes, label: str) -> DocxOutline:
    """The outline of a .docx, read like a source upload (docs/security.md, finding 5): the zip
    pre-check first (bombs, overlaps, DTDs), then python-docx in a forked child with a deadline
    (``FOLIO_TEMPLATE_IMPORT_TIMEOUT``) and a memory limit (``FOLIO_TEMPLATE_IMPORT_MEMORY_MB``),
    and caps on paragraphs and headings. The web process never parses the file itself."""
    import tempfile

    from documents.pipeline import safety
    from documents.pipeline.errors import GenerationError

    with tempfile.TemporaryDirectory(prefix="folio-template-") as tmp:
        path = Path(tmp) / "template.docx"
        path.write_bytes(data)
        try:
            safety.check_ooxml_zip(str(path), file_name=label, kind="docx")
            status, result = safety.run_limited(
                read_docx_outline_file,
                str(path),
                int(settings.FOLIO_TEMPLATE_MAX_PARAGRAPHS),
                int(settings.FOLIO_TEMPLATE_MAX_SECTIONS),
                timeout=float(settings.FOLIO_TEMPLATE_IMPORT_TIMEOUT),
                memory_mb=int(settings.FOLIO_TEMPLATE_IMPORT_MEMORY_MB),
                file_name=label,
            )
        except GenerationError as exc:
            reason, code = _IMPORT_REFUSALS.get(exc.code, _IMPORT_REFUSALS["unreadable_document"])
            raise TemplateImportError(
                f"file: {label!r} cannot be imported: {reason}.", code=code
            ) from exc
    if status != "ok":
        code = "document_too_complex" if "(the limit)" in str(result) else "invalid_template_file"
        raise TemplateImportError(f"file: {label!r} cannot be imported: {result}.", code=code)
    return result  # type: ignore[no-any-return]


def template_import_json(*, user: Any, data: Any) -> Template:
    """A template from the JSON that the admin's export (or a built-in's file) produces."""
    if not isinstance(data, dict):
        raise TemplateImportError("The JSON must be an object with a name and sections.")
    name = data.get("template_name", data.get("name"))
    return template_create(
        user=user,
        template_name=name,
        document_type=data.get("document_type"),
        sections=data.get("sections"),
        description=data.get("description") or "",
        tense=data.get("tense"),
    )


# --- style guides ---------------------------------------------------------------------------------


def _clean_preferred_terms(value: Any) -> dict[str, list[str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TemplateValidationError(
            'preferred_terms: must be an object {"preferred term": ["variant", ...]}.'
        )
    out: dict[str, list[str]] = {}
    for term, variants in value.items():
        term_text = str(term).strip()
        if not term_text:
            raise TemplateValidationError("preferred_terms: a term is empty.")
        if isinstance(variants, str):
            variants = [variants]
        if not isinstance(variants, list) or not all(isinstance(v, str) for v in variants):
            raise TemplateValidationError(
                f"preferred_terms.{term_text}: must be a list of variant spellings."
            )
        out[term_text] = [v.strip() for v in variants if v.strip()]
    return out


def _clean_abbreviations(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TemplateValidationError('abbreviations: must be an object {"AE": "adverse event"}.')
    out: dict[str, str] = {}
    for abbr, definition in value.items():
        abbr_text = str(abbr).strip()
        if not abbr_text:
            raise TemplateValidationError("abbreviations: an abbreviation is empty.")
        if not isinstance(definition, str) or not definition.strip():
            raise TemplateValidationError(f"abbreviations.{abbr_text}: must be a definition.")
        out[abbr_text] = definition.strip()
    return out


def _clean_banned(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TemplateValidationError("banned_phrases: must be a list of phrases.")
    return [v.strip() for v in value if v.strip()]


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
        raise TemplateValidationError("A style guide belongs to an organization; join one first.")
    return StyleGuide.objects.create(
        organization=organization,
        name=_required_text(name, "name", max_length=200),
        tense=_tense(tense or "past"),
        preferred_terms=_clean_preferred_terms(preferred_terms),
        abbreviations=_clean_abbreviations(abbreviations),
        banned_phrases=_clean_banned(banned_phrases),
        instructions=_text(instructions, "instructions"),
    )


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


@transaction.atomic
def style_guide_delete(*, user: Any, style_guide: StyleGuide) -> None:
    """Delete a style guide; documents that used it keep their text and lose the link."""
    _require_style_guide_editable(user, style_guide)
    style_guide.delete()


# --- audit log ------------------------------------------------------------------------------------
# Every change to a template or a style guide is recorded (who, what, when) in the append-only
# audit log, by wrapping the public services once here rather than repeating it in each.


def _audited(func: Callable[..., Any], action: str, object_type: str) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        target = kwargs.get("template") or kwargs.get("style_guide")
        target_id = getattr(target, "pk", None)
        result = func(*args, **kwargs)
        obj = result if isinstance(result, Template | StyleGuide) else target
        user = kwargs.get("user")
        membership = _membership(user)
        org_id = getattr(obj, "organization_id", None) or (
            membership.organization_id if membership is not None else None
        )
        if org_id is not None:
            from documents.services import audit_record

            audit_record(
                organization_id=org_id,
                actor=user,
                action=action,
                object_type=object_type,
                object_id=getattr(obj, "pk", None) or target_id,
                details={"name": getattr(obj, "name", "")},
            )
        return result

    return wrapper


for _name, _action, _type in [
    ("template_create", "create", "template"),
    ("template_update", "update", "template"),
    ("template_delete", "delete", "template"),
    ("template_duplicate", "duplicate", "template"),
    ("template_section_add", "section_add", "template"),
    ("template_section_update", "section_update", "template"),
    ("template_sections_reorder", "sections_reorder", "template"),
    ("template_section_rename", "section_rename", "template"),
    ("template_section_delete", "section_delete", "template"),
    ("template_import_docx", "import_docx", "template"),
    ("template_import_json", "import_json", "template"),
    ("style_guide_create", "create", "style_guide"),
    ("style_guide_update", "update", "style_guide"),
    ("style_guide_delete", "delete", "style_guide"),
]:
    globals()[_name] = _audited(globals()[_name], _action, _type)
