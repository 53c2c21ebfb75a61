"""The audit log's API: read it (managers, their organization only) and export it.

- ``GET /api/v1/audit-events/`` → ``{"count", "audit_events": [...]}`` (``?limit=&offset=``,
  filters ``?action=``, ``?object_type=``, ``?object_id=``, ``?since=``/``?until=`` ISO 8601),
  newest first; ``?format=csv`` answers the same rows as CSV.
- ``GET /api/v1/audit-events/export`` → every matching row as a CSV download.

Only the organization's template managers may read it (members get 403, like the template
editing routes); rows of other organizations never appear.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from portal.api_utils import list_response
from portal.audit import audit_events_for_user, csv_response, event_item
from portal.auth import IsOrganizationManager


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


class AuditEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    actor = serializers.CharField(allow_null=True, help_text="The username, or null.")
    action = serializers.CharField()
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    details = serializers.DictField()


class AuditEventListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    audit_events = AuditEventSerializer(many=True)


FILTERS = [
    OpenApiParameter("action", str),
    OpenApiParameter("object_type", str),
    OpenApiParameter("object_id", str),
    OpenApiParameter("since", OpenApiTypes.DATETIME, description="ISO 8601, inclusive."),
    OpenApiParameter("until", OpenApiTypes.DATETIME, description="ISO 8601, exclusive."),
]


class AuditEventListApi(APIView):
    permission_classes = [IsOrganizationManager]
    renderer_classes = [JSONRenderer, CSVRenderer]

    @extend_schema(
        parameters=[
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
            OpenApiParameter("format", str, enum=["json", "csv"]),
            *FILTERS,
        ],
        responses={
            (200, "application/json"): AuditEventListSerializer,
            (200, "text/csv"): OpenApiTypes.STR,
        },
        summary="The organization's audit log, newest first (managers)",
    )
    def get(self, request: Request) -> Any:
        events = audit_events_for_user(request.user, request.query_params)
        if request.query_params.get("format") == "csv":
            return csv_response(events)
        return list_response(request, events, name="audit_events", serialize=event_item)


class AuditEventExportApi(APIView):
    permission_classes = [IsOrganizationManager]
    renderer_classes = [JSONRenderer, CSVRenderer]

    @extend_schema(
        parameters=FILTERS,
        responses={(200, "text/csv"): OpenApiTypes.STR},
        summary="Every matching audit event as a CSV download (managers)",
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        return csv_response(audit_events_for_user(request.user, request.query_params))
