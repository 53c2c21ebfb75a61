"""Every write to templates, their sections and rules, and style guides.

Keyword-only, typed, transactional; no HTTP and no DRF here. Expected failures raise
``TemplateError`` subclasses (``errors.py``, kinds of ``portal.errors.ServiceError``) that name
the offending field. Every public write records itself in the audit log (``@audited``,
``auditing.py``). The modules: ``templates.py``, ``sections.py``, ``style_guides.py`` (the writes),
``permissions.py``, ``numbering.py``, ``cleaning.py``, ``errors.py``, ``auditing.py``.

Rules the functions enforce for every caller (API, portal, admin, commands):
- only an organization's managers (and superusers) write; members get ``TemplatePermissionDenied``;
- built-in templates are read-only (``TemplateReadOnly``): duplicating one makes an editable copy;
- section ids are UUIDs that survive reordering and renaming; ``order_index`` stays 0..n-1;
- a section's level is at most one deeper than the section before it (the first is level 1);
- reordering renumbers every section from order and level ("1", "1.1", "2"...), except the
  sections whose hints say ``unnumbered`` (front matter such as the M11 title page).
"""

from templates_app.services.errors import (
    TemplateError,
    TemplateImportError,
    TemplatePermissionDenied,
    TemplateReadOnly,
    TemplateValidationError,
)
from templates_app.services.numbering import outline_numbers, parse_section_name
from templates_app.services.permissions import can_edit_templates
from templates_app.services.sections import (
    template_section_add,
    template_section_delete,
    template_section_rename,
    template_section_update,
    template_sections_reorder,
)
from templates_app.services.style_guides import (
    style_guide_create,
    style_guide_delete,
    style_guide_update,
)
from templates_app.services.templates import (
    prune_outline,
    template_create,
    template_delete,
    template_docx_outline,
    template_docx_preview,
    template_docx_stage,
    template_duplicate,
    template_import_docx,
    template_import_json,
    template_update,
)

__all__ = [
    "TemplateError",
    "TemplateImportError",
    "TemplatePermissionDenied",
    "TemplateReadOnly",
    "TemplateValidationError",
    "can_edit_templates",
    "outline_numbers",
    "parse_section_name",
    "prune_outline",
    "style_guide_create",
    "style_guide_delete",
    "style_guide_update",
    "template_create",
    "template_delete",
    "template_docx_outline",
    "template_docx_preview",
    "template_docx_stage",
    "template_duplicate",
    "template_import_docx",
    "template_import_json",
    "template_section_add",
    "template_section_delete",
    "template_section_rename",
    "template_section_update",
    "template_sections_reorder",
    "template_update",
]
