"""The failures of the template and style guide services (``portal.errors`` kinds)."""

from __future__ import annotations

from portal.errors import InvalidInput, PermissionDenied, ServiceError


class TemplateError(ServiceError):
    """An expected failure of a template or style guide service (``portal.errors``)."""


class TemplateValidationError(TemplateError, InvalidInput):
    status = 400
    code = "invalid"


class TemplatePermissionDenied(TemplateError, PermissionDenied):
    status = 403
    code = "permission_denied"


class TemplateReadOnly(TemplateError, PermissionDenied):
    status = 403
    code = "read_only"


class TemplateImportError(TemplateError, InvalidInput):
    status = 400
    code = "invalid_template_file"
