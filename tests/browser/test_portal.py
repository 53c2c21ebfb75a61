"""The portal in a real browser: log in, generate from two uploads while watching the progress,
download the .docx, open a citation, regenerate a section, see a wrong file type refused, read a
template's tree, edit a style guide, import a Word template in the admin.

Each main page is captured under docs/screenshots/ when FOLIO_SCREENSHOTS=1 (docs/portal.md).
"""

from __future__ import annotations

import io
import re
import time
from typing import Any

import pytest
from docx import Document

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GENERATION_TIMEOUT_S = 180


def wait_for_status(page: Any, wanted: str, timeout_s: float = GENERATION_TIMEOUT_S) -> list[int]:
    """Sample the progress bar until ``[data-status=wanted]`` shows; returns the values seen."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = page.locator("progress").first.get_attribute("value")
        if value is not None and (not seen or seen[-1] != int(value)):
            seen.append(int(value))
        status = page.locator("[data-status]").first.get_attribute("data-status")
        if status == wanted:
            return seen
        assert status in {"Pending", "Generating", wanted}, (
            f"status {status}: {page.locator('.error-box').all_inner_texts()}"
        )
        page.wait_for_timeout(100)
    raise AssertionError(f"no {wanted} within {timeout_s}s; last progress values {seen[-5:]}")


def test_login_page_and_empty_dashboard(page, member, login, shot):
    page.goto("/")
    assert "/accounts/login/" in page.url
    shot(page, "login")
    login(page, member)
    assert page.get_by_role("heading", name="Documents").is_visible()
    assert page.get_by_role("link", name="New document").first.is_visible()
    assert page.get_by_text("Acme Pharma").is_visible()


def test_generate_watch_download_cite_and_regenerate(
    page, member, login, worker, source_files, shot, tmp_path
):
    login(page, member)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="New document").click()
    page.get_by_label("Source files").set_input_files([str(p) for p in source_files])
    page.get_by_label("Document set").fill("Study FOL-101-201")
    page.get_by_label("Template").select_option(label="ICH E3 Clinical Study Report")
    page.get_by_label("Output name").fill("CSR_FOL-101")
    shot(page, "new-document")
    page.get_by_role("button", name="Generate").click()

    # The document page: the status element, the progress bar moving, then Complete.
    page.wait_for_url(re.compile(r"/documents/[0-9a-f-]{36}/$"))
    first_url = page.url
    assert page.locator("progress").count() == 1
    in_progress_shot = False
    seen: list[int] = []
    deadline = time.monotonic() + GENERATION_TIMEOUT_S
    while time.monotonic() < deadline:
        status = page.locator("[data-status]").first.get_attribute("data-status")
        value = int(page.locator("progress").first.get_attribute("value") or 0)
        if not seen or seen[-1] != value:
            seen.append(value)
        if status == "Generating" and not in_progress_shot and value > 0:
            shot(page, "document-in-progress", full_page=False)
            in_progress_shot = True
        if status == "Complete":
            break
        assert status in {"Pending", "Generating"}, page.locator(".error-box").all_inner_texts()
        page.wait_for_timeout(50)
    assert page.locator('[data-status="Complete"]').count() == 1, seen
    assert seen == sorted(seen), f"progress went backwards: {seen}"
    assert seen[-1] == 100 and len(set(seen)) >= 2, seen

    # The final poll swapped in the download link and the preview: no reload needed.
    assert page.url == first_url
    download_link = page.get_by_role("link", name="Download .docx")
    download_link.wait_for()
    page.locator("#draft-preview .draft-section").first.wait_for()
    page.set_viewport_size({"width": 1280, "height": 1500})
    shot(page, "document-complete", full_page=False)
    page.set_viewport_size({"width": 1280, "height": 900})

    with page.expect_download() as download_info:
        download_link.click()
    download = download_info.value
    assert download.suggested_filename == "CSR_FOL-101.docx"
    saved = tmp_path / "downloaded.docx"
    download.save_as(str(saved))
    word = Document(io.BytesIO(saved.read_bytes()))
    text = "\n".join(p.text for p in word.paragraphs)
    assert "ABC-123-45" in text or "120" in text

    # A citation marker opens to show the file, the page or block, and the quote.
    marker = page.locator("details.cite > summary").first
    marker.scroll_into_view_if_needed()
    marker.click()
    card = page.locator("details.cite[open] .cite-card").first
    card.wait_for()
    assert re.search(r"(protocol\.pdf, page \d+|protocol\.docx, block \d+)", card.inner_text())
    quote = card.locator("blockquote").inner_text().strip()
    assert len(quote) > 10
    shot(page, "citation-open", full_page=False)

    # Regenerate one generated section with an instruction; the new version opens and completes.
    section = page.locator("#draft-preview .draft-section.state-generated").nth(1)
    section_title = section.locator("h3, h4, h5, h6").first.inner_text()
    section.locator('input[name="section_ids"]').check()
    page.get_by_label("Instructions for these sections").fill("Keep it brief.")
    page.get_by_role("button", name="Regenerate").click()
    page.wait_for_url(lambda url: url != first_url and "/documents/" in url)
    wait_for_status(page, "Complete")
    versions = page.get_by_role("complementary").locator(".versions")
    assert "Version 2 (this page)" in versions.inner_text()
    assert versions.get_by_role("link", name="Version 1").count() == 1
    assert page.get_by_text(section_title, exact=True).first.is_visible()

    # The dashboard shows the document once, at its newest version.
    page.get_by_role("link", name="Dashboard").click()
    assert page.locator("#document-results tbody tr").count() == 1
    assert "version 2 of 2" in page.locator("#document-results tbody tr").inner_text()
    shot(page, "dashboard", full_page=False)


def test_a_forbidden_file_type_is_refused_beside_the_field(page, member, login, tmp_path, shot):
    notes = tmp_path / "notes.csv"
    notes.write_text("meeting,notes\nnot,a protocol\n")
    login(page, member)
    page.goto("/documents/new/")
    page.get_by_label("Source files").set_input_files(str(notes))
    page.get_by_label("Document set").fill("Study 002")
    page.get_by_label("Output name").fill("CSR_002")
    page.get_by_role("button", name="Generate").click()
    field = page.locator(".field--error", has=page.get_by_label("Source files"))
    assert "notes.csv" in field.locator(".field-error").inner_text()
    assert "not accepted" in field.locator(".field-error").inner_text()
    assert page.locator("[data-status]").count() == 0
    shot(page, "new-document-error", full_page=False)


def test_the_section_tree_follows_the_template_and_select_none_works(page, member, login):
    login(page, member)
    page.goto("/documents/new/")
    page.get_by_label("Template").select_option(label="ICH M11 Clinical Trial Protocol (CeSHarP)")
    page.locator("#section-picker summary").filter(has_text="ICH M11").wait_for()
    page.locator("#section-picker summary").click()
    page.get_by_role("button", name="Select none").click()
    assert page.locator("#section-picker input[name=sections]:checked").count() == 0
    page.get_by_role("button", name="Select all").click()
    boxes = page.locator("#section-picker input[name=sections]")
    assert boxes.count() > 5
    assert page.locator("#section-picker input[name=sections]:checked").count() == boxes.count()


def test_pages_of_templates_and_style_guides(page, manager, login, shot):
    login(page, manager)
    page.get_by_role("link", name="Templates").first.click()
    page.get_by_role("link", name="ICH E3 Clinical Study Report").click()
    assert page.locator(".tree .tree-section").count() > 50
    assert page.get_by_text("Synopsis:").first.is_visible()
    shot(page, "template-tree", full_page=False)

    page.get_by_role("link", name="Style guides").first.click()
    page.get_by_role("link", name="New style guide").first.click()
    page.get_by_label("Name").fill("House style")
    page.get_by_label("Preferred terms").fill(
        "participant: subject, patient\nadverse event: side effect"
    )
    page.get_by_label("Abbreviations").fill("AE: adverse event\nBP: blood pressure")
    page.get_by_label("Banned phrases").fill("clearly\nobviously")
    page.get_by_label("Instructions").fill("Write in plain English.")
    shot(page, "style-guide-form")
    page.get_by_role("button", name="Save").click()
    assert page.get_by_role("heading", name="House style").is_visible()
    assert page.get_by_text("participant").first.is_visible()


def test_narrow_screens_keep_the_navigation(page, member, login, shot):
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, member)
    assert page.get_by_role("link", name="New document").first.is_visible()
    shot(page, "dashboard-narrow")


def test_importing_a_word_template_in_the_admin_shows_its_sections(page, manager, login, tmp_path):
    word = Document()
    word.add_heading("Introduction", level=1)
    word.add_paragraph("Describe the background.")
    word.add_heading("Study Objectives", level=2)
    word.add_heading("Methods", level=1)
    path = tmp_path / "sponsor-template.docx"
    word.save(str(path))

    login(page, manager)
    page.goto("/admin/templates_app/template/import-docx/")
    page.get_by_label("Word file (.docx)").set_input_files(str(path))
    page.get_by_label("Template name").fill("Sponsor Protocol Template")
    page.get_by_role("button", name="Import").click()
    # The outline to prune before saving: every heading checked.
    page.get_by_role("checkbox", name="Study Objectives").wait_for()
    assert page.get_by_role("checkbox", name="Methods", exact=True).is_checked()
    page.get_by_role("button", name="Save the template").click()
    page.get_by_text("Imported: Sponsor Protocol Template.").wait_for()
    # The admin's change page lists the sections inline.
    admin_sections = page.content()
    for title in ["Introduction", "Study Objectives", "Methods"]:
        assert title in admin_sections

    # The portal's read-only tree shows them, numbered and nested.
    page.goto("/templates/")
    page.get_by_role("link", name="Sponsor Protocol Template").click()
    tree = page.locator(".tree")
    for title in ["1 Introduction", "1.1 Study Objectives", "2 Methods"]:
        assert tree.get_by_role("heading", name=title, exact=True).is_visible()
    assert tree.locator("ul").get_by_role("heading", name="1.1 Study Objectives").is_visible()
