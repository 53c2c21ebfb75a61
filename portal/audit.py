"""The audit log: record an event, read an organization's events, export them, keep them.

Both apps' services record what people do with ``audit_record`` (documents: upload, generate,
download, cancel, regenerate; templates_app: every template and style guide change, through its
``audited`` decorator). Events are never changed: ``AuditEvent.save`` refuses updates and
``refuse_audit_delete`` (connected to ``pre_delete`` in ``PortalConfig.ready``) refuses deletes,
except when a whole organization is deleted (its audit trail goes with it, by the platform
operator's decision). The API (``portal/audit_api.py``) and the admin read them through
``audit_events_for_user`` and export them with ``csv_response``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils.dateparse import parse_datetime

from portal.errors import InvalidInput
from portal.models import AuditEvent, Organization
from portal.selectors import membership_of

CSV_COLUMNS = ("id", "created_at", "actor", "action", "object_type", "object_id", "details")


class AuditLogIsAppendOnly(Exception):
    """Raised on any attempt to delete an audit event."""


def audit_record(
    *,
    organization_id: Any,
    actor: Any,
    action: str,
    object_type: str,
    object_id: Any,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one event (an anonymous or unsaved actor is recorded as none)."""
    AuditEvent.objects.create(
        organization_id=organization_id,
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        details=details or {},
    )


def refuse_audit_delete(
    sender: Any, instance: AuditEvent, origin: Any = None, **kwargs: Any
) -> None:
    """``pre_delete`` receiver for ``AuditEvent`` (connected in ``PortalConfig.ready``)."""
    if isinstance(origin, Organization):
        return  # the organization itself is being deleted
    raise AuditLogIsAppendOnly("Audit events are append-only; they cannot be deleted.")


def audit_events_for_user(user: Any, params: Any) -> QuerySet[AuditEvent]:
    """The caller's organization's events, newest first, filtered by the query parameters."""
    membership = membership_of(user)
    if membership is None:
        return AuditEvent.objects.none()
    qs = AuditEvent.objects.filter(organization_id=membership.organization_id).select_related(
        "actor"
    )
    for name in ("action", "object_type", "object_id"):
        value = params.get(name)
        if value:
            qs = qs.filter(**{name: str(value)[:64]})
    for name, lookup in (("since", "created_at__gte"), ("until", "created_at__lt")):
        raw = params.get(name)
        if raw:
            when = _parse_when(raw)
            if when is None:
                raise InvalidInput.about(name, f"not an ISO 8601 date-time, got {str(raw)[:40]!r}.")
            qs = qs.filter(**{lookup: when})
    return qs.order_by("-created_at", "-id")


def _parse_when(raw: str) -> datetime | None:
    try:
        return parse_datetime(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return None


def event_item(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "actor": event.actor.get_username() if event.actor_id and event.actor else None,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "details": event.details,
    }


def _csv_cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    if text is None:
        return ""
    # Spreadsheet formula injection: a cell starting with = + - @ (or a tab/CR) is text.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def _csv_rows(events: QuerySet[AuditEvent]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    for event in events.iterator(chunk_size=1000):
        buffer.seek(0)
        buffer.truncate(0)
        item = event_item(event)
        writer.writerow([_csv_cell(item[c]) if item[c] is not None else "" for c in CSV_COLUMNS])
        yield buffer.getvalue()


def csv_response(events: QuerySet[AuditEvent]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_csv_rows(events), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit-events.csv"'
    response["Cache-Control"] = "no-store"
    return response
