"""Routes of the documents API, mounted at /api/v1/ (docs/api.md)."""

from django.urls import path

from documents.api import views

urlpatterns = [
    path("files/upload", views.FileUploadApi.as_view(), name="file_upload"),
    path("storage-usage", views.StorageUsageApi.as_view(), name="storage_usage"),
    path("files/signed/<str:token>", views.SignedFileApi.as_view(), name="signed_file"),
    path("files/<str:container>", views.FileListApi.as_view(), name="file_list"),
    path("documents/", views.DocumentListApi.as_view(), name="document_list"),
    path("documents/generate", views.DocumentGenerateApi.as_view(), name="document_generate"),
    path(
        "documents/status/<str:document_id>",
        views.DocumentStatusApi.as_view(),
        name="document_status",
    ),
    path(
        "documents/<str:document_id>/download",
        views.DocumentDownloadApi.as_view(),
        name="document_download",
    ),
    path(
        "documents/<str:document_id>/sections",
        views.DocumentSectionsApi.as_view(),
        name="document_sections",
    ),
    path(
        "documents/<str:document_id>/sections/<str:section_id>/state",
        views.DocumentSectionStateApi.as_view(),
        name="document_section_state",
    ),
    path(
        "documents/<str:document_id>/cancel",
        views.DocumentCancelApi.as_view(),
        name="document_cancel",
    ),
    path(
        "documents/<str:document_id>/regenerate",
        views.DocumentRegenerateApi.as_view(),
        name="document_regenerate",
    ),
    path(
        "documents/<str:document_id>/review",
        views.DocumentReviewApi.as_view(),
        name="document_review",
    ),
    path("document-sets/", views.DocumentSetListApi.as_view(), name="document_set_list"),
    path(
        "document-sets/<str:set_id>",
        views.DocumentSetDetailApi.as_view(),
        name="document_set_detail",
    ),
]
