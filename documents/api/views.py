"""The documents API (docs/api.md): thin views that parse input, call a service or selector
and answer JSON. Errors are ``{"detail", "code", "errors"}`` (portal/api_errors.py)."""

from __future__ import annotations

from typing import Any

from django.core import signing
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from documents import selectors, services
from documents.api import serializers as s
from documents.downloads import (
    COPIES,
    DOCX_CONTENT_TYPE,
    PARTS,
    document_download_response,
    download_params,
)
from documents.models import GeneratedDocument
from portal.api_utils import list_response
from portal.auth import IsOrganizationManager
from portal.errors import Conflict, InvalidInput
from portal.tokens import token_version

SIGNED_URL_MAX_AGE = 3600
LIST_PARAMETERS = [
    OpenApiParameter("limit", int, description="Page size (default 50, at most 500)."),
    OpenApiParameter("offset", int, description="Items to skip."),
]
SIGNER_SALT = "folio.file-download"


def file_url(request: Request, storage_key: str) -> str:
    """A URL that downloads the file without a token for one hour.

    On local storage the link names its creator and their token version: a password change, a
    deactivation or a logout (``portal.tokens``) revokes it with their tokens. S3 presigned URLs
    cannot be revoked before they expire (docs/security.md).
    """
    if hasattr(default_storage, "bucket_name"):
        return default_storage.url(storage_key)
    user = request.user
    payload = {"k": storage_key, "u": user.pk, "v": token_version(user)}
    token = signing.TimestampSigner(salt=SIGNER_SALT).sign_object(payload)
    return request.build_absolute_uri(reverse("signed_file", args=[token]))


def _signer_still_valid(data: dict[str, Any]) -> bool:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.select_related("token_state").filter(pk=data.get("u")).first()
    return user is not None and user.is_active and token_version(user) == data.get("v")


class FileUploadApi(APIView):
    @extend_schema(
        request={"multipart/form-data": s.UploadSerializer},
        responses={201: s.UploadResponseSerializer},
        summary="Upload a source file (a new version of its file_path)",
    )
    def post(self, request: Request) -> Response:
        serializer = s.UploadSerializer(data=request.data)
        if "file_content" not in request.FILES:
            raise InvalidInput.about(
                "file_content", "this field is required (the file, as multipart form data)."
            )
        serializer.is_valid(raise_exception=True)
        version = services.file_upload(
            user=request.user,
            uploaded_file=serializer.validated_data["file_content"],
            file_name=serializer.validated_data.get("file_name") or None,
            container=serializer.validated_data.get("container") or "documents",
        )
        message = (
            "File uploaded successfully."
            if getattr(version, "created", True)
            else f"The file is unchanged: the same content as version {version.version}, so no "
            "new version was made."
        )
        return Response(
            {
                "message": message,
                "file_path": version.source_file.file_path,
                "size": version.size,
                "sha256": version.sha256,
                "version": version.version,
            },
            status=status.HTTP_201_CREATED,
        )


class FileListApi(APIView):
    @extend_schema(parameters=LIST_PARAMETERS, responses={200: s.FileListSerializer})
    def get(self, request: Request, container: str) -> Response:
        files = selectors.files_list_for_user(request.user, container)

        def item(f):
            latest = f.versions.all()[0] if f.versions.all() else None
            return s.file_item(f, file_url(request, latest.storage_key) if latest else "")

        return list_response(request, files, name="files", serialize=item)


class PresignedUrlApi(APIView):
    @extend_schema(
        request=s.PresignedUrlSerializer, responses={200: s.PresignedUrlResponseSerializer}
    )
    def post(self, request: Request) -> Response:
        serializer = s.PresignedUrlSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key = serializer.validated_data["key"]
        source = selectors.file_get_by_path(request.user, key)
        latest = source.versions.order_by("-version").first() if source else None
        if latest is None:
            raise InvalidInput.about("key", "not one of your uploaded files.")
        return Response({"url": file_url(request, latest.storage_key)})


