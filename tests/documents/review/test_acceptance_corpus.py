"""Issue 10's acceptance on the corpus study (marked ``corpus``): the LZZT protocol (PDF) and its
SAP in Word (built here from the SAP PDF's extracted text, as a user who only has the PDF would
save it from Word).

Generate; reviewers comment "Use 'participants' instead of 'patients'." in two sections and
rewrite a paragraph of a third; upload: exactly the two commented sections are written again
following the comment, the third keeps the reviewers' text untouched, every other section is
unchanged, version and previous_version are right; the redline marks those two sections only and
opens in LibreOffice; a .docx Folio did not write is refused. Then a new SAP version with one
paragraph changed: exactly the sections citing that paragraph are stale, and regenerating them
carries the new text and clears the list. A webhook receiver gets one signed event per terminal
document.
"""

from __future__ import annotations

import io
import json

import docx
import pytest
from pypdf import PdfReader

from documents.pipeline import language
from documents.pipeline.docx_identity import section_hex
from documents.pipeline.extract import extract_text
from documents.pipeline.types import SourceDescriptor
from tests.documents.review.conftest import fetch, generate, review, upload
from tests.documents.review.test_redline import _marks
from tests.fixtures.reviewed import (
    add_comment,
    libreoffice_convert,
    open_docx,
    rewrite_paragraph,
    save_docx,
    section_paragraphs,
    soffice,
)
from tests.portal.webhooks.test_webhooks import Receiver, register, verify

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(900),
]
TERMS = "Use 'participants' instead of 'patients'."
REWRITTEN = "The reviewers replaced this paragraph with their own wording of the design."


def word_sap(corpus_dir) -> bytes:
    """The SAP PDF's extracted headings, paragraphs, list items and tables, saved as Word."""
    path = corpus_dir / "sap-cdiscpilot01.pdf"
    source = extract_text(
        SourceDescriptor(str(path), path.name, "sap-pdf", "pdf", str(path)), in_process=True
    )
    document = docx.Document()
    for block in source.blocks:
        if block.kind == "heading":
            title = f"{block.number} {block.text}".strip()
            document.add_heading(title, level=min(max(block.level, 1), 9))
        elif block.kind == "table" and block.rows:
            width = max(len(r) for r in block.rows)
            table = document.add_table(rows=len(block.rows), cols=width)
            for r, row in enumerate(block.rows):
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell
        elif block.kind == "list_item":
            document.add_paragraph(f"{block.number} {block.text}".strip())
        elif block.text.strip():
            document.add_paragraph(block.text)
    return save_docx(document)


def _sentences(section: dict) -> list[str]:
    return [s for p in section["paragraphs"] for s in language.sentences(p["text"])]


def _cites(section: dict) -> list[dict]:
    return [c for p in section["paragraphs"] for c in p["citations"]] + [
        c for t in section["tables"] for c in t["citations"]
    ]


