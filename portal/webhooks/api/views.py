"""The webhooks API: ``GET/POST /api/v1/webhooks``, ``GET/DELETE /api/v1/webhooks/{id}``,
``GET /api/v1/webhooks/{id}/deliveries`` (managers of the organization; docs/api.md, "Webhooks")."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api_utils import list_response
from portal.errors import InvalidInput
from portal.parsers import JSONParser
from portal.webhooks import selectors, services
from portal.webhooks.api import serializers as s

LIST_PARAMETERS = [
    OpenApiParameter("limit", int, description="Page size (default 50, at most 500)."),
    OpenApiParameter("offset", int, description="Items to skip."),
]


class WebhookListApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        parameters=LIST_PARAMETERS,
        responses={200: s.WebhookListSerializer},
        operation_id="webhooks_list",
    )
    def get(self, request: Request) -> Response:
        hooks = selectors.webhooks_list_for_user(request.user)
        return list_response(request, hooks, name="webhooks", serialize=s.webhook_item)

    @extend_schema(
        request=s.WebhookCreateSerializer,
        responses={201: s.WebhookCreatedSerializer},
        summary="Register a webhook (the secret is shown once)",
    )
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise InvalidInput.saying("The request body must be a JSON object.")
        serializer = s.WebhookCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        webhook = services.webhook_create(
            user=request.user,
            url=serializer.validated_data["url"],
            events=serializer.validated_data.get("events"),
        )
        return Response(s.webhook_item(webhook, with_secret=True), status=status.HTTP_201_CREATED)


class WebhookDetailApi(APIView):
    @extend_schema(responses={200: s.WebhookSerializer})
    def get(self, request: Request, webhook_id: str) -> Response:
        return Response(s.webhook_item(selectors.webhook_get_for_user(request.user, webhook_id)))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, webhook_id: str) -> Response:
        webhook = selectors.webhook_get_for_user(request.user, webhook_id)
        services.webhook_delete(user=request.user, webhook=webhook)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveriesApi(APIView):
    @extend_schema(parameters=LIST_PARAMETERS, responses={200: s.DeliveryListSerializer})
    def get(self, request: Request, webhook_id: str) -> Response:
        webhook = selectors.webhook_get_for_user(request.user, webhook_id)
        deliveries = selectors.deliveries_for_webhook(webhook)
        return list_response(request, deliveries, name="deliveries", serialize=s.delivery_item)