class SignedFileApi(APIView):
    """Serves a file named by a signed, expiring token (local storage's presigned URLs)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(exclude=True)
    def get(self, request: Request, token: str) -> FileResponse:
        try:
            data = signing.TimestampSigner(salt=SIGNER_SALT).unsign_object(
                token, max_age=SIGNED_URL_MAX_AGE
            )
        except signing.BadSignature as exc:
            raise Http404("This link is invalid or has expired.") from exc
        if not isinstance(data, dict) or not _signer_still_valid(data):
            raise Http404("This link is invalid or has expired.")
        key = data["k"]
        if not default_storage.exists(key):
            raise Http404("Not found.")
        return FileResponse(
            default_storage.open(key, "rb"), as_attachment=True, filename=key.rsplit("/", 1)[-1]
        )


class DocumentGenerateApi(APIView):
    @extend_schema(
        request=s.GenerateSerializer,
        responses={202: s.AcceptedSerializer},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="The same key and body answer the same task_id.",
            )
        ],
        summary="Ask for a document; the work happens in a worker",
    )
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise InvalidInput.saying("The request body must be a JSON object.")
        serializer = s.GenerateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        document = services.generation_request(
            user=request.user,
            idempotency_key=request.headers.get("Idempotency-Key") or None,
            **serializer.to_service_kwargs(),
        )
        location = reverse("document_status", args=[document.id])
        return Response(
            {
                "message": "Request to generate document has been accepted and is being "
                "processed in the background.",
                "task_id": str(document.id),
            },
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": location},
        )


class DocumentStatusApi(APIView):
    @extend_schema(responses={200: s.StatusSerializer}, summary="A generation's status")
    def get(self, request: Request, document_id: str) -> Response:
        document = selectors.document_status_for_user(request.user, document_id)
        return Response(s.status_payload(document))


class DocumentListApi(APIView):
    @extend_schema(
        parameters=[
            *LIST_PARAMETERS,
            OpenApiParameter("status", str, enum=GeneratedDocument.Status.values),
            OpenApiParameter("document_set", str, description="A document set's id."),
        ],
        responses={200: s.DocumentListSerializer},
        operation_id="documents_list",
    )
    def get(self, request: Request) -> Response:
        documents = selectors.documents_list_for_user(
            request.user,
            status=request.query_params.get("status") or None,
            document_set_id=request.query_params.get("document_set") or None,
        )
        return list_response(request, documents, name="documents", serialize=s.document_item)


class DocumentDownloadApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "copy",
                str,
                enum=list(COPIES),
                description="clean (default): for circulation, no highlights, comments or QC "
                "report, citations as bracketed references; review: rewritten sentences marked, "
                "source sentences as Word comments, the QC report as an appendix.",
            ),
            OpenApiParameter(
                "part",
                str,
                enum=list(PARTS),
                description="qc: the QC report; sources: the list of sources with their quotes; "
                "each as its own .docx.",
            ),
            OpenApiParameter(
                "redline",
                bool,
                description="true: the differences from the previous version as Word tracked "
                "changes (404 no_previous_version for a first draft).",
            ),
        ],
        responses={(200, DOCX_CONTENT_TYPE): OpenApiTypes.BINARY},
        summary="The generated .docx, a copy or a part (409 until the document is complete)",
    )
    def get(self, request: Request, document_id: str) -> FileResponse:
        document = selectors.document_get_for_user(request.user, document_id)
        redline, copy, part = download_params(request.query_params)
        return document_download_response(
            user=request.user, document=document, redline=redline, copy=copy, part=part
        )


class DocumentSectionsApi(APIView):
    @extend_schema(responses={200: s.TwinSerializer}, summary="The traceability twin")
    def get(self, request: Request, document_id: str) -> Response:
        document = selectors.document_get_for_user(request.user, document_id)
        if document.twin is None:
            raise Conflict.saying(f"The document is not complete (status {document.status}).")
        return Response(s.twin_payload(document))


class DocumentSectionStateApi(APIView):
    @extend_schema(
        request=s.SectionStateSerializer,
        responses={200: s.SectionStateResponseSerializer},
        summary="Mark a section not applicable (with a reason) or restore it; no new version",
    )
    def put(self, request: Request, document_id: str, section_id: str) -> Response:
        document = selectors.document_get_for_user(request.user, document_id)
        data = request.data if isinstance(request.data, dict) else {}
        section = services.set_section_state(
            document,
            section_id,
            str(data.get("state") or ""),
            data.get("reason"),
            user=request.user,
        )
        stale = set(document.stale_sections or [])
        return Response(
            {
                "document_id": str(document.id),
                "section": {
                    **section,
                    "edited": bool(section.get("edited", False)),
                    "review_comments": section.get("review_comments", []),
                    "stale": section.get("section_id") in stale,
                },
            }
        )


class DocumentReviewApi(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": s.ReviewUploadSerializer},
        responses={202: s.ReviewResponseSerializer, 200: s.ReviewResponseSerializer},
        summary="Upload a reviewed copy: comments become instructions, edits are kept",
    )
    def post(self, request: Request, document_id: str) -> Response:
        document = selectors.document_get_for_user(request.user, document_id)
        if "file" not in request.FILES:
            raise InvalidInput.about(
                "file", "this field is required (the reviewed .docx, as multipart form data)."
            )
        serializer = s.ReviewUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        outcome = services.review_upload(
            user=request.user,
            document=document,
            **services.review_options(data),
        )
        body = s.review_payload(outcome)
        if outcome.new_version is None:
            return Response(body, status=status.HTTP_200_OK)
        return Response(
            body,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": reverse("document_status", args=[outcome.new_version.id])},
        )


class DocumentCancelApi(APIView):
    @extend_schema(request=None, responses={202: s.CancelResponseSerializer})
    def post(self, request: Request, document_id: str) -> Response:
        document = selectors.document_get_for_user(request.user, document_id)
        row = services.generation_cancel(user=request.user, document=document)
        return Response(
            {"message": "Cancellation requested.", "task_id": str(row.id), "status": row.status},
            status=status.HTTP_202_ACCEPTED,
        )


class DocumentRegenerateApi(APIView):
    @extend_schema(request=s.RegenerateSerializer, responses={202: s.AcceptedSerializer})
    def post(self, request: Request, document_id: str) -> Response:
        document = selectors.document_get_for_user(request.user, document_id)
        serializer = s.RegenerateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        new = services.generation_regenerate(
            user=request.user,
            document=document,
            section_ids=data.get("section_ids"),
            instructions=data.get("instructions") or "",
            stale=data.get("stale", False),
            overwrite_edited=data.get("overwrite_edited", False),
        )
        return Response(
            {"message": "Regeneration accepted.", "task_id": str(new.id)},
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": reverse("document_status", args=[new.id])},
        )


class DocumentSetListApi(APIView):
    @extend_schema(
        parameters=LIST_PARAMETERS,
        responses={200: s.DocumentSetListSerializer},
        operation_id="document_sets_list",
    )
    def get(self, request: Request) -> Response:
        sets = selectors.document_sets_list_for_user(request.user)
        return list_response(request, sets, name="document_sets", serialize=s.document_set_item)

    @extend_schema(request=s.DocumentSetCreateSerializer, responses={201: s.DocumentSetSerializer})
    def post(self, request: Request) -> Response:
        serializer = s.DocumentSetCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        document_set = services.document_set_create(
            user=request.user,
            name=serializer.validated_data["document_set_name"],
            key=serializer.validated_data.get("document_set_key") or None,
            details=serializer.validated_data.get("details") or "",
        )
        return Response(s.document_set_item(document_set), status=status.HTTP_201_CREATED)


class DocumentSetDetailApi(APIView):
    @extend_schema(responses={200: s.DocumentSetDetailSerializer})
    def get(self, request: Request, set_id: str) -> Response:
        document_set = selectors.document_set_get_for_user(request.user, set_id)
        return Response(s.document_set_item(document_set, detailed=True))


class StorageUsageApi(APIView):
    """``GET /api/v1/storage-usage``: the organization's stored source bytes and its quota."""

    permission_classes = [IsOrganizationManager]

    @extend_schema(
        responses={200: s.StorageUsageSerializer},
        summary="The organization's storage usage and quota (managers)",
    )
    def get(self, request: Request) -> Response:
        usage = selectors.organization_storage_usage(selectors.organization_for(request.user))
        return Response(usage)
