"""Stale sections (docs/api.md, "The review cycle"; issue 10, item 4): a new version of a source
lists, on every document made from the old one, exactly the sections whose citations point to text
that changed or vanished (the cited page or block, not the whole file); ``regenerate {"stale":
true}`` writes them again from the newest sources and clears the list. The same bytes again make
nothing stale."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import pytest

from documents.models import SourceFileVersion
from documents.pipeline.language import normalize_alnum
from documents.pipeline.staleness import stale_sections
from tests.documents.review.conftest import fetch, upload
from tests.fixtures import builders
from tests.fixtures.reviewed import save_docx

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

OLD_SENTENCE = "A total of 130 patients will be randomized."
NEW_SENTENCE = "A total of 160 patients will be randomized."


def _citing(twin: dict, file_path: str, quote_in: str, **where) -> list[str]:
    """Sections with a citation to ``file_path`` (at ``where``) whose quote lies in
    ``quote_in`` (letters and digits compared)."""
    text = normalize_alnum(quote_in)
    out = []
    for s in twin["sections"]:
        cites = [c for p in s["paragraphs"] for c in p["citations"]] + [
            c for t in s["tables"] for c in t["citations"]
        ]
        if any(
            c["file_path"] == file_path
            and all(c.get(k) == v for k, v in where.items())
            and normalize_alnum(c["quote"]) in text
            for c in cites
        ):
            out.append(s["section_id"])
    return out


def _sap_v2(sources: dict[str, bytes]) -> bytes:
    document = docx.Document(io.BytesIO(sources["sap.docx"]))
    paragraph = next(p for p in document.paragraphs if p.text == OLD_SENTENCE)
    paragraph.runs[0].text = NEW_SENTENCE
    for run in paragraph.runs[1:]:
        run.text = ""
    return save_docx(document)


def test_a_changed_docx_paragraph_makes_exactly_its_citing_sections_stale(
    draft, sources, rq_worker
) -> None:
    sap_path = draft.file_paths[1]
    expected = _citing(draft.twin, sap_path, OLD_SENTENCE)
    assert expected, "the draft should cite the SAP's sample-size paragraph"
    answer = upload(draft.client, "sap.docx", _sap_v2(sources))
    assert answer["version"] == 2
    rq_worker()  # the stale check runs in the worker
    status = draft.client.get(f"/api/v1/documents/status/{draft.task_id}").json()
    assert status["stale_sections"] == expected
    twin = draft.client.get(f"/api/v1/documents/{draft.task_id}/sections").json()
    assert [s["section_id"] for s in twin["sections"] if s["stale"]] == expected

    response = draft.client.post(
        f"/api/v1/documents/{draft.task_id}/regenerate", {"stale": True}, format="json"
    )
    assert response.status_code == 202, response.json()
    rq_worker()
    new_id = response.json()["task_id"]
    status = draft.client.get(f"/api/v1/documents/status/{new_id}").json()
    assert status["status"] == "Complete" and status["stale_sections"] == []
    new_twin, _data = fetch(draft.client, new_id)
    assert new_twin["manifest"]["sources"][1]["version"] == 2
    old = {s["section_id"]: s for s in draft.twin["sections"]}
    for section in new_twin["sections"]:
        text = " ".join(p["text"] for p in section["paragraphs"])
        if section["section_id"] in expected:
            assert "130 patients" not in text
        else:
            before = old[section["section_id"]]
            assert section["paragraphs"] == before["paragraphs"], section["number"]
            assert section["tables"] == before["tables"]
    assert any("160" in " ".join(p["text"] for p in s["paragraphs"]) for s in new_twin["sections"])
    # The old version still says what changed under it.
    again = draft.client.get(f"/api/v1/documents/status/{draft.task_id}").json()
    assert again["stale_sections"] == expected


def test_a_changed_pdf_page_makes_stale_only_the_sections_citing_what_changed(
    draft, rq_worker, tmp_path: Path
) -> None:
    pages = builders._protocol_pages()
    changed_page = None
    for number, items in enumerate(pages, 1):
        for k, (kind, text) in enumerate(items):
            if "Cochran-Mantel-Haenszel" in text:
                old_text = text
                items[k] = (kind, text.replace("stratified by region", "stratified by site"))
                changed_page = number
    assert changed_page is not None
    v2 = tmp_path / "protocol.pdf"
    builders.build_pdf(v2, pages, header=builders.PROTOCOL["header"])
    protocol_path = draft.file_paths[0]
    expected = _citing(draft.twin, protocol_path, old_text, page=changed_page)
    assert expected
    on_page = _citing(
        draft.twin,
        protocol_path,
        " ".join(t for _k, t in pages[changed_page - 1]),
        page=changed_page,
    )
    upload(draft.client, "protocol.pdf", v2.read_bytes())
    rq_worker()
    status = draft.client.get(f"/api/v1/documents/status/{draft.task_id}").json()
    assert status["stale_sections"] == expected
    # Sections citing other text of the same page are not stale: the page is compared quote by
    # quote, not as a whole.
    others = set(on_page) - set(expected)
    assert others and not others & set(status["stale_sections"])


def test_the_same_bytes_again_are_no_new_version_and_make_nothing_stale(
    draft, sources, rq_worker
) -> None:
    answer = upload(draft.client, "sap.docx", sources["sap.docx"])
    assert answer["version"] == 1
    assert "unchanged" in answer["message"]
    assert SourceFileVersion.objects.count() == 2
    rq_worker()
    status = draft.client.get(f"/api/v1/documents/status/{draft.task_id}").json()
    assert status["stale_sections"] == []


def test_stale_regeneration_needs_stale_sections(draft) -> None:
    response = draft.client.post(
        f"/api/v1/documents/{draft.task_id}/regenerate", {"stale": True}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "no_stale_sections"
    both = draft.client.post(
        f"/api/v1/documents/{draft.task_id}/regenerate",
        {"stale": True, "section_ids": [draft.section("9.1")["section_id"]]},
        format="json",
    )
    assert both.status_code == 400


def test_the_rule_compares_quotes_in_the_cited_block_only() -> None:
    from documents.pipeline.types import Block, ExtractedSource

    def source(*texts: str) -> ExtractedSource:
        return ExtractedSource(
            file_path="o/documents/sap.docx",
            file_name="sap.docx",
            sha256="x",
            file_type="docx",
            page_count=None,
            blocks=tuple(Block(i, "paragraph", t, block=i) for i, t in enumerate(texts, start=1)),
        )

    def section(sid: str, block: int, quote: str) -> dict:
        cite = {
            "file_path": "o/documents/sap.docx",
            "file_name": "sap.docx",
            "page": None,
            "block": block,
            "quote": quote,
        }
        return {
            "section_id": sid,
            "state": "generated",
            "paragraphs": [{"text": quote, "citations": [cite]}],
            "tables": [],
        }

    sections = [
        section("a", 1, "Alpha stays."),
        section("b", 2, "Beta changes."),
        section("c", 3, "Gamma moves."),
    ]
    newest = {
        "o/documents/sap.docx": source("Alpha stays.", "Beta changed.", "Inserted.", "Gamma moves.")
    }
    # b's text changed; c's text moved to another block (its citation no longer holds).
    assert stale_sections(sections, newest) == ["b", "c"]
    assert stale_sections(sections, {}) == []
