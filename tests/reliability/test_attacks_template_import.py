"""Attacks through template import (issue 12, finding 5): one manager stopping every web worker
with a small .docx that takes minutes and hundreds of MB to parse.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from templates_app import services
from tests.fixtures.builders import _docx_members, build_docx_zip_bomb
from tests.reliability.conftest import outcome

pytestmark = [pytest.mark.reliability(category="attack"), pytest.mark.timeout(240)]

BOUNDARY = "folio-template-boundary"


def many_headings_docx(paragraphs: int) -> bytes:
    """A .docx of ``paragraphs`` one-line headings: a few MB that inflate to tens of MB of XML,
    every member well under the zip checks' ratio limit (the text varies)."""
    body = b"".join(
        b'<w:p><w:pPr><w:outlineLvl w:val="0"/></w:pPr><w:r><w:t>Section %x %d</w:t></w:r></w:p>'
        % (i * 2654435761 % 2**32, i)
        for i in range(paragraphs)
    )
    document = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        b"<w:body>" + body + b"</w:body></w:document>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in _docx_members():
            archive.writestr(name, document if name == "word/document.xml" else data)
    return buffer.getvalue()


def _peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.django_db(transaction=True)
def test_a_template_bomb_fails_cleanly_without_the_web_process_growing(request, manager, live_web):
    """Finding 5: 300,000 headings (a 2-3 MB upload): 400 with a code within seconds, the web
    worker's peak memory unchanged (python-docx ran in a limited child), and the worker serves
    the next request."""
    web = live_web(
        workers=1, FOLIO_TEMPLATE_MAX_PARAGRAPHS="5000", FOLIO_TEMPLATE_IMPORT_TIMEOUT="15"
    )
    token = web.token("manager", "pw-manager")
    data = many_headings_docx(300_000)
    assert len(data) < 8 * 1024 * 1024
    (worker,) = web.worker_pids()
    before = _peak_rss_kb(worker)
    body = (
        (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="file"; filename="bomb.docx"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    answer = web.request(
        "POST",
        "/api/v1/templates/import",
        body,
        {
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Authorization": f"Bearer {token}",
        },
        timeout=120,
    )
    grown_mb = (_peak_rss_kb(worker) - before) / 1024
    assert answer.status == 400, answer.body[:500]
    assert answer.json()["code"] in {
        "document_too_complex",
        "processing_timeout",
        "resource_limit_exceeded",
    }
    assert grown_mb < 60, f"the web worker's peak memory grew by {grown_mb:.0f} MB"
    assert web.worker_pids() == [worker], "the web worker survived"
    assert web.request("GET", "/healthz").status in (200, 503)
    outcome(
        request,
        f"{len(data) // 1024} KB upload: 400 {answer.json()['code']}; "
        f"web worker peak +{grown_mb:.0f} MB",
    )


def _upload(data: bytes, name: str = "template.docx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


@pytest.mark.django_db
def test_a_zip_bomb_template_is_refused_by_the_zip_check(request, manager, tmp_path):
    """A 30 MB document.xml in a few KB (ratio ~1000): refused before any parser runs."""
    bomb = build_docx_zip_bomb(tmp_path / "bomb.docx", megabytes=30).read_bytes()
    with pytest.raises(services.TemplateImportError) as caught:
        services.template_import_docx(user=manager, file=_upload(bomb))
    assert caught.value.code == "document_too_complex"
    assert caught.value.status == 400
    outcome(request, "400 document_too_complex")


@pytest.mark.django_db
def test_the_paragraph_and_heading_caps(manager, settings):
    settings.FOLIO_TEMPLATE_MAX_PARAGRAPHS = 200
    with pytest.raises(services.TemplateImportError) as caught:
        services.template_import_docx(user=manager, file=_upload(many_headings_docx(300)))
    assert caught.value.code == "document_too_complex"
    assert "more than 200 paragraphs" in caught.value.message
    settings.FOLIO_TEMPLATE_MAX_PARAGRAPHS = 10_000
    settings.FOLIO_TEMPLATE_MAX_SECTIONS = 50
    with pytest.raises(services.TemplateImportError) as caught:
        services.template_import_docx(user=manager, file=_upload(many_headings_docx(60)))
    assert "more than 50 headings" in caught.value.message
    settings.FOLIO_TEMPLATE_MAX_SECTIONS = 2000
    template = services.template_import_docx(user=manager, file=_upload(many_headings_docx(60)))
    assert template.sections.count() == 60


@pytest.mark.django_db
def test_a_template_that_takes_too_long_is_stopped(manager, settings):
    settings.FOLIO_TEMPLATE_IMPORT_TIMEOUT = 1
    settings.FOLIO_TEMPLATE_MAX_PARAGRAPHS = 10_000_000
    settings.FOLIO_TEMPLATE_MAX_SECTIONS = 10_000_000
    with pytest.raises(services.TemplateImportError) as caught:
        services.template_import_docx(user=manager, file=_upload(many_headings_docx(200_000)))
    assert caught.value.code in {"processing_timeout", "resource_limit_exceeded"}
