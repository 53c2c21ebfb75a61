"""Site-level views: the health check and the token endpoints (login, refresh, logout)."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from portal import ratelimit
from portal.errors import InvalidInput, TooManyRequests
from portal.tokens import token_version_bump

LoginRateThrottle = ratelimit.LoginRateThrottle


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="The access token (names the organization).")
    refresh = serializers.CharField()


class MessageSerializer(serializers.Serializer):
    message = serializers.CharField()


@extend_schema_view(post=extend_schema(responses={200: TokenPairSerializer}))
class TokenObtainApi(TokenObtainPairView):
    """``POST /api/v1/auth/token``: throttled per address, and locked per account after repeated
    failures (``portal.ratelimit``; the same counts as the portal's and the admin's logins)."""

    throttle_classes = [LoginRateThrottle]

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        username = str(data.get("username", ""))[:150]
        address = ratelimit.client_address(request)
        wait = ratelimit.lockout_remaining(address, username)
        if wait > 0:
            error = TooManyRequests(
                "Too many failed login attempts for this account; try again later.",
                retry_after=int(ratelimit.retry_after(wait)),
            )
            error.code = "too_many_login_failures"
            raise error
        try:
            response = super().post(request, *args, **kwargs)
        except exceptions.AuthenticationFailed:
            ratelimit.record_failure(address, username)
            raise
        if response.status_code == status.HTTP_200_OK:
            ratelimit.clear_failures(address, username)
        return response


class TokenRefreshApi(TokenRefreshView):
    throttle_classes = [LoginRateThrottle]


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField(required=False, allow_blank=True)


class LogoutApi(APIView):
    """``POST /api/v1/auth/logout`` ``{"refresh"?}``: blacklists the refresh token and revokes
    every token of the caller (their token version goes up)."""

    @extend_schema(request=LogoutSerializer, responses={200: MessageSerializer})
    def post(self, request: Request) -> Response:
        serializer = LogoutSerializer(data=request.data if isinstance(request.data, dict) else {})
        serializer.is_valid(raise_exception=True)
        raw = serializer.validated_data.get("refresh") or ""
        if raw:
            try:
                refresh = RefreshToken(raw)
            except TokenError:
                refresh = None  # expired or already blacklisted: the version bump covers it
            if refresh is not None:
                owner = refresh.payload.get(jwt_settings.USER_ID_CLAIM)
                if str(owner) != str(getattr(request.user, jwt_settings.USER_ID_FIELD)):
                    raise InvalidInput.about(
                        "refresh", "not a token of the logged-in user.", code="invalid_token"
                    )
                refresh.blacklist()
        token_version_bump(user_id=request.user.pk)
        return Response({"message": "Logged out: every token of this user is now invalid."})


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 ``ok`` when the database and the queue answer and the queue is being served.

    503 ``down`` naming the part that does not answer; 503 ``degraded`` when both answer but no
    worker is alive or the oldest Pending row waited longer than ``FOLIO_QUEUE_STALL_SECONDS``
    (``detail`` says which). ``?scope=web`` checks only what the web process itself needs (the
    database): a load balancer probes that, so a stopped worker fleet does not take the web
    (status polls, downloads) down with it.
    """
    from documents.health import queue_service

    body: dict[str, object] = {"status": "ok", "database": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        body["database"] = "down"
    if request.GET.get("scope") == "web":
        if body["database"] != "ok":
            body.update(status="down", detail="Not available: database.")
            return JsonResponse(body, status=503)
        return JsonResponse(body)
    service: dict[str, object] = {"queue": "down", "workers": 0, "oldest_pending_seconds": None}
    if body["database"] == "ok":
        try:
            service = queue_service()
        except Exception:  # the database went away between the two checks
            body["database"] = "down"
    else:
        from documents.queue import queue_health

        reachable, workers = queue_health()
        service = {"queue": "ok" if reachable else "down", "workers": workers}
    body["queue"] = service["queue"]
    body["workers"] = service["workers"]
    body["oldest_pending_seconds"] = service.get("oldest_pending_seconds")
    down = [part for part in ("database", "queue") if body[part] != "ok"]
    if down:
        body["status"] = "down"
        body["detail"] = f"Not available: {', '.join(down)}."
        return JsonResponse(body, status=503)
    if not service.get("served", True):
        body["status"] = "degraded"
        body["detail"] = service["problem"]
        return JsonResponse(body, status=503)
    return JsonResponse(body)
