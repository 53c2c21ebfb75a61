"""GET /api/v1/documents/{id}/download?redline=true (docs/api.md, "The review cycle"): the
differences from the previous text as Word tracked changes, in exactly the sections written again;
checked in the XML and, where LibreOffice is installed, by converting the redline to PDF."""

from __future__ import annotations

import io

import docx
import pytest
from docx.oxml.ns import qn
from pypdf import PdfReader

from documents.pipeline.docx_identity import section_hex
from documents.review import redline
from documents.review.reader import walk_sections
from tests.documents.review.conftest import review
from tests.fixtures.reviewed import (
    SOFFICE_MISSING,
    add_comment,
    libreoffice_convert,
    open_docx,
    rewrite_paragraph,
    save_docx,
    section_paragraphs,
    soffice,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
TERMS = "Use 'participants' instead of 'patients'."


def _download(client, task_id: str, **params) -> tuple[int, bytes, dict]:
    response = client.get(f"/api/v1/documents/{task_id}/download", params)
    data = b"".join(response.streaming_content) if response.status_code == 200 else b""
    return response.status_code, data, response


def _marks(data: bytes) -> dict[str, list[tuple[str, str, str]]]:
    """Section hex → the (kind, author, text) of every tracked change in its body."""
    document = docx.Document(io.BytesIO(data))
    _b, sections, _a = walk_sections(document.element.body)
    out: dict[str, list[tuple[str, str, str]]] = {}
    for section in sections:
        for block in section.blocks:
            for el in block.iter(qn("w:ins"), qn("w:del")):
                if el.getparent().tag in (qn("w:rPr"), qn("w:trPr")):
                    continue  # a paragraph mark's or a table row's change
                text = "".join(t.text or "" for t in el.iter(qn("w:t"), qn("w:delText")))
                kind = "ins" if el.tag == qn("w:ins") else "del"
                out.setdefault(section.hex, []).append((kind, el.get(qn("w:author")), text))
    return out


@pytest.fixture
def reviewed(draft, rq_worker):
    document = open_docx(draft.docx)
    for number in ("9.3.1", "9.7.2"):
        add_comment(
            document, section_paragraphs(document, draft.section(number)["section_id"])[0], TERMS
        )
    blinding = section_paragraphs(document, draft.section("9.4.6")["section_id"])
    rewrite_paragraph(blinding[0], "Reviewers rewrote this paragraph.")
    body = review(draft.client, draft.task_id, save_docx(document)).json()
    rq_worker()
    return draft, body["task_id"]


def test_the_redline_marks_exactly_the_sections_folio_wrote_again(reviewed) -> None:
    draft, new_id = reviewed
    code, data, response = _download(draft.client, new_id, redline="true")
    assert code == 200
    assert 'redline-v2.docx"' in response["Content-Disposition"]
    marks = _marks(data)
    expected = {section_hex(draft.section(n)["section_id"]) for n in ("9.3.1", "9.7.2")}
    assert set(marks) == expected
    for changes in marks.values():
        assert {author for _k, author, _t in changes} == {"Folio"}
        assert ("del", "Folio", "patients") in {(k, a, t.strip().lower()) for k, a, t in changes}
        assert any(k == "ins" and "participants" in t.lower() for k, _a, t in changes)
    xml = docx.Document(io.BytesIO(data)).element.body
    dates = {el.get(qn("w:date")) for el in xml.iter(qn("w:ins"), qn("w:del"))}
    assert dates and all(d and d.endswith("Z") for d in dates)
    # The people's edit (9.4.6) is the base, so it carries no marks; the clean copy has none.
    _code, clean, _r = _download(draft.client, new_id)
    assert _marks(clean) == {}


def test_a_first_draft_has_no_redline(draft) -> None:
    code, _data, response = _download(draft.client, draft.task_id, redline="true")
    assert code == 404
    assert response.json()["code"] == "no_previous_version"


def test_a_plain_regeneration_is_redlined_against_the_previous_version(draft, rq_worker) -> None:
    section = draft.section("9.1")["section_id"]
    response = draft.client.post(
        f"/api/v1/documents/{draft.task_id}/regenerate",
        {"section_ids": [section], "instructions": "Do not mention placebo."},
        format="json",
    )
    assert response.status_code == 202
    rq_worker()
    code, data, _r = _download(draft.client, response.json()["task_id"], redline="true")
    assert code == 200
    marks = _marks(data)
    assert set(marks) == {section_hex(section)}
    deleted = " ".join(t for k, _a, t in marks[section_hex(section)] if k == "del")
    assert "placebo" in deleted.lower()


def test_the_redline_opens_in_libreoffice_and_shows_both_texts(reviewed) -> None:
    if soffice() is None:
        pytest.skip(SOFFICE_MISSING)
    draft, new_id = reviewed
    _code, data, _r = _download(draft.client, new_id, redline="true")
    pdf = libreoffice_convert(data, to="pdf")
    text = " ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)
    # LibreOffice shows tracked changes: the deleted word struck through beside the new one.
    assert "patientsparticipants" in text.replace(" ", "").lower() or (
        "patients" in text.lower() and "participants" in text.lower()
    )


# ---------------------------------------------------------------- the marking itself


def _one_section_docx(paragraphs: list[str], tables: list[list[list[str]]] = ()) -> docx.Document:
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    document = docx.Document()
    heading = document.add_paragraph("9.1 Design", style="Heading 2")
    heading._p.insert(
        0,
        parse_xml(f'<w:bookmarkStart {nsdecls("w")} w:id="1" w:name="folio_{"a" * 32}"/>'),
    )
    heading._p.append(parse_xml(f'<w:bookmarkEnd {nsdecls("w")} w:id="1"/>'))
    for text in paragraphs:
        document.add_paragraph(text).add_run(" [3]")
    for rows in tables:
        table = document.add_table(rows=len(rows), cols=len(rows[0]))
        for r, row in enumerate(rows):
            for c, cell in enumerate(row):
                table.cell(r, c).text = cell
    return document


def _section(paragraphs: list[str], tables: list[list[list[str]]] = ()) -> dict:
    import uuid

    return {
        "section_id": str(uuid.UUID("a" * 32)),
        "number": "9.1",
        "title": "Design",
        "level": 2,
        "state": "generated",
        "paragraphs": [{"text": t, "citations": []} for t in paragraphs],
        "tables": [
            {"title": "", "header_rows": 1, "rows": rows, "citations": []} for rows in tables
        ],
    }


def test_deleted_inserted_and_changed_paragraphs_and_table_rows_are_marked() -> None:
    old = _section(
        ["The study was open-label.", "This sentence goes away.", "Visits were weekly."],
        [[["Arm", "N"], ["Drug", "60"], ["Placebo", "60"]]],
    )
    new_text = ["The study was double-blind.", "Visits were weekly.", "A new closing sentence."]
    new_rows = [["Arm", "N"], ["Drug", "61"], ["Placebo", "60"], ["Total", "121"]]
    document = _one_section_docx(new_text, [new_rows])
    marked = redline.redline_document(
        document,
        previous=[old],
        current=[_section(new_text, [new_rows])],
        date="2026-12-01T00:00:00Z",
    )
    assert marked == [old["section_id"]]
    changes = _marks(save_docx(document))["a" * 32]
    assert ("del", "Folio", "open-label") in changes
    assert ("ins", "Folio", "double-blind") in changes
    assert ("del", "Folio", "This sentence goes away.") in changes
    assert ("ins", "Folio", "A new closing sentence.") in changes
    assert ("ins", "Folio", " [3]") in changes  # the whole new paragraph, its marker included
    assert ("del", "Folio", "60") in changes and ("ins", "Folio", "61") in changes
    assert ("ins", "Folio", "Total") in changes and ("ins", "Folio", "121") in changes
    # Untouched text carries no mark; the changed paragraph's marker stays as it is.
    assert not any("weekly" in t for _k, _a, t in changes)
    assert not any(t == " [3]" and k == "del" for k, _a, t in changes)


def test_an_unchanged_section_carries_no_marks() -> None:
    text = ["Nothing changes here."]
    document = _one_section_docx(text)
    assert (
        redline.redline_document(
            document,
            previous=[_section(text)],
            current=[_section(text)],
            date="2026-12-01T00:00:00Z",
        )
        == []
    )
    assert _marks(save_docx(document)) == {}


def test_a_section_marked_not_applicable_after_generation_shows_in_the_redline(reviewed) -> None:
    """The redline is made like the copies: the stored redline plus the twin's section states."""
    draft, new_id = reviewed
    _code, stored, _r = _download(draft.client, new_id, redline="true")
    marked, kept = (section_hex(draft.section(n)["section_id"]) for n in ("9.3.1", "9.7.2"))
    assert {marked, kept} <= set(_marks(stored))
    reason = "Inclusion criteria are reported in the protocol appendix."
    url = f"/api/v1/documents/{new_id}/sections/{draft.section('9.3.1')['section_id']}/state"
    response = draft.client.put(url, {"state": "not_applicable", "reason": reason}, format="json")
    assert response.status_code == 200, response.json()
    code, data, response = _download(draft.client, new_id, redline="true")
    assert code == 200 and 'redline-v2.docx"' in response["Content-Disposition"]
    marks = _marks(data)
    assert marked not in marks and kept in marks  # the other section keeps its marks
    document = docx.Document(io.BytesIO(data))
    _b, sections, _a = walk_sections(document.element.body)
    body = next(s for s in sections if s.hex == marked).blocks
    assert ["".join(t.text or "" for t in b.iter(qn("w:t"))) for b in body] == [
        f"Not applicable: {reason}"
    ]
    # Its QC appendix is the twin's, recounted.
    cells = {r.cells[0].text: r.cells[1].text for t in document.tables for r in t.rows}
    assert cells["Not applicable (marked by a person)"] == "1"
    # Restored, the redline is the stored file again.
    response = draft.client.put(url, {"state": "restore"}, format="json")
    assert response.status_code == 200, response.json()
    assert _download(draft.client, new_id, redline="true")[1] == stored
