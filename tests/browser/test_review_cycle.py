"""The review cycle in a real browser (docs/api.md, "The review cycle"): upload a reviewed copy on
the document page, follow the new version to Complete, see the **edited** badge, the reviewers'
comment and **Download redline**; then a new source version marks a section **stale** and
**Regenerate stale sections** makes the next version. Screenshots under docs/screenshots/ with
FOLIO_SCREENSHOTS=1."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path
from typing import Any

import docx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from documents import services
from documents.models import GeneratedDocument
from tests.fixtures import builders
from tests.fixtures.reviewed import (
    add_comment,
    rewrite_paragraph,
    save_docx,
    section_paragraphs,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
TIMEOUT_S = 180
TERMS = "Use 'participants' instead of 'patients'."


def _wait_complete(document_id: Any) -> GeneratedDocument:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        document = GeneratedDocument.objects.get(pk=document_id)
        if document.is_terminal:
            assert document.status == "Complete", document.error
            return document
        time.sleep(0.2)
    raise AssertionError("the generation did not finish")


def _wait_page_status(page: Any, wanted: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if page.locator(f'[data-status="{wanted}"]').count():
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"no {wanted} on the page")


def test_upload_a_review_see_badges_and_the_new_version_then_stale_sections(
    page, member, login, worker, tmp_path: Path, shot
) -> None:
    pdf, sap = tmp_path / "protocol.pdf", tmp_path / "sap.docx"
    builders.build_protocol_pdf(pdf)
    builders.build_sap_docx(sap)
    paths = [
        services.file_upload(
            user=member, uploaded_file=SimpleUploadedFile(p.name, p.read_bytes())
        ).source_file.file_path
        for p in (pdf, sap)
    ]
    first = services.generation_request(
        user=member,
        document_type="CSR",
        file_paths=paths,
        document_set_key="review",
        document_set_name="Review study",
        template_ref="ich-e3-csr",
        output_name="Reviewed_CSR",
    )
    first = _wait_complete(first.pk)
    sections = {s["number"]: s["section_id"] for s in first.twin["sections"]}

    login(page, member)
    page.goto(f"/documents/{first.pk}/")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download .docx").click()
    saved = tmp_path / "draft.docx"
    download_info.value.save_as(str(saved))

    # A reviewer comments on 9.7.2 and rewrites a paragraph of 9.4.6, in "Word".
    document = docx.Document(io.BytesIO(saved.read_bytes()))
    add_comment(document, section_paragraphs(document, sections["9.7.2"])[0], TERMS)
    rewrite_paragraph(
        section_paragraphs(document, sections["9.4.6"])[0], "Reviewers rewrote this paragraph."
    )
    reviewed = tmp_path / "reviewed.docx"
    reviewed.write_bytes(save_docx(document))

    page.get_by_label("Reviewed copy").set_input_files(str(reviewed))
    shot(page, "review-upload", full_page=False)
    page.get_by_role("button", name="Upload review").click()
    page.wait_for_url(lambda url: str(first.pk) not in url and "/documents/" in url)
    _wait_page_status(page, "Complete")
    page.reload()  # the badges and comments sit in the preview of the finished version
    second_url = page.url
    assert page.locator(".badge--edited", has_text="edited").count() >= 1
    assert page.get_by_text(TERMS).first.is_visible()
    assert page.get_by_role("link", name="Download redline").is_visible()
    versions = page.get_by_role("complementary").locator(".versions")
    assert "Version 2 (this page)" in versions.inner_text()
    assert "From a reviewed copy (reviewed.docx)" in versions.inner_text()
    shot(page, "review-new-version", full_page=False)
    with page.expect_download() as redline_info:
        page.get_by_role("link", name="Download redline").click()
    assert redline_info.value.suggested_filename == "Reviewed_CSR-redline-v2.docx"

    # A new version of the SAP changes the sample-size paragraph: its sections turn stale.
    changed = docx.Document(str(sap))
    paragraph = next(p for p in changed.paragraphs if "130 patients" in p.text)
    paragraph.runs[0].text = paragraph.text.replace("130", "160")
    for run in paragraph.runs[1:]:
        run.text = ""
    services.file_upload(
        user=member, uploaded_file=SimpleUploadedFile("sap.docx", save_docx(changed))
    )
    second = GeneratedDocument.objects.get(pk=re.search(r"[0-9a-f-]{36}", second_url).group(0))
    deadline = time.monotonic() + TIMEOUT_S
    while not second.stale_sections and time.monotonic() < deadline:
        time.sleep(0.2)
        second.refresh_from_db()
    assert second.stale_sections
    page.reload()
    assert page.locator(".badge--stale", has_text="stale").count() == len(second.stale_sections)
    shot(page, "stale-sections", full_page=False)
    page.get_by_role("button", name="Regenerate stale sections").click()
    page.wait_for_url(lambda url: url != second_url and "/documents/" in url)
    _wait_page_status(page, "Complete")
    page.reload()
    assert page.locator(".badge--stale").count() == 0
    assert (
        "Version 3 (this page)"
        in page.get_by_role("complementary").locator(".versions").inner_text()
    )
