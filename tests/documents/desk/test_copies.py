"""GET /api/v1/documents/{id}/download: the clean copy, the review copy, the QC report and the
list of sources, from one generation (CONTRACT §9, docs/api.md "Downloads")."""

from __future__ import annotations

import io
import re
import zipfile

import docx
import pytest
from django.core.files.storage import default_storage

from documents.pipeline.docx_identity import END_BOOKMARK, section_bookmark, section_hex
from documents.presenters import draft_preview
from tests.documents.review.conftest import fetch

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _download(client, task_id: str, **params) -> bytes:
    response = client.get(f"/api/v1/documents/{task_id}/download", params)
    assert response.status_code == 200, response
    return b"".join(response.streaming_content)


def _xml(data: bytes, name: str = "word/document.xml") -> str:
    return zipfile.ZipFile(io.BytesIO(data)).read(name).decode()


def _parts(data: bytes) -> set[str]:
    return set(zipfile.ZipFile(io.BytesIO(data)).namelist())


def _texts(data: bytes) -> list[str]:
    return [p.text for p in docx.Document(io.BytesIO(data)).paragraphs]


def test_the_clean_copy_has_no_highlight_no_comments_no_qc_and_a_compact_source_list(
    draft,
) -> None:
    clean = _download(draft.client, draft.task_id)
    review = draft.docx
    xml, review_xml = _xml(clean), _xml(review)
    # The review copy has what the clean one leaves out.
    assert "<w:highlight" in review_xml and "word/comments.xml" in _parts(review)
    assert "Quality control report" in _texts(review)
    assert "<w:highlight" not in xml
    assert "word/comments.xml" not in _parts(clean)
    assert "commentReference" not in xml and "commentRangeStart" not in xml
    texts = _texts(clean)
    assert "Quality control report" not in texts and "Citations verified" not in xml
    # Citations stay compact bracketed references, and the list of sources is one line per
    # file giving every reference number, without the quotes.
    at = texts.index("List of Sources and References")
    tail = [t for t in texts[at + 1 :] if t.strip()]
    assert len(tail) == 2 and {t.split(":")[0] for t in tail} == {"protocol.pdf", "sap.docx"}
    listed = sorted(n for t in tail for g in re.findall(r"\[([\d,– ]+)\]", t) for n in _expand(g))
    assert listed == list(range(1, len(listed) + 1))
    assert re.search(r"^protocol\.pdf: p\. \d+ \[", next(t for t in tail if "protocol" in t))
    review_refs = [t for t in _texts(review) if re.match(r"^\[\d+\]\t", t)]
    assert len(review_refs) == len(listed) and all("“" in t for t in review_refs)
    # The review cycle still finds its way in the clean copy: bookmarks and properties.
    for section in draft.twin["sections"]:
        if section["state"] != "skipped":
            assert f'w:name="{section_bookmark(section["section_id"])}"' in xml
    assert f'w:name="{END_BOOKMARK}"' in xml
    props = _xml(clean, "docProps/custom.xml")
    assert "folio_document_id" in props and draft.task_id in props
    # And both open with the title page (E3 section 1) and the written table of contents.
    for data in (clean, review):
        document = docx.Document(io.BytesIO(data))
        assert document.paragraphs[0].text == "1 Title Page"
        assert document.paragraphs[1].style.name == "Title"
        assert document.core_properties.title == document.paragraphs[1].text.split(" [")[0]
        assert "Table of Contents" in _xml(data) and "Right-click" not in _xml(data)


def test_the_title_page_is_section_1_each_fact_once_and_reads_back_unchanged(draft) -> None:
    from documents.review import match
    from documents.review.reader import read_document

    twin_section = draft.section("1")
    kinds = [f for p in twin_section["paragraphs"] for f in p.get("flags", [])]
    assert "title_page:title" in kinds and "title_page:fact" in kinds
    clean = _download(draft.client, draft.task_id)
    for data in (clean, draft.docx):
        document = docx.Document(io.BytesIO(data))
        texts = [t for t in _texts(data) if t.strip()]
        # Each title-page line once in the whole copy, as the twin's section 1 states it.
        for paragraph in twin_section["paragraphs"]:
            if "title_page:date" in paragraph.get("flags", []):
                # The date and version: a DOCPROPERTY field the reader leaves out.
                shown = [t for t in texts if t.startswith("Report date and version: ")]
                assert len(shown) == 1 and re.search(
                    r": \d{4}-\d\d-\d\d, draft version 1 ", shown[0]
                )
                continue
            shown = [t for t in texts if match.key(t) == match.key(paragraph["text"])]
            assert len(shown) == 1, paragraph["text"]
        assert len([p for p in document.paragraphs if p.style.name == "Title"]) == 1
        # Returned unchanged, section 1 is not edited, read against the twin alone too.
        read = {s.hex: s for s in read_document(document).sections}
        section_read = read[section_hex(twin_section["section_id"])]
        assert not match.is_edited(section_read, twin_section)
    # Against the twin, an edited fact is an edit.
    document = docx.Document(io.BytesIO(clean))
    fact = next(
        p["text"] for p in twin_section["paragraphs"] if "title_page:fact" in p.get("flags", [])
    )
    line = next(p for p in document.paragraphs if p.text.startswith(fact.split(": ")[0] + ": "))
    line.runs[-1].text = line.runs[-1].text + " (amended)"
    read = {s.hex: s for s in read_document(document).sections}
    assert match.is_edited(read[section_hex(twin_section["section_id"])], twin_section)


