"""Templates: create (from an outline, a Word file or exported JSON), change, delete, duplicate.

Section ids are UUIDs that survive reordering and renaming; ``order_index`` stays 0..n-1."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils.text import get_valid_filename

from templates_app.docx_outline import DocxOutline, read_docx_outline_file
from templates_app.models import Rule, Template, TemplateSection
from templates_app.services.auditing import audited
from templates_app.services.cleaning import (
    _clean_section,
    _default_tense,
    _required_text,
    _tense,
    _text,
)
from templates_app.services.errors import TemplateImportError, TemplateValidationError
from templates_app.services.numbering import (
    _is_unnumbered,
    _level_problem,
    outline_numbers,
)
from templates_app.services.permissions import _require_editable, _require_manager

ORDER_OFFSET = 1_000_000  # moves rows out of the way of the (template, order_index) constraint


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


@audited("create", "template")
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
        raise TemplateValidationError.about("sections", "must be a non-empty list of sections.")
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
        raise TemplateValidationError.saying(problem)
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


@audited("update", "template")
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


@audited("delete", "template")
@transaction.atomic
def template_delete(*, user: Any, template: Template) -> None:
    """Delete an organization's template. Documents made from it keep their outline snapshot."""
    _require_editable(user, template)
    template.delete()


@audited("duplicate", "template")
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


