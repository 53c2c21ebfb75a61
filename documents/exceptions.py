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
