"""The document page a writer works in all day, checked in a real browser (WCAG 2.2 AA):

- focus stays on Cancel while the status card is polled (2.4.3 / 2.1.1), and the card's values
  still change in place;
- one polite live region announces each step and the end once (4.1.3); the progress bar has a
  text value;
- the page title names the document, its version and its status (2.4.2), and follows the status;
- the banner "… is on its way" is gone once the document is complete;
- no focused element lies under the sticky Regenerate bar at 1280×800 and 390×844 (2.4.11);
- citation markers are at least 24×24 CSS px (2.5.8); the focus ring reaches 3:1 against the
  background it is drawn on, computed from the computed styles (1.4.11);
- the section navigator lists every section with its state (2.4.1), and its filter;
- a citation opens its source page in the side panel;
- axe-core (served from our static files) finds no serious or critical violation on the main
  pages.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GENERATION_TIMEOUT_S = 180
AXE_URL = "/static/folio/vendor/axe-core/axe.min.js"

# Records every text the live region is given (installed before any page script runs).
RECORD_ANNOUNCEMENTS = """
window.__announced = [];
document.addEventListener("DOMContentLoaded", function () {
  var region = document.getElementById("status-announcer");
  if (!region) { return; }
  new MutationObserver(function () {
    if (region.textContent) { window.__announced.push(region.textContent); }
  }).observe(region, {childList: true, characterData: true, subtree: true});
});
"""

CONTRAST_OF_FOCUSED = """
() => {
  function rgb(value) {
    const m = value.match(/rgba?\\(([^)]+)\\)/);
    if (!m) { return null; }
    const parts = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return {r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1};
  }
  function luminance(c) {
    const f = (v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  }
  function background(el) {
    for (let node = el; node; node = node.parentElement) {
      const c = rgb(getComputedStyle(node).backgroundColor);
      if (c && c.a > 0.5) { return c; }
    }
    return {r: 255, g: 255, b: 255, a: 1};
  }
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const ring = rgb(style.outlineColor);
  const width = parseFloat(style.outlineWidth) || 0;
  const offset = parseFloat(style.outlineOffset) || 0;
  // The ring is drawn outside the element (offset > 0): against its parent's background.
  const behind = background(offset > 0 ? el.parentElement : el);
  const l1 = luminance(ring), l2 = luminance(behind);
  const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
  return {tag: el.tagName, text: (el.innerText || el.value || "").slice(0, 40),
          style: style.outlineStyle, width: width, ratio: ratio};
}
"""

# Pairs of neighbouring markers where the second went to a new line although the first's line
# had room for it (markers "stacked one per line").
STACKED_MARKERS = """
() => {
  const out = [];
  for (const first of document.querySelectorAll("details.cite:not([open])")) {
    let second = first.nextSibling;  // the very next node: no sentence between them
    while (second && second.nodeType === 3 && !second.textContent.trim()) {
      second = second.nextSibling;
    }
    if (!second || second.nodeType !== 1 || !second.matches("details.cite:not([open])")) {
      continue;
    }
    const a = first.querySelector("summary").getBoundingClientRect();
    const b = second.querySelector("summary").getBoundingClientRect();
    if (!a.width || !b.width) { continue; }
    // The room left on the line ends at the parent's content box (a table cell has padding).
    const parent = first.parentElement;
    const style = getComputedStyle(parent);
    const box = parent.getBoundingClientRect();
    const inset = parseFloat(style.paddingRight) + parseFloat(style.borderRightWidth);
    const room = box.right - inset - a.right;
    if (b.top >= a.bottom - 2 && room > b.width + 8) {
      const pair = [first, second].map((d) => d.querySelector("summary").textContent);
      out.push(pair.join(""));
    }
  }
  return out;
}
"""

FOCUSED_UNDER_BAR = """
() => {
  const bar = document.querySelector(".regenerate-bar");
  const el = document.activeElement;
  if (!bar || !el || el === document.body) { return null; }
  const inBar = bar.contains(el);
  const b = bar.getBoundingClientRect();
  const r = el.getBoundingClientRect();
  const covered = !inBar && r.height > 0 && r.bottom > b.top + 1 && r.top < b.bottom - 1
    && r.right > b.left + 1 && r.left < b.right - 1;
  const text = (el.innerText || el.getAttribute("aria-label") || "").slice(0, 50);
  return {inBar: inBar, covered: covered, text: text, top: r.top, bottom: r.bottom, barTop: b.top};
}
"""


def generate(page: Any, source_files: list[Any], name: str = "CSR_A11Y") -> str:
    page.goto("/documents/new/")
    page.get_by_label("Source files").set_input_files([str(p) for p in source_files])
    page.get_by_label("Document set").fill("Study FOL-101-201")
    page.get_by_label("Template").select_option(label="ICH E3 Clinical Study Report")
    page.get_by_label("Output name").fill(name)
    page.get_by_role("button", name="Generate").click()
    page.wait_for_url(re.compile(r"/documents/[0-9a-f-]{36}/$"))
    return page.url


def wait_complete(page: Any, timeout_s: float = GENERATION_TIMEOUT_S) -> None:
    page.locator('[data-status="Complete"]').wait_for(timeout=timeout_s * 1000)
    page.locator("#draft-preview .draft-section").first.wait_for()


def axe_violations(page: Any) -> list[str]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(url=AXE_URL)
    result = page.evaluate(
        """async () => {
          const r = await axe.run(document, {
            runOnly: {type: "tag", values: [
              "wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]},
            resultTypes: ["violations"],
          });
          return r.violations.map(v => ({id: v.id, impact: v.impact,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
        }"""
    )
    return [
        f"{v['id']} ({v['impact']}): {v['nodes']}"
        for v in result
        if v["impact"] in {"serious", "critical"}
    ]


def tab_through(page: Any, check: str, stops: int) -> list[dict[str, Any]]:
    page.locator("body").focus()
    page.evaluate("window.scrollTo(0, 0)")
    seen = []
    for _ in range(stops):
        page.keyboard.press("Tab")
        state = page.evaluate(check)
        if state is not None:
            seen.append(state)
    return seen


def test_the_running_page_keeps_focus_speaks_once_and_titles_itself(
    page, member, login, source_files, clean_queue, request, shot
):
    page.add_init_script(RECORD_ANNOUNCEMENTS)
    login(page, member)
    url = generate(page, source_files)  # no worker yet: the document waits, Pending

    assert page.title() == "CSR_A11Y · version 1 · Pending · Folio"
    assert "is on its way" in page.locator("#messages").inner_text()
    status = page.locator("#document-status")
    assert status.locator("[aria-live]").count() == 1
    assert page.locator("[aria-live], [role=status], [role=alert]").count() == 1
    assert status.locator("progress").get_attribute("aria-valuetext") == "Waiting to start, 0 %"
    assert axe_violations(page) == [], "the running page"

    cancel = page.get_by_role("button", name="Cancel")
    cancel.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # focused from the keyboard: the focus ring shows
    page.wait_for_timeout(1500)  # a poll or two while nothing changes
    assert page.evaluate("document.activeElement.textContent.trim()") == "Cancel"
    shot(page, "document-pending", full_page=False)

    request.getfixturevalue("worker")  # now the job runs while the page polls
    values: list[str] = []
    steps: list[str] = []
    deadline = time.monotonic() + GENERATION_TIMEOUT_S
    while time.monotonic() < deadline:
        # One look at the page: the status, the progress text, the focus and the title together
        # (the last poll may end the job between two separate reads).
        state, value_text, focused, title = page.evaluate(
            """() => [
              document.querySelector("#document-status [data-status]").dataset.status,
              document.querySelector("#document-status progress").getAttribute("aria-valuetext"),
              document.activeElement.textContent.trim(),
              document.title,
            ]"""
        )
        if state == "Complete":
            break
        assert state in {"Pending", "Generating"}
        if not values or values[-1] != value_text:
            values.append(value_text)
        assert focused == "Cancel", f"focus moved to {focused!r} while polling ({values})"
        if state == "Generating" and not steps:
            steps.append(title)
        page.wait_for_timeout(100)
    wait_complete(page)
    page.wait_for_timeout(2500)  # polling has stopped (286); nothing more is said

    assert page.url == url
    # A fast job may end between two polls; whatever was seen came in place, focus kept.
    assert values and values[0] == "Waiting to start, 0 %", values
    assert all(re.fullmatch(r"(Waiting to start|\w+), \d+ %", v) for v in values), values
    announced = page.evaluate("window.__announced")
    assert announced.count("Complete: the draft is ready to download.") == 1, announced
    assert len(announced) == len(set(announced)), f"a status said twice: {announced}"
    assert page.title() == "CSR_A11Y · version 1 · Complete · Folio"
    assert not steps or "Generating" in steps[0]
    # The banner no longer applies; the finished card has its download link.
    assert page.locator("#messages").count() == 0
    assert page.get_by_text("is on its way").count() == 0
    assert page.get_by_role("link", name="Download .docx").is_visible()
    # Focus was on Cancel, which is gone: it moved to the finished card's first action.
    assert page.evaluate("document.activeElement.textContent.trim()") == "Download .docx"
    assert status.locator("progress").get_attribute("aria-valuetext") == "Complete, 100 %"


def test_the_complete_page_navigator_markers_focus_ring_and_sticky_bar(
    page, member, login, worker, source_files, shot
):
    login(page, member)
    generate(page, source_files)
    wait_complete(page)
    page.reload()
    assert page.title() == "CSR_A11Y · version 1 · Complete · Folio"

    # The navigator lists every section of the draft with its state.
    nav = page.get_by_role("navigation", name="Sections")
    items = nav.locator("li")
    sections = page.locator("#draft-preview .draft-section")
    assert items.count() == sections.count() > 5
    labels = {"generated": "generated", "no_source": "no source", "skipped": "skipped"}
    for i in range(sections.count()):
        state = re.search(r"state-(\w+)", sections.nth(i).get_attribute("class")).group(1)
        assert items.nth(i).locator(".nav-state").first.inner_text() == labels.get(state, state)
        href = items.nth(i).locator("a").get_attribute("href")
        assert href == "#" + sections.nth(i).get_attribute("id")
    missing = page.locator("#draft-preview .draft-section.state-no_source").count()
    assert missing > 0
    page.get_by_label("Show only sections without a source").check()
    assert page.locator("#draft-preview .draft-section:visible").count() == missing
    assert nav.locator("li:visible").count() == missing
    page.get_by_label("Show only sections without a source").uncheck()

    # Citation markers: at least 24 × 24 CSS px, inline (never one per line).
    markers = page.locator("details.cite > summary")
    assert markers.count() > 0
    for i in range(min(markers.count(), 40)):
        box = markers.nth(i).bounding_box()
        assert box and box["width"] >= 24 and box["height"] >= 24, box
    assert page.evaluate(STACKED_MARKERS) == []
    para = page.locator(".para:has(details.cite)").first
    para_box = para.bounding_box()
    first_marker = para.locator("details.cite > summary").first.bounding_box()
    assert first_marker["x"] > para_box["x"] + 20, "a marker starts its own line"

    # An opened citation covers no text: the next line moves down instead.
    after = para.evaluate_handle("p => p.nextElementSibling || p.parentElement.nextElementSibling")
    top_before = after.evaluate("e => e.getBoundingClientRect().top")
    para.locator("details.cite > summary").first.click()
    card = para.locator("details.cite[open] .cite-card").first
    card.wait_for()
    card_box = card.bounding_box()
    top_after = after.evaluate("e => e.getBoundingClientRect().top")
    assert top_after >= top_before + card_box["height"] - 1

    # From the citation, its source page opens in the side panel.
    card.get_by_role("link", name=re.compile(r"^Show (page|block) \d+ of ")).click()
    panel = page.locator("#source-panel")
    panel.get_by_role("heading", name=re.compile(r"^Source \d+: ")).wait_for()
    assert panel.locator("mark").count() + panel.locator("img.source-page").count() >= 1
    image = panel.locator("img.source-page")
    if image.count():
        page.wait_for_function("() => document.querySelector('img.source-page').naturalWidth > 300")
    assert page.evaluate("document.activeElement.tagName") == "H2"
    shot(page, "citation-source-panel", full_page=False)
    assert axe_violations(page) == [], "the page with the source panel open"
    page.keyboard.press("Escape")
    assert panel.is_hidden()
    focused = page.evaluate("document.activeElement.className")
    assert focused == "cite-open", f"focus after closing the panel: {focused}"
    page.locator("details.cite[open] > summary").first.click()

    # Every Tab stop's focus ring reaches 3:1 against what is behind it.
    rings = tab_through(page, CONTRAST_OF_FOCUSED, 60)
    assert len(rings) >= 40
    weak = [r for r in rings if r["style"] == "none" or r["width"] < 2 or r["ratio"] < 3]
    assert weak == [], weak

    # No focused element lies under the sticky Regenerate bar, wide and narrow.
    for width, height in [(1280, 800), (390, 844)]:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(200)
        states = tab_through(page, FOCUSED_UNDER_BAR, 160)
        assert any(not s["inBar"] for s in states)
        covered = [s for s in states if s["covered"]]
        assert covered == [], f"{width}×{height}: {covered[:5]}"
    shot(page, "document-narrow", full_page=False)
    page.set_viewport_size({"width": 1280, "height": 900})
    assert axe_violations(page) == [], "the complete document page"

    # A section without a source is marked not applicable with a reason: no longer missing.
    section = page.locator("#draft-preview .draft-section.state-no_source").first
    section_id = section.get_attribute("id")
    section.locator("summary", has_text="Not applicable…").click()
    section.get_by_label(re.compile(r"^Why is .* not applicable\?$")).fill(
        "No interim analysis was planned."
    )
    section.get_by_role("button", name="Mark not applicable").click()
    page.wait_for_url(re.compile(rf"#{section_id}$"))
    marked = page.locator(f"#{section_id}")
    assert "state-not_applicable" in marked.get_attribute("class")
    assert "No interim analysis was planned." in marked.inner_text()
    entry = nav.locator(f'li:has(a[href="#{section_id}"])')
    assert entry.locator(".nav-state").first.inner_text() == "not applicable"
    assert page.locator("#draft-preview .draft-section.state-no_source").count() == missing - 1
    assert page.get_by_role("button", name=re.compile(r"^Restore ")).count() == 1


def test_versions_have_their_own_titles(page, member, login, worker, source_files):
    login(page, member)
    first = generate(page, source_files, name="CSR_V")
    wait_complete(page)
    boxes = page.locator("#draft-preview .draft-section.state-generated input[name=section_ids]")
    boxes.first.check()
    page.get_by_role("button", name="Regenerate").click()
    page.wait_for_url(lambda url: url != first and "/documents/" in url)
    wait_complete(page)
    assert page.title() == "CSR_V · version 2 · Complete · Folio"
    versions = page.get_by_role("complementary").locator(".versions")
    assert re.search(r"Regenerated [\d.]+ from version 1\.", versions.inner_text())
    page.goto(first)
    assert page.title() == "CSR_V · version 1 · Complete · Folio"

    # The dashboard: one row, at the newest version; it and the set's page pass the scan.
    page.goto("/")
    rows = page.locator("#document-results tbody tr")
    assert rows.count() == 1 and "version 2 of 2" in rows.inner_text()
    assert axe_violations(page) == [], "the dashboard with a document"
    page.get_by_role("link", name="Study FOL-101-201").first.click()
    page.get_by_role("heading", name="Study FOL-101-201", level=1).wait_for()
    assert axe_violations(page) == [], "a document set's page"


@pytest.mark.parametrize(
    "path",
    ["/", "/documents/new/", "/sets/", "/templates/", "/style-guides/", "/style-guides/new/"],
)
def test_the_main_pages_have_no_serious_axe_violation(page, manager, login, path):
    login(page, manager)
    page.goto(path)
    assert axe_violations(page) == [], path
    if path == "/templates/":
        page.get_by_role("link", name="ICH E3 Clinical Study Report").click()
        assert axe_violations(page) == [], "a template's tree"
    if path == "/sets/":
        assert page.get_by_role("heading", level=1).count() == 1


def test_cancel_asks_for_confirmation(page, member, login, source_files, clean_queue):
    login(page, member)
    url = generate(page, source_files, name="CSR_KEEP")  # no worker: it stays Pending
    questions: list[str] = []

    def refuse(dialog: Any) -> None:
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", refuse)
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_timeout(300)
    assert questions and "Stop generating CSR_KEEP?" in questions[0]
    assert page.url == url
    assert page.locator("[data-status]").get_attribute("data-status") == "Pending"

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel").click()
    page.locator('[data-status="Cancelled"]').wait_for()


def test_the_scan_itself_finds_a_violation(page, member, login):
    """The scan can fail: an image without a text alternative is reported."""
    login(page, member)
    page.evaluate(
        "document.querySelector('main').insertAdjacentHTML('beforeend', "
        '\'<img src="data:," width="20" height="20">\')'
    )
    found = axe_violations(page)
    assert any(v.startswith("image-alt (critical)") for v in found), found
    assert page.evaluate("axe.version") == "4.10.3"


def test_the_dashboard_keeps_focus_while_it_polls(
    page, member, login, source_files, clean_queue, request
):
    login(page, member)
    generate(page, source_files, name="CSR_DASH")  # no worker yet: Pending
    page.goto("/")
    link = page.get_by_role("link", name="CSR_DASH")
    link.focus()
    request.getfixturevalue("worker")
    cell = page.locator("#document-results tbody tr td").nth(1)
    deadline = time.monotonic() + GENERATION_TIMEOUT_S
    seen = set()
    while time.monotonic() < deadline:
        status = cell.locator(".badge").inner_text()
        seen.add(status)
        assert page.evaluate("document.activeElement.textContent.trim()") == "CSR_DASH", seen
        if status == "Complete":
            break
        page.wait_for_timeout(200)
    assert "Complete" in seen and len(seen) >= 2, seen