def _read_limited(file: Any, max_bytes: int, label: str) -> bytes:
    size = getattr(file, "size", None)
    if isinstance(size, int) and size > max_bytes:
        raise TemplateImportError.about(
            "file",
            f"{label!r} is larger than the {max_bytes // (1024 * 1024)} MB limit.",
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
        raise TemplateImportError.about(
            "file",
            f"{label!r} is larger than the {max_bytes // (1024 * 1024)} MB limit.",
            status=413,
            code="file_too_large",
        )
    if not data:
        raise TemplateImportError.about("file", f"{label!r} is empty.", code="empty_file")
    return data


PENDING_DIR = "templates/pending"


def _pending_key(organization: Any, token: str) -> str:
    prefix = str(organization.id) if organization is not None else "global"
    return f"{prefix}/{PENDING_DIR}/{token}.docx"


def _docx_label(file: Any, filename: str | None) -> str:
    label = Path(filename or getattr(file, "name", "") or "template.docx").name
    if not label.lower().endswith(".docx"):
        raise TemplateImportError.about(
            "file",
            f"{label!r} is not a Word .docx file (save .doc and .dotx files as .docx).",
            status=400,
            code="invalid_file_type",
        )
    return label


def template_docx_stage(
    *, user: Any, file: IO[bytes] | Any, filename: str | None = None
) -> tuple[str, DocxOutline]:
    """Read a Word file for the import preview: its outline (what would become sections, and how
    much study text each drops), and a token under which the file waits for
    ``template_import_docx(staged=token, keep=...)``. The file is kept in the organization's
    ``templates/pending/`` until the import (or forever if nobody imports it: a few MB)."""
    organization = _require_manager(user)
    label = _docx_label(file, filename)
    data = _read_limited(file, settings.FOLIO_MAX_UPLOAD_MB * 1024 * 1024, label)
    outline = _parse_docx_limited(data, label)
    token = uuid.uuid4().hex
    default_storage.save(_pending_key(organization, token), ContentFile(data))
    return token, outline


def template_docx_outline(*, user: Any, staged: str) -> DocxOutline | None:
    """The outline of a file waiting under ``staged`` (None when it is gone)."""
    organization = _require_manager(user)
    if not re.fullmatch(r"[0-9a-f]{32}", str(staged)):
        return None
    try:
        with default_storage.open(_pending_key(organization, staged), "rb") as handle:
            data = handle.read()
    except Exception:
        return None
    return _parse_docx_limited(data, "template.docx")


def prune_outline(outline: DocxOutline, keep: Iterable[int] | None) -> DocxOutline:
    """The outline with only the entries whose index is in ``keep``: an entry left out takes the
    entries under it along; levels are made sound again (one deeper at most). An index that is
    not the outline's is a 400 naming ``keep``."""
    if keep is None:
        return outline
    wanted = {int(k) for k in keep}
    unknown = sorted(k for k in wanted if not 0 <= k < len(outline.sections))
    if unknown:
        raise TemplateImportError.about(
            "keep",
            f"{', '.join(map(str, unknown))}: not an index of the file's outline "
            f"(0 to {len(outline.sections) - 1}).",
            code="invalid",
        )
    kept = []
    dropped_level: int | None = None
    for index, entry in enumerate(outline.sections):
        if dropped_level is not None and entry.level > dropped_level:
            continue
        dropped_level = None
        if index not in wanted:
            dropped_level = entry.level
            continue
        kept.append(entry)
    previous = 0
    for entry in kept:
        entry.level = max(1, min(entry.level, previous + 1))
        previous = entry.level
    if not kept:
        raise TemplateImportError.about("keep", "keep at least one section.", code="no_sections")
    return DocxOutline(title=outline.title, sections=kept)


def template_docx_preview(
    *, user: Any, file: IO[bytes] | Any, filename: str | None = None
) -> DocxOutline:
    """The outline a Word file would give (``template_import_docx`` without saving anything:
    no template, no stored file), for ``POST /api/v1/templates/import`` with ``preview=true``.
    Read under the same limits as the import."""
    _require_manager(user)
    label = _docx_label(file, filename)
    data = _read_limited(file, settings.FOLIO_MAX_UPLOAD_MB * 1024 * 1024, label)
    return _parse_docx_limited(data, label)


@audited("import_docx", "template")
def template_import_docx(
    *,
    user: Any,
    file: IO[bytes] | Any = None,
    template_name: str | None = None,
    document_type: str = "Protocol",
    filename: str | None = None,
    staged: str | None = None,
    keep: Iterable[int] | None = None,
) -> Template:
    """A template from a Word file: its headings become sections (levels from the heading
    outline level, following style inheritance), instructional text becomes each section's
    instructions and text in a template-text style its template text; the study's own text is
    dropped (``docx_outline``); numbering is recomputed. ``staged`` names a file read by
    ``template_docx_stage`` (the preview), ``keep`` the indexes of its outline entries to keep.
    The file is kept as the template's base document at ``<organization_id>/templates/<name>``."""
    organization = _require_manager(user)
    doc_type = _required_text(document_type or "Protocol", "document_type", max_length=80)
    name_given = _text(template_name, "template_name", max_length=300)
    pending: str | None = None
    if staged is not None:
        if not re.fullmatch(r"[0-9a-f]{32}", str(staged)):
            raise TemplateImportError.about("file", "upload the Word file again.", code="expired")
        pending = _pending_key(organization, str(staged))
        label = _docx_label(None, filename or "template.docx")
        try:
            with default_storage.open(pending, "rb") as handle:
                data = handle.read()
        except Exception as exc:
            raise TemplateImportError.about(
                "file", "upload the Word file again.", code="expired"
            ) from exc
    else:
        label = _docx_label(file, filename)
        data = _read_limited(file, settings.FOLIO_MAX_UPLOAD_MB * 1024 * 1024, label)
    outline = prune_outline(_parse_docx_limited(data, label), keep)

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
    if pending is not None:
        default_storage.delete(pending)
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

    from documents.pipeline import limited, safety
    from documents.pipeline.errors import GenerationError

    with tempfile.TemporaryDirectory(prefix="folio-template-") as tmp:
        path = Path(tmp) / "template.docx"
        path.write_bytes(data)
        try:
            safety.check_ooxml_zip(str(path), file_name=label, kind="docx")
            status, result = limited.run_limited(
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
            raise TemplateImportError.about(
                "file", f"{label!r} cannot be imported: {reason}.", code=code
            ) from exc
    if status != "ok":
        code = "document_too_complex" if "(the limit)" in str(result) else "invalid_template_file"
        raise TemplateImportError.about(
            "file", f"{label!r} cannot be imported: {result}.", code=code
        )
    return result  # type: ignore[no-any-return]


@audited("import_json", "template")
def template_import_json(*, user: Any, data: Any) -> Template:
    """A template from the JSON that the admin's export (or a built-in's file) produces."""
    if not isinstance(data, dict):
        raise TemplateImportError.saying("The JSON must be an object with a name and sections.")
    name = data.get("template_name", data.get("name"))
    return template_create(
        user=user,
        template_name=name,
        document_type=data.get("document_type"),
        sections=data.get("sections"),
        description=data.get("description") or "",
        tense=data.get("tense"),
    )