def test_the_review_cycle_on_the_corpus_study(
    corpus_dir, api_client, member, manager, rq_worker, clean_queue, settings
) -> None:
    settings.FOLIO_WEBHOOK_ALLOW_PRIVATE = True
    settings.FOLIO_WEBHOOK_RETRY_SECONDS = [0]
    receiver = Receiver()
    try:
        hook = register(api_client(manager), receiver.url).json()
        client = api_client(member)
        protocol = upload(
            client, "protocol-lzzt.pdf", (corpus_dir / "protocol-lzzt.pdf").read_bytes()
        )
        sap_bytes = word_sap(corpus_dir)
        sap = upload(client, "sap-cdiscpilot01.docx", sap_bytes)
        paths = [protocol["file_path"], sap["file_path"]]
        v1 = generate(client, paths, rq_worker, output_name="LZZT_CSR")
        twin1, docx1 = fetch(client, v1)
        sections = {s["section_id"]: s for s in twin1["sections"]}

        # Two sections that say "patients" get the comment; a third gets a paragraph rewritten.
        candidates = [
            s
            for s in twin1["sections"]
            if s["state"] == "generated"
            and s["paragraphs"]
            and any("patients" in p["text"] for p in s["paragraphs"][:1])
            and s["number"].startswith(("9", "11", "12"))
        ]
        assert len(candidates) >= 3, [s["number"] for s in candidates]
        commented, edited = candidates[:2], candidates[2]
        document = open_docx(docx1)
        for s in commented:
            add_comment(document, section_paragraphs(document, s["section_id"])[0], TERMS)
        rewrite_paragraph(section_paragraphs(document, edited["section_id"])[0], REWRITTEN)
        answer = review(client, v1, save_docx(document))
        assert answer.status_code == 202, answer.json()
        body = answer.json()
        by_id = {s["section_id"]: s for s in body["sections"]}
        assert {sid for sid, s in by_id.items() if s["regenerate"]} == {
            s["section_id"] for s in commented
        }
        assert by_id[edited["section_id"]]["edited"] is True
        assert all(
            c["status"] == "acted_on" for s in commented for c in by_id[s["section_id"]]["comments"]
        )

        rq_worker()
        v2 = body["task_id"]
        status = client.get(f"/api/v1/documents/status/{v2}").json()
        assert status["status"] == "Complete"
        assert (status["version"], status["previous_version"]) == (2, v1)
        twin2, _docx2 = fetch(client, v2)
        assert (twin2["version"], twin2["previous_version"]) == (2, v1)
        for s in twin2["sections"]:
            before = sections[s["section_id"]]
            if s["section_id"] in {c["section_id"] for c in commented}:
                assert _sentences(s) == [
                    language.apply_preferred_terms(x, {"participants": ["patients"]})
                    for x in _sentences(before)
                ], s["number"]
                assert "participants" in " ".join(_sentences(s)).lower()
                assert s["tables"] == before["tables"]
            elif s["section_id"] == edited["section_id"]:
                assert s["edited"] is True and s["paragraphs"][0]["text"] == REWRITTEN
                assert s["paragraphs"][1:] == before["paragraphs"][1:]
            else:
                assert (s["paragraphs"], s["tables"], s["state"]) == (
                    before["paragraphs"],
                    before["tables"],
                    before["state"],
                ), s["number"]

        # The redline: tracked changes in the two commented sections only; it opens in LibreOffice.
        redline = client.get(f"/api/v1/documents/{v2}/download", {"redline": "true"})
        data = b"".join(redline.streaming_content)
        assert set(_marks(data)) == {section_hex(s["section_id"]) for s in commented}
        if soffice() is not None:
            pdf = libreoffice_convert(data, to="pdf")
            assert len(PdfReader(io.BytesIO(pdf)).pages) > 10

        # A .docx Folio did not write.
        plain = docx.Document()
        plain.add_paragraph("Reviewer's notes.")
        refused = review(client, v2, save_docx(plain), name="notes.docx")
        assert refused.status_code == 400 and refused.json()["code"] == "not_a_folio_draft"

        # A new SAP version with one cited paragraph changed.
        sap_doc = docx.Document(io.BytesIO(sap_bytes))
        blocks = [p for p in sap_doc.paragraphs]
        # A paragraph that a body section (9.x, the study's conduct and methods) cites.
        cited_blocks = {
            c["block"]
            for s in twin2["sections"]
            if s["number"].startswith("9.")
            for p in s["paragraphs"]
            for c in p["citations"]
            if c["file_path"] == sap["file_path"] and c["block"]
        }
        # The first cited paragraph of the Word SAP that holds a plain sentence (block numbers
        # count paragraphs and table rows in document order; this SAP's paragraphs come first).
        target_block, target = None, None
        index = 0
        for child in sap_doc.element.body.iterchildren():
            if child.tag.endswith("}p"):
                index += 1
                para = blocks[[p._p for p in blocks].index(child)]
                if index in cited_blocks and len(para.text) > 60 and para.runs:
                    target_block, target = index, para
                    break
            elif child.tag.endswith("}tbl"):
                index += len(child.findall(".//{*}tr"))
        assert target is not None
        expected = [
            s["section_id"]
            for s in twin2["sections"]
            if any(
                c["file_path"] == sap["file_path"] and c["block"] == target_block for c in _cites(s)
            )
        ]
        assert expected
        # Every sentence of the paragraph changes (a word added after every fourth).
        words = target.text.split()
        changed = " ".join(w + (" amended" if i % 4 == 3 else "") for i, w in enumerate(words))
        target.runs[0].text = "Changed in version 2 of the SAP: " + changed
        for run in target.runs[1:]:
            run.text = ""
        assert upload(client, "sap-cdiscpilot01.docx", save_docx(sap_doc))["version"] == 2
        rq_worker()
        stale = client.get(f"/api/v1/documents/status/{v2}").json()["stale_sections"]
        assert stale == expected
        again = client.post(f"/api/v1/documents/{v2}/regenerate", {"stale": True}, format="json")
        assert again.status_code == 202, again.json()
        rq_worker()
        v3 = again.json()["task_id"]
        status3 = client.get(f"/api/v1/documents/status/{v3}").json()
        assert status3["status"] == "Complete" and status3["stale_sections"] == []
        twin3, _ = fetch(client, v3)
        rewritten = " ".join(
            p["text"]
            for s in twin3["sections"]
            if s["section_id"] in expected
            for p in s["paragraphs"]
        )
        assert "amended" in rewritten
        for s in twin3["sections"]:
            if s["section_id"] not in expected:
                before = next(b for b in twin2["sections"] if b["section_id"] == s["section_id"])
                assert s["paragraphs"] == before["paragraphs"], s["number"]

        number = {x["section_id"]: x["number"] for x in twin1["sections"]}
        print(  # the figures of the acceptance run (shown with pytest -s)
            f"commented {[c['number'] for c in commented]}, edited {edited['number']}, "
            f"redlined {sorted(number[h] for h in {s['section_id'] for s in commented})}, "
            f"SAP block {target_block} changed, stale {[number[x] for x in expected]}, "
            f"webhook events {len(receiver.received)}"
        )
        # One signed event per terminal document: v1, v2, v3.
        events = [json.loads(r["body"]) for r in receiver.received]
        assert sorted(e["document_id"] for e in events) == sorted([v1, v2, v3])
        assert {e["event"] for e in events} == {"document.complete"}
        assert all(verify(hook["secret"], r) for r in receiver.received)
    finally:
        receiver.close()
