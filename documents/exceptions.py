"""The documents app's own expected failure; the others are ``portal.errors``'.

Views never catch these: the API's exception handler (``portal/api_errors.py``) and the portal's
``portal.errors.add_to_form`` turn every ``ServiceError`` into an answer.
"""

from __future__ import annotations

from portal.errors import NON_FIELD, ServiceError


class QueueUnavailable(ServiceError):
    """The document row was made but its job could not be queued (the row ends Failed)."""

    status = 503
    code = "queue_unavailable"

    def __init__(self, message: str, *, task_id: str) -> None:
        super().__init__({NON_FIELD: [message]})
        self.task_id = task_id
        self.extra["task_id"] = task_id
        self.headers["Retry-After"] = "30"


class StorageUnavailable(ServiceError):
    """The file storage refused a write (full, read-only, or its service failing)."""

    status = 503
    code = "storage_unavailable"

    def __init__(self, message: str) -> None:
        super().__init__({NON_FIELD: [message]})
        self.headers["Retry-After"] = "60"


def megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


class QuotaExceeded(ServiceError):
    """The upload would take the organization past its storage quota."""

    status = 413
    code = "quota_exceeded"

    def __init__(self, name: str, *, size: int, usage: int, quota: int) -> None:
        super().__init__(
            {
                "file_content": [
                    f"{name} ({megabytes(size)}) would take your organization past its storage "
                    f"quota: {megabytes(usage)} of {megabytes(quota)} used. Remove old files or "
                    "ask your administrator for a larger quota."
                ]
            },
            detail=(
                f"{name}: the organization's storage quota is {megabytes(quota)} and "
                f"{megabytes(usage)} is used; this file ({megabytes(size)}) does not fit."
            ),
        )
        self.extra.update({"quota_bytes": quota, "usage_bytes": usage, "file_bytes": size})
