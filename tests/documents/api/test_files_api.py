"""POST /api/v1/files/upload, GET /api/v1/files/{container}, POST /generate-presigned-url."""

from __future__ import annotations

import hashlib

import pytest
from django.test import override_settings

from tests.documents.conftest import MINIMAL_PDF, docx_bytes

pytestmark = pytest.mark.django_db


def test_it_stores_a_pdf_and_answers_201_with_path_size_sha_and_version(upload, member, org):
    response = upload(member, "protocol.pdf")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["file_path"] == f"{org.id}/documents/protocol.pdf"
    assert body["size"] == len(MINIMAL_PDF)
    assert body["sha256"] == hashlib.sha256(MINIMAL_PDF).hexdigest()
    assert body["version"] == 1
    assert body["message"]


def test_a_second_upload_to_the_same_path_is_a_new_version(upload, member):
    upload(member, "protocol.pdf")
    second = upload(member, "protocol.pdf", MINIMAL_PDF + b"% changed\n")
    assert second.status_code == 201
    assert second.json()["version"] == 2


def test_file_name_field_is_reduced_to_a_safe_base_name(upload, member, org):
    response = upload(member, "x.pdf", file_name="../../etc/evil<script>.pdf")
    assert response.status_code == 201
    path = response.json()["file_path"]
    assert path.startswith(f"{org.id}/documents/")
    assert ".." not in path and "<" not in path


def test_a_docx_is_accepted_by_content(upload, member):
    response = upload(member, "protocol.docx", docx_bytes())
    assert response.status_code == 201, response.json()


def test_a_forbidden_type_is_refused_naming_the_file(upload, member):
    response = upload(member, "notes.csv", b"plain,text")
    assert response.status_code in (400, 415)
    assert "notes.csv" in response.json()["detail"]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("t_14_2_1.rtf", b"{\\rtf1\\ansi {Table 14.2.1 Results}\\par}"),
        ("listing.txt", b"Listing 16.2.7.1 Deaths\nSafety Set\n"),
        ("t_demog.out", b"Population: Safety\n  Age   (N=86)\n"),
    ],
)
def test_results_tables_as_rtf_and_text_are_accepted_with_their_type(upload, member, name, content):
    from documents.models import SourceFile

    response = upload(member, name, content)
    assert response.status_code == 201, response.json()
    assert SourceFile.objects.get(name=name).file_type == name.rsplit(".", 1)[1]


@pytest.mark.parametrize(
    ("name", "content"),
    [("fake.rtf", b"plain words, no RTF header"), ("data.txt", b"\x00\x01binary\x00data")],
)
def test_rtf_or_text_whose_content_disagrees_is_refused(upload, member, name, content):
    response = upload(member, name, content)
    assert response.status_code in (400, 415)
    assert name in response.json()["detail"]
    assert response.json()["code"] == "invalid_file_type"


def test_a_file_renamed_to_pdf_that_is_not_a_pdf_is_refused(upload, member):
    response = upload(member, "fake.pdf", b"PK\x03\x04 this is a zip, not a pdf")
    assert response.status_code == 400
    assert "fake.pdf" in response.json()["detail"]


def test_a_word_file_that_is_not_a_zip_is_refused(upload, member):
    response = upload(member, "fake.docx", MINIMAL_PDF)
    assert response.status_code == 400
    assert "fake.docx" in response.json()["detail"]


def test_an_empty_file_is_refused(upload, member):
    response = upload(member, "empty.pdf", b"")
    assert response.status_code == 400
    assert "empty" in response.json()["detail"].lower()


@override_settings(FOLIO_MAX_UPLOAD_MB=1)
def test_an_oversize_upload_answers_413(upload, member):
    response = upload(member, "big.pdf", MINIMAL_PDF + b"0" * (1024 * 1024 + 10))
    assert response.status_code == 413
    assert "big.pdf" in response.json()["detail"]


def test_upload_without_a_file_names_the_field(api_client, member):
    response = api_client(member).post(
        "/api/v1/files/upload", {"file_name": "x.pdf"}, format="multipart"
    )
    assert response.status_code == 400
    assert "file_content" in response.json()["detail"]


def test_upload_needs_a_token(client):
    response = client.post("/api/v1/files/upload")
    assert response.status_code == 401
    assert response.json()["detail"]


def test_an_invalid_container_is_refused(upload, member):
    response = upload(member, "p.pdf", container="../other")
    assert response.status_code == 400
    assert "container" in response.json()["detail"]


def test_list_shows_only_the_organizations_files_with_urls(upload, api_client, member, outsider):
    upload(member, "mine.pdf")
    upload(outsider, "theirs.pdf")
    response = api_client(member).get("/api/v1/files/documents")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    item = body["files"][0]
    assert item["name"] == "mine.pdf"
    assert item["url"]
    assert set(item) >= {"name", "file_path", "url", "size", "sha256", "uploaded_at"}


def test_presigned_url_downloads_the_file_without_a_token(upload, api_client, member, client):
    path = upload(member, "p.pdf").json()["file_path"]
    response = api_client(member).post("/generate-presigned-url", {"key": path}, format="json")
    assert response.status_code == 200
    url = response.json()["url"]
    download = client.get(url.replace("http://testserver", ""))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == MINIMAL_PDF


def test_presigned_url_for_another_organizations_file_is_a_400_that_reveals_nothing(
    upload, api_client, member, outsider
):
    theirs = upload(outsider, "secret.pdf").json()["file_path"]
    response = api_client(member).post("/generate-presigned-url", {"key": theirs}, format="json")
    assert response.status_code == 400
    missing = api_client(member).post(
        "/generate-presigned-url", {"key": theirs.replace("secret", "nothing")}, format="json"
    )
    assert response.json() == missing.json()


def test_a_tampered_signed_url_is_refused(upload, api_client, member, client):
    path = upload(member, "p.pdf").json()["file_path"]
    url = (
        api_client(member)
        .post("/generate-presigned-url", {"key": path}, format="json")
        .json()["url"]
    )
    response = client.get(url.replace("http://testserver", "")[:-3] + "abc")
    assert response.status_code == 404
