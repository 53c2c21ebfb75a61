"""The document page of real studies, made as a new user would: the corpus study (the CDISC pilot's
protocol and SAP with two of its results outputs, ../shared/corpus) and a study Folio has never
seen (../shared/devset/studyC: a protocol PDF, a SAP in Word, results in Excel). Each passes the
axe scan and the keyboard checks of test_accessibility.py; markers stand side by side, and
results tables carry their own citations. Marked ``corpus``: skipped when ../shared is absent."""

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

SHARED = Path(__file__).resolve().parents[3] / "shared"
STUDIES = {
    "studyC": [
        SHARED / "devset" / "studyC" / name for name in ("protocol.pdf", "sap.docx", "results.xlsx")
    ],
    "corpus": [
        SHARED / "corpus" / name
        for name in (
            "protocol-lzzt.pdf",
            "sap-cdiscpilot01.pdf",
            "tlf/tlf-primary.rtf",
            "tlf/tlf-demographic.out",
        )
    ],
}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.corpus,
    pytest.mark.django_db(transaction=True),
]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("study", sorted(STUDIES))
def test_a_real_study_document_page_passes_the_scan_and_the_keyboard_checks(
    page, member, login, worker, study
):
    files = STUDIES[study]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        pytest.skip(f"not found: {missing}")
    login(page, member)
    generate(page, files, name=f"CSR_{study}")
    wait_complete(page, timeout_s=600)
    page.reload()
    assert page.title() == f"CSR_{study} · version 1 · Complete · Folio"

    nav = page.get_by_role("navigation", name="Sections")
    assert nav.locator("li").count() == page.locator("#draft-preview .draft-section").count()
    # Results tables: a row's citation sits in that row; markers side by side, never stacked.
    assert page.locator(".draft-table td details.cite").count() > 0
    pairs = page.evaluate(
        "() => [...document.querySelectorAll('details.cite + details.cite')].length"
    )
    assert pairs > 0
    assert page.evaluate(STACKED_MARKERS) == []
    markers = page.locator("details.cite > summary")
    for i in range(0, markers.count(), max(1, markers.count() // 40)):
        box = markers.nth(i).bounding_box()
        if box:  # markers of hidden (skipped) sections have no box
            assert box["width"] >= 24 and box["height"] >= 24, box

    assert axe_violations(page) == [], f"{study}: the document page"
    rings = tab_through(page, CONTRAST_OF_FOCUSED, 120)
    weak = [r for r in rings if r["style"] == "none" or r["width"] < 2 or r["ratio"] < 3]
    assert weak == [], weak
    for width, height in [(1280, 800), (390, 844)]:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(200)
        covered = [s for s in tab_through(page, FOCUSED_UNDER_BAR, 200) if s["covered"]]
        assert covered == [], f"{width}×{height}: {covered[:5]}"
    page.set_viewport_size({"width": 1280, "height": 900})
