"""The one hierarchy of expected, user-facing failures that services raise.

A ``ServiceError`` carries ``errors`` (field name → messages, ``non_field_errors`` for the rest),
a stable ``code`` and an HTTP-like ``status``; its ``message`` is the sentence a person reads
(every problem, each prefixed with the field it names). Both apps' services raise subclasses of
it, and nothing else translates them twice:

- the API: ``portal.api_errors.exception_handler`` (DRF's ``EXCEPTION_HANDLER``) answers
  ``{"detail": message, "code": code, "errors": {field: [...]}}`` with ``status`` (plus
  ``extra`` body fields and ``headers``, such as ``task_id`` and ``Retry-After``);
- the portal: ``add_to_form`` puts each field's messages beside that form field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Self

NON_FIELD = "non_field_errors"


class ServiceError(Exception):
    status = 400
    code = "invalid"

    def __init__(
        self,
        errors: Mapping[str, Iterable[str]],
        code: str | None = None,
        *,
        detail: str | None = None,
        status: int | None = None,
    ) -> None:
        self.errors = {field: list(messages) for field, messages in errors.items()}
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.message = detail or " ".join(
            text if field == NON_FIELD else f"{field}: {text}"
            for field, messages in self.errors.items()
            for text in messages
        )
        # Set by subclasses: more body fields and response headers for the API.
        self.extra: dict[str, Any] = {}
        self.headers: dict[str, str] = {}
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    @classmethod
    def about(
        cls, field: str, text: str, *, code: str | None = None, status: int | None = None
    ) -> Self:
        """One problem with one field; the message reads ``"<field>: <text>"``."""
        return cls({field: [text]}, code, status=status)

    @classmethod
    def saying(
        cls,
        text: str,
        *,
        field: str = NON_FIELD,
        code: str | None = None,
        status: int | None = None,
    ) -> Self:
        """A message that stands as it is (it may name a file rather than the field)."""
        return cls({field: [text]}, code, detail=text, status=status)


class Problems:
    """Collects every problem of one request, then raises them together (or not at all)."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}
        self.sentences: list[str] = []

    def __bool__(self) -> bool:
        return bool(self.sentences)

    def add(self, field: str, text: str, *, label: str | None = None) -> None:
        """``label`` names the field in the sentence when it differs (an alias, say)."""
        self.errors.setdefault(field, []).append(text)
        self.sentences.append(text if field == NON_FIELD else f"{label or field}: {text}")

    def add_error(self, exc: ServiceError) -> None:
        for field, messages in exc.errors.items():
            self.errors.setdefault(field, []).extend(messages)
        self.sentences.append(exc.message)

    def raise_if_any(self, error_class: type[ServiceError] | None = None) -> None:
        if self.sentences:
            raise (error_class or InvalidInput)(self.errors, detail=" ".join(self.sentences))


class InvalidInput(ServiceError):
    status = 400
    code = "invalid"


class PermissionDenied(ServiceError):
    status = 403
    code = "permission_denied"


class NotFound(ServiceError):
    """A 404 that says why (with a code), for a thing that does not exist yet, such as the
    redline of a first draft; an object of another organization stays a plain 404."""

    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class FileTooLarge(ServiceError):
    status = 413
    code = "file_too_large"


class UnsupportedFileType(ServiceError):
    status = 415
    code = "invalid_file_type"


class TooManyRequests(ServiceError):
    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int = 30) -> None:
        super().__init__({NON_FIELD: [message]})
        self.retry_after = retry_after
        self.headers["Retry-After"] = str(retry_after)


def add_to_form(
    form: Any,
    exc: ServiceError,
    *,
    fields: Mapping[str, str] | None = None,
    default: str | None = None,
) -> None:
    """Put the error's messages on a Django form: each beside the form field it names.

    ``fields`` maps a service's field names to the form's (``{"output_name": "output_name",
    "file_paths": "source_files"}``); a field the form does not have goes to ``default`` (None:
    the form's non-field errors). A message that followed its field's name in the sentence
    ("output_name: this field is required.") starts with a capital beside the field.
    """
    fields = fields or {}
    for field, messages in exc.errors.items():
        name = fields.get(field, field)
        target = name if name in form.fields else default
        for text in messages:
            if f": {text}" in exc.message:
                text = text[:1].upper() + text[1:]
            form.add_error(target if target in form.fields else None, text)
