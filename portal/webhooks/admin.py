"""Webhooks in the Django admin: a manager sees and registers their organization's webhooks
and reads each one's deliveries (the attempts and the answers); superusers see all. Registering
goes through ``portal.webhooks.services.webhook_create``, so the URL check is the API's; the
secret is shown once, in the message after saving."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from portal.selectors import membership_of
from portal.webhooks import services
from portal.webhooks.models import EVENTS, Webhook, WebhookDelivery
from portal.webhooks.urlcheck import UrlRefused, check_url


def _manager_org_id(request: HttpRequest) -> Any | None:
    membership = membership_of(request.user)
    if membership is None or not membership.is_manager or not request.user.is_staff:
        return None
    return membership.organization_id


class WebhookForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=[(e, e) for e in EVENTS],
        widget=forms.CheckboxSelectMultiple,
        initial=list(EVENTS),
    )

    class Meta:
        model = Webhook
        fields = ["url", "events", "active"]

    def clean_url(self) -> str:
        url = self.cleaned_data.get("url", "")
        if self.instance._state.adding:
            try:
                check_url(url, allow_private=services.allow_private())
            except UrlRefused as exc:
                raise forms.ValidationError(exc.reason[:1].upper() + exc.reason[1:]) from exc
        return url


class DeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    extra = 0
    can_delete = False
    fields = [
        "delivered_at",
        "event",
        "attempt",
        "status_code",
        "error",
        "response_excerpt",
        "duration_ms",
    ]
    readonly_fields = fields
    ordering = ["-delivered_at"]
    max_num = 0

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Whoever sees the webhook (its organization's manager, a superuser) reads its log.
        return True


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    form = WebhookForm
    list_display = ["url", "event_list", "active", "created_at"]

    def _access(self, request: HttpRequest) -> bool:
        return request.user.is_active and (
            request.user.is_superuser or _manager_org_id(request) is not None
        )

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._access(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._access(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._access(request) and _manager_org_id(request) is not None

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._access(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._access(request)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Webhook]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        org_id = _manager_org_id(request)
        return queryset.filter(organization_id=org_id) if org_id else queryset.none()

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return [DeliveryInline] if obj is not None else []  # a new webhook has no deliveries

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["url"] if obj is not None else []

    @admin.display(description="Events")
    def event_list(self, obj: Webhook) -> str:
        return ", ".join(obj.events or [])

    def save_model(self, request: HttpRequest, obj: Webhook, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created = services.webhook_create(
            user=request.user, url=obj.url, events=list(form.cleaned_data["events"])
        )
        obj.pk = created.pk
        obj.secret = created.secret
        obj.organization_id = created.organization_id
        obj._state.adding = False
        messages.warning(
            request,
            f"Secret of this webhook (shown once; check X-Folio-Signature with it): "
            f"{created.secret}",
        )
