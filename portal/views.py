"""Site-level views: the health check and the token endpoints."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.throttling import AnonRateThrottle
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView


class LoginRateThrottle(AnonRateThrottle):
    scope = "login"


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="The access token (names the organization).")
    refresh = serializers.CharField()


@extend_schema_view(post=extend_schema(responses={200: TokenPairSerializer}))
class TokenObtainApi(TokenObtainPairView):
    throttle_classes = [LoginRateThrottle]


class TokenRefreshApi(TokenRefreshView):
    throttle_classes = [LoginRateThrottle]


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the queue answer; 503 naming the part that is down."""
    from documents.queue import queue_health

    body: dict[str, object] = {"status": "ok", "database": "ok", "queue": "ok", "workers": 0}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        body["database"] = "down"
    queue_ok, workers = queue_health()
    body["workers"] = workers
    if not queue_ok:
        body["queue"] = "down"
    down = [part for part in ("database", "queue") if body[part] != "ok"]
    if down:
        body["status"] = "down"
        body["detail"] = f"Not available: {', '.join(down)}."
        return JsonResponse(body, status=503)
    return JsonResponse(body)
