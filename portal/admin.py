"""Django admin for the audit log: read-only, organization-scoped, exportable as CSV.

Superusers see every organization's events; a template manager (staff user whose membership role
is ``manager``) sees their own organization's only, and an event of another organization is a
404 like any unknown id. Nobody can add, change or delete an event here (the model and the
``pre_delete`` guard in ``portal.audit`` refuse it elsewhere too). The "Export CSV" action
downloads the selected rows; the API's ``/api/v1/audit-events/export`` exports everything.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse

from portal.audit import csv_response
from portal.models import AuditEvent
from portal.selectors import membership_of


def _manager_org_id(request: HttpRequest) -> Any | None:
    user = request.user
    if not (user.is_active and user.is_staff):
        return None
    membership = membership_of(user)
    return membership.organization_id if membership is not None and membership.is_manager else None


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "action", "object_type", "object_id", "actor", "organization")
    list_filter = ("action", "object_type")
    search_fields = ("object_id", "actor__username")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    actions = ["export_csv"]
    readonly_fields = (
        "created_at",
        "organization",
        "actor",
        "action",
        "object_type",
        "object_id",
        "details",
    )

    def _allowed(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser) or (
            _manager_org_id(request) is not None
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEvent]:
        queryset = super().get_queryset(request).select_related("actor", "organization")
        if request.user.is_superuser:
            return queryset
        org_id = _manager_org_id(request)
        if org_id is None:
            return queryset.none()
        return queryset.filter(organization_id=org_id)

    def get_list_display(self, request: HttpRequest) -> Any:
        if request.user.is_superuser:
            return self.list_display
        return tuple(f for f in self.list_display if f != "organization")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Export selected events as CSV")
    def export_csv(
        self, request: HttpRequest, queryset: QuerySet[AuditEvent]
    ) -> StreamingHttpResponse:
        scoped = self.get_queryset(request).filter(pk__in=queryset.values("pk"))
        return csv_response(scoped.order_by("-created_at", "-id"))
