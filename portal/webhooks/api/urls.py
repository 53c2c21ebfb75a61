"""Routes of the webhooks API, mounted at /api/v1/ (docs/api.md)."""

from django.urls import path

from portal.webhooks.api import views

urlpatterns = [
    path("webhooks", views.WebhookListApi.as_view(), name="webhook_list"),
    path("webhooks/<str:webhook_id>", views.WebhookDetailApi.as_view(), name="webhook_detail"),
    path(
        "webhooks/<str:webhook_id>/deliveries",
        views.WebhookDeliveriesApi.as_view(),
        name="webhook_deliveries",
    ),
]
