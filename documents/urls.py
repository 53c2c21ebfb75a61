"""Portal routes (server-rendered pages with HTMX partials), mounted at "" by portal/urls.py."""

from django.urls import include, path

from documents import views, views_review, views_section_state, views_source

app_name = "documents"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("documents/new/", views.document_new, name="document_new"),
    path("documents/new/sections/", views.section_picker, name="section_picker"),
    path("documents/<uuid:pk>/", views.document_detail, name="document_detail"),
    path("documents/<uuid:pk>/status/", views.document_status, name="document_status"),
    path("documents/<uuid:pk>/cancel/", views.document_cancel, name="document_cancel"),
    path("documents/<uuid:pk>/regenerate/", views.document_regenerate, name="document_regenerate"),
    path("documents/<uuid:pk>/download/", views.document_download, name="document_download"),
    path(
        "documents/<uuid:pk>/download/redline/",
        views_review.document_download_redline,
        name="document_download_redline",
    ),
    path("documents/<uuid:pk>/review/", views_review.document_review, name="document_review"),
    path(
        "documents/<uuid:pk>/regenerate/stale/",
        views_review.document_regenerate_stale,
        name="document_regenerate_stale",
    ),
    path(
        "documents/<uuid:pk>/citations/<int:n>/",
        views_source.citation_source,
        name="citation_source",
    ),
    path(
        "documents/<uuid:pk>/citations/<int:n>/page.png",
        views_source.citation_page_image,
        name="citation_page_image",
    ),
    path(
        "documents/<uuid:pk>/sections/<str:section_id>/state/",
        views_section_state.section_state,
        name="section_state",
    ),
    path("sets/", views.document_set_list, name="document_set_list"),
    path("sets/<uuid:pk>/", views.document_set_detail, name="document_set_detail"),
    # Templates and style guides (templates_app/urls_portal.py), in this namespace.
    path("", include("templates_app.urls_portal")),
]
