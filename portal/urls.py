"""Top-level routes: the API (docs/api.md), the portal, the admin and the health check."""

import django_rq.urls
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import user_passes_test
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from documents.api import views as documents_api
from portal import audit_api
from portal import views as portal_views


def _superusers_only(patterns):
    """The RQ dashboard shows every organization's jobs: platform operators only."""
    check = user_passes_test(lambda u: u.is_active and u.is_superuser, login_url="admin:login")
    wrapped = []
    for pattern in patterns:
        pattern.callback = check(pattern.callback)
        wrapped.append(pattern)
    return wrapped


urlpatterns = [
    path("healthz", portal_views.healthz, name="healthz"),
    path("api/v1/auth/token", portal_views.TokenObtainApi.as_view(), name="token_obtain"),
    path(
        "api/v1/auth/token/refresh",
        portal_views.TokenRefreshApi.as_view(),
        name="token_refresh",
    ),
    path("api/v1/auth/logout", portal_views.LogoutApi.as_view(), name="token_logout"),
    path("api/v1/audit-events/", audit_api.AuditEventListApi.as_view(), name="audit_event_list"),
    path(
        "api/v1/audit-events/export",
        audit_api.AuditEventExportApi.as_view(),
        name="audit_event_export",
    ),
    path("api/v1/", include("documents.api.urls")),
    path("api/v1/", include("templates_app.api.urls")),
    path("api/v1/", include("portal.webhooks.api.urls")),
    path(
        "generate-presigned-url",
        documents_api.PresignedUrlApi.as_view(),
        name="generate_presigned_url",
    ),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: /api/docs/ needs no inline script,
    # and Swagger UI itself comes from drf-spectacular-sidecar's static files (no CDN).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api_docs"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(template_name="registration/login.html"),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/rq/", include((_superusers_only(django_rq.urls.urlpatterns), "django_rq"))),
    path("admin/", admin.site.urls),
    path("", include("documents.urls")),
]
