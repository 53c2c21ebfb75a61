"""Expected, user-facing failures of the documents services.

Views turn these into HTTP answers (API) or form errors (portal); they are never 500s.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base: ``message`` is shown to the user; ``field`` names the offending input if any."""

    status = 400
    code: str | None = None

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class InvalidInput(ServiceError):
    status = 400


class FileTooLarge(ServiceError):
    status = 413
    code = "file_too_large"


class UnsupportedFileType(ServiceError):
    status = 415
    code = "invalid_file_type"


class Conflict(ServiceError):
    status = 409


class TooManyRequests(ServiceError):
    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int = 30):
        super().__init__(message)
        self.retry_after = retry_after


class QueueUnavailable(ServiceError):
    status = 503
    code = "queue_unavailable"

    def __init__(self, message: str, *, task_id: str):
        super().__init__(message)
        self.task_id = task_id
