"""The built-in templates as data (``ich_e3_csr.json``, ``ich_m11_protocol.json``) and their loader.

Each JSON file describes one global, read-only template: ``key``, ``name``, ``document_type``,
``tense``, ``description`` and ``sections``, each section with a fixed ``id`` (a UUID written
into the file once), ``number``, ``title``, ``level``, ``synopsis``, ``instructions``,
``template_text`` and ``hints`` (``source_kinds``, ``source_headings``, ``keywords``, and where
relevant ``derived``, ``data_fed``, ``applicable``, ``unnumbered``) read by the pipeline's mapping
step. ``sync_builtin_templates`` runs after every ``migrate`` (see ``templates_app.signals``): it
creates or updates the templates in place, so section ids never change, sections removed from a
file are deleted, and an unchanged file writes nothing.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connections, transaction
from django.db.models import F

BUILTIN_DIR = Path(__file__).resolve().parent
SECTION_FIELDS = ("order_index", "level", "number", "title", "synopsis", "instructions")
SECTION_FIELDS += ("template_text", "hints")
TEMPLATE_FIELDS = ("name", "document_type", "tense", "description")
ORDER_OFFSET = 1_000_000

logger = logging.getLogger(__name__)


class BuiltinTemplateError(ValueError):
    """A built-in template file is malformed (a packaging bug: fail loudly)."""


@dataclass(frozen=True)
class SyncResult:
    key: str
    created: bool
    sections_created: int
    sections_updated: int
    sections_deleted: int

    @property
    def changed(self) -> bool:
        return self.created or bool(
            self.sections_created + self.sections_updated + self.sections_deleted
        )


def builtin_files() -> list[Path]:
    return sorted(BUILTIN_DIR.glob("*.json"))


def load_builtin_data(path: Path) -> dict[str, Any]:
    """Read and check one built-in file: unique ids and numbers, levels that nest."""
    data = json.loads(path.read_text(encoding="utf-8"))
    for field in ("key", "name", "document_type", "sections"):
        if not data.get(field):
            raise BuiltinTemplateError(f"{path.name}: {field} is missing")
    seen_ids: set[str] = set()
    seen_numbers: set[str] = set()
    previous_level = 0
    for i, section in enumerate(data["sections"]):
        where = f"{path.name}: sections[{i}]"
        try:
            sid = str(uuid.UUID(section["id"]))
        except (KeyError, ValueError) as exc:
            raise BuiltinTemplateError(f"{where}: id must be a UUID") from exc
        if sid in seen_ids:
            raise BuiltinTemplateError(f"{where}: id {sid} is used twice")
        seen_ids.add(sid)
        number = section.get("number", "")
        if number:
            if number in seen_numbers:
                raise BuiltinTemplateError(f"{where}: number {number} is used twice")
            seen_numbers.add(number)
        level = int(section.get("level", 1))
        if not section.get("title") or level < 1 or level > previous_level + 1:
            raise BuiltinTemplateError(f"{where}: needs a title and a level that nests")
        previous_level = level
    return data


def _sync_one(data: dict[str, Any], using: str) -> SyncResult:
    from templates_app.models import Template, TemplateSection

    with transaction.atomic(using=using):
        template = Template.objects.using(using).select_for_update().filter(key=data["key"]).first()
        created = template is None
        wanted_template = {
            "name": data["name"],
            "document_type": data["document_type"],
            "tense": data.get("tense", "past"),
            "description": data.get("description", ""),
        }
        if template is None:
            template = Template(key=data["key"], built_in=True, organization=None)
        changed = created or template.organization_id is not None or not template.built_in
        for field, value in wanted_template.items():
            if getattr(template, field) != value:
                setattr(template, field, value)
                changed = True
        if changed:
            template.organization = None
            template.built_in = True
            template.save(using=using)

        wanted: list[TemplateSection] = []
        for index, item in enumerate(data["sections"]):
            wanted.append(
                TemplateSection(
                    id=uuid.UUID(item["id"]),
                    template=template,
                    order_index=index,
                    level=int(item.get("level", 1)),
                    number=item.get("number", ""),
                    title=item["title"],
                    synopsis=item.get("synopsis", ""),
                    instructions=item.get("instructions", ""),
                    template_text=item.get("template_text", ""),
                    hints=item.get("hints", {}),
                )
            )
        existing = {s.id: s for s in TemplateSection.objects.using(using).filter(template=template)}
        wanted_ids = {s.id for s in wanted}
        stale = [pk for pk in existing if pk not in wanted_ids]
        if stale:
            TemplateSection.objects.using(using).filter(pk__in=stale).delete()
        to_create = [s for s in wanted if s.id not in existing]
        to_update = [
            s
            for s in wanted
            if s.id in existing
            and any(getattr(existing[s.id], f) != getattr(s, f) for f in SECTION_FIELDS)
        ]
        moved = any(s.order_index != existing[s.id].order_index for s in to_update)
        if moved or (to_create and existing):
            # Out of the way of the unique (template, order_index) constraint first.
            TemplateSection.objects.using(using).filter(template=template).update(
                order_index=F("order_index") + ORDER_OFFSET
            )
            to_update = [s for s in wanted if s.id in existing]
        if to_update:
            TemplateSection.objects.using(using).bulk_update(to_update, list(SECTION_FIELDS))
        if to_create:
            TemplateSection.objects.using(using).bulk_create(to_create)
        if (to_update or to_create or stale) and not changed:
            template.save(using=using, update_fields=["updated_at"])
        return SyncResult(
            key=data["key"],
            created=created,
            sections_created=len(to_create),
            sections_updated=len(to_update),
            sections_deleted=len(stale),
        )


def sync_builtin_templates(*, using: str = "default") -> list[SyncResult]:
    """Create or update every built-in template from its JSON file (idempotent)."""
    from templates_app.models import Template, TemplateSection

    tables = set(connections[using].introspection.table_names())
    if not {Template._meta.db_table, TemplateSection._meta.db_table} <= tables:
        return []  # migrating backwards, or templates_app not migrated yet
    results = [_sync_one(load_builtin_data(path), using) for path in builtin_files()]
    for result in results:
        if result.changed:
            logger.debug(
                "Built-in template %s: %s (%d sections added, %d updated, %d removed)",
                result.key,
                "created" if result.created else "updated",
                result.sections_created,
                result.sections_updated,
                result.sections_deleted,
            )
    return results
