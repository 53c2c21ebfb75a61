"""The document page of a study Folio has never seen (../shared/devset/studyC: a protocol PDF, a
SAP in Word, results in Excel), as a new user would make it: it passes the axe scan and the
keyboard checks of test_accessibility.py, and its results tables carry their own citations.
Marked ``corpus``: skipped when ../shared is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.test_accessibility import (
    CONTRAST_OF_FOCUSED,
    FOCUSED_UNDER_BAR,
    STACKED_MARKERS,
    axe_violations,
    generate,
    tab_through,
    wait_complete,
)

STUDY_C = Path(__file__).resolve().parents[3] / "shared" / "devset" / "studyC"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.corpus,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not STUDY_C.is_dir(), reason=f"{STUDY_C} not found"),
]


def test_study_c_document_page_passes_the_scan_and_the_keyboard_checks(
    page, member, login, worker, shot
):
    files = [STUDY_C / name for name in ("protocol.pdf", "sap.docx", "results.xlsx")]
    login(page, member)
    generate(page, files, name="CSR_StudyC")
    wait_complete(page)
    page.reload()
    assert page.title() == "CSR_StudyC · version 1 · Complete · Folio"

    nav = page.get_by_role("navigation", name="Sections")
    assert nav.locator("li").count() == page.locator("#draft-preview .draft-section").count()
    # Results tables: a row's citation sits in that row; markers side by side, never stacked.
    assert page.locator(".draft-table td details.cite").count() > 0
    pairs = page.evaluate(
        "() => [...document.querySelectorAll('details.cite + details.cite')].length"
    )
    assert pairs > 0
    page.locator("details.cite + details.cite").first.scroll_into_view_if_needed()
    shot(page, "markers", full_page=False)
    assert page.evaluate(STACKED_MARKERS) == []
    markers = page.locator("details.cite > summary")
    for i in range(0, markers.count(), max(1, markers.count() // 40)):
        box = markers.nth(i).bounding_box()
        if box:  # markers of hidden (skipped) sections have no box
            assert box["width"] >= 24 and box["height"] >= 24, box

    assert axe_violations(page) == [], "studyC's document page"
    rings = tab_through(page, CONTRAST_OF_FOCUSED, 120)
    weak = [r for r in rings if r["style"] == "none" or r["width"] < 2 or r["ratio"] < 3]
    assert weak == [], weak
    for width, height in [(1280, 800), (390, 844)]:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(200)
        covered = [s for s in tab_through(page, FOCUSED_UNDER_BAR, 200) if s["covered"]]
        assert covered == [], f"{width}×{height}: {covered[:5]}"
    page.set_viewport_size({"width": 1280, "height": 900})
    table = page.locator(".draft-table").first
    table.scroll_into_view_if_needed()
    shot(page, "document-results-table", full_page=False)