def test_the_qc_report_and_the_sources_are_their_own_files(draft) -> None:
    qc = _download(draft.client, draft.task_id, part="qc")
    texts = _texts(qc)
    assert texts[0].endswith("Quality control report") and "Quality control report" in texts
    cells = {
        row.cells[0].text: row.cells[1].text for row in docx.Document(io.BytesIO(qc)).tables[0].rows
    }
    assert cells["No source content"] == str(draft.twin["qc"]["sections_no_source"])
    assert not any(t.startswith("9.4") for t in texts)
    sources = _download(draft.client, draft.task_id, part="sources")
    texts = _texts(sources)
    refs = [t for t in texts if re.match(r"^\[\d+\]\t", t)]
    assert refs and all("“" in t for t in refs)
    assert "Citations verified" not in _xml(sources)
    # A part is never taken for a reviewed copy of the document: no section bookmark.
    assert "folio_" not in _xml(sources).replace("folio_document_id", "")


def test_a_copy_is_made_once_and_then_served_from_storage(draft) -> None:
    first = _download(draft.client, draft.task_id)
    listing = default_storage.listdir(
        f"{_org_id(draft)}/output/copies",
    )[1]
    assert len([n for n in listing if n.startswith(draft.task_id)]) == 1
    assert _download(draft.client, draft.task_id) == first


def _org_id(draft) -> str:
    from documents.models import GeneratedDocument

    return str(GeneratedDocument.objects.get(pk=draft.task_id).organization_id)


def _expand(marker: str) -> list[int]:
    out: list[int] = []
    for part in marker.split(","):
        part = part.strip()
        if "–" in part:
            a, b = part.split("–")
            out.extend(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return out


def test_citation_numbers_are_the_same_in_the_preview_and_both_copies(draft) -> None:
    preview = draft_preview(draft.twin)
    expected: dict[str, list[int]] = {}
    for section in preview["sections"]:
        for block in section["blocks"]:
            items = block.get("items") if block["kind"] == "list" else [block]
            for item in items:
                if item.get("citations") and item.get("style") == "body":
                    expected[item["text"]] = sorted({c["n"] for c in item["citations"]})
    assert len(expected) >= 5
    assert max(n for ns in expected.values() for n in ns) == preview["citations"]
    for data in (draft.docx, _download(draft.client, draft.task_id)):
        found = {}
        for text in _texts(data):
            match = re.match(r"^(.*) \[([\d,– ]+)\]$", text, re.S)
            if match and match.group(1) in expected:
                found[match.group(1)] = _expand(match.group(2))
        assert found and found == {k: v for k, v in expected.items() if k in found}
        assert len(found) >= len(expected) - 2


def test_the_clean_copy_is_also_what_the_twin_fetch_helper_gets(draft) -> None:
    _twin, clean = fetch(draft.client, draft.task_id, copy="clean")
    assert clean == _download(draft.client, draft.task_id)


def test_the_numbers_in_the_preview_html_are_the_numbers_in_the_docx(draft, member) -> None:
    """What a reviewer sees in the portal's preview and in Word point at the same source."""
    import lxml.html
    from django.test import Client

    client = Client()
    client.force_login(member)
    page = client.get(f"/documents/{draft.task_id}/")
    assert page.status_code == 200
    tree = lxml.html.fromstring(page.content.decode())
    shown: dict[str, list[int]] = {}
    for holder in tree.xpath("//*[details[contains(concat(' ', @class, ' '), ' cite ')]]"):
        text = " ".join((holder.text or "").split())
        numbers = [
            int(s.text_content().strip("[] "))
            for s in holder.xpath("./details[contains(@class, 'cite')]/summary")
        ]
        if text and numbers:
            shown[text] = sorted(set(numbers))
    assert len(shown) >= 5
    for data in (draft.docx, _download(draft.client, draft.task_id)):
        in_word = {}
        for text in _texts(data):
            match = re.match(r"^(.*) \[([\d,– ]+)\]$", text, re.S)
            if match and " ".join(match.group(1).split()) in shown:
                in_word[" ".join(match.group(1).split())] = _expand(match.group(2))
        assert len(in_word) >= 5
        assert in_word == {k: shown[k] for k in in_word}
