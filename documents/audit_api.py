"""The audit log: read it (managers, their organization only), export it, and keep it append-only.

- ``GET /api/v1/audit-events/`` → ``{"count", "audit_events": [...]}`` (``?limit=&offset=``,
  filters ``?action=``, ``?object_type=``, ``?object_id=``, ``?since=``/``?until=`` ISO 8601),
  newest first; ``?format=csv`` answers the same rows as CSV.
- ``GET /api/v1/audit-events/export`` → every matching row as a CSV download.

Only the organization's template managers may read it (members get 403, like the template
editing routes); rows of other organizations never appear. Events are written by the services
(``documents.services.audit_record``) and are never changed: ``AuditEvent.save`` refuses updates
and the ``pre_delete`` guard below refuses deletes, except when a whole organization is deleted
(its audit trail goes with it, by the platform operator's decision).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django.http import StreamingHttpResponse
from django.utils.dateparse import parse_datetime
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from documents.models import AuditEvent
from portal.api_errors import APIError
from portal.api_utils import list_response
from portal.auth import IsOrganizationManager
from portal.selectors import membership_of

CSV_COLUMNS = ("id", "created_at", "actor", "action", "object_type", "object_id", "details")


class AuditLogIsAppendOnly(Exception):
    """Raised on any attempt to delete an audit event."""


@receiver(pre_delete, sender=AuditEvent, dispatch_uid="folio-audit-append-only")
def _refuse_audit_delete(
    sender: Any, instance: AuditEvent, origin: Any = None, **kwargs: Any
) -> None:
    from portal.models import Organization

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
                raise APIError(f"{name}: not an ISO 8601 date-time, got {str(raw)[:40]!r}.")
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


class CSVRenderer(BaseRenderer):
    """Lets DRF's content negotiation accept ``?format=csv`` (the view streams the CSV itself)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> bytes:
        # Only errors reach here (the CSV itself is streamed): render them as JSON text.
        return json.dumps(data, default=str).encode()


class AuditEventListApi(APIView):
    permission_classes = [IsOrganizationManager]
    renderer_classes = [JSONRenderer, CSVRenderer]

    def get(self, request: Request) -> Any:
        events = audit_events_for_user(request.user, request.query_params)
        if request.query_params.get("format") == "csv":
            return csv_response(events)
        return list_response(request, events, name="audit_events", serialize=event_item)


class AuditEventExportApi(APIView):
    permission_classes = [IsOrganizationManager]
    renderer_classes = [JSONRenderer, CSVRenderer]

    def get(self, request: Request) -> StreamingHttpResponse:
        return csv_response(audit_events_for_user(request.user, request.query_params))
