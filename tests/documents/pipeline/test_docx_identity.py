"""Every generated .docx says where it came from (docs/api.md, "The review cycle"): custom document
properties and a bookmark on each section heading, inside the heading paragraph."""

from __future__ import annotations

import re
import uuid
import zipfile
from pathlib import Path

import docx
from docx.oxml.ns import qn

from documents.pipeline import docx_identity, qc, render
from documents.pipeline.types import PipelineInput
from tests.documents.pipeline.test_orchestrate import csr_outline, protocol, write

PROPERTIES = {
    "folio_document_id": str(uuid.UUID(int=7)),
    "folio_version": 3,
    "folio_template_id": str(uuid.UUID(int=9)),
}


def _render(tmp_path: Path, base: Path | None = None) -> tuple[Path, list]:
    sources = [protocol()]
    drafts = list(write(sources, csr_outline(selected={"9.3.1", "9.3.2"})))
    inp = PipelineInput(
        sources=(),
        outline=csr_outline(),
        template_name="t",
        document_type="CSR",
        output_name="o",
        base_document_path=str(base) if base else None,
        document_properties=PROPERTIES,
    )
    out = tmp_path / "out.docx"
    render.render_docx(
        drafts, sources=sources, qc=qc.quality_report(drafts, sources), inp=inp, path=str(out)
    )
    return out, drafts


def _custom_properties(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as z:
        rels = z.read("_rels/.rels").decode()
        assert docx_identity.CUSTOM_PROPERTIES_RELTYPE in rels
        content_types = z.read("[Content_Types].xml").decode()
        assert docx_identity.CUSTOM_PROPERTIES_CONTENT_TYPE in content_types
        return docx_identity.parse_custom_properties(z.read("docProps/custom.xml"))


def test_the_custom_properties_name_the_document_version_and_template(tmp_path: Path) -> None:
    out, _ = _render(tmp_path)
    properties = _custom_properties(out)
    # folio_draft: the title page's report date and version (a DOCPROPERTY field shows it).
    assert re.fullmatch(r"\d{4}-\d\d-\d\d, draft version 3", properties.pop("folio_draft"))
    assert properties == {
        "folio_document_id": PROPERTIES["folio_document_id"],
        "folio_version": "3",
        "folio_template_id": PROPERTIES["folio_template_id"],
    }
    xml = zipfile.ZipFile(out).read("docProps/custom.xml").decode()
    assert "<vt:i4>3</vt:i4>" in xml  # the version is a number in Word's property dialog


def test_each_visible_section_heading_holds_its_bookmark(tmp_path: Path) -> None:
    out, drafts = _render(tmp_path)
    document = docx.Document(str(out))
    found: dict[str, str] = {}
    for paragraph in document.paragraphs:
        starts = paragraph._p.findall(qn("w:bookmarkStart"))
        ends = paragraph._p.findall(qn("w:bookmarkEnd"))
        for start in starts:
            name = start.get(qn("w:name"))
            assert len(name) <= 40
            # Start and end inside the same heading paragraph.
            assert any(e.get(qn("w:id")) == start.get(qn("w:id")) for e in ends)
            assert paragraph.style.name.startswith("Heading")
            found[name] = paragraph.text
    shown = {d.section_id: d for d in drafts if d.number in {"9", "9.3", "9.3.1", "9.3.2"}}
    for section_id, draft in shown.items():
        name = docx_identity.section_bookmark(section_id)
        assert len(name) == 38 and docx_identity.is_section_bookmark(name)
        assert found[name] == f"{draft.number} {draft.title}"
    assert found[docx_identity.END_BOOKMARK] == "List of Sources and References"
    ids = [b.get(qn("w:id")) for b in document.element.body.iter(qn("w:bookmarkStart"))]
    assert len(ids) == len(set(ids))


def test_section_ids_that_are_not_uuids_get_a_stable_hex_name() -> None:
    real = str(uuid.uuid4())
    assert docx_identity.section_hex(real) == uuid.UUID(real).hex
    assert docx_identity.section_hex("s-9.3.1") == docx_identity.section_hex("s-9.3.1")
    assert docx_identity.section_hex("s-9.3.1") != docx_identity.section_hex("s-9.3.2")
    assert len(docx_identity.section_hex("s-9.3.1")) == 32
    assert not docx_identity.is_section_bookmark("folio_end")
    assert not docx_identity.is_section_bookmark("_Toc12345")


def test_a_base_template_s_own_custom_properties_are_kept(tmp_path: Path) -> None:
    base = docx.Document()
    base.save(str(tmp_path / "plain.docx"))
    # A template that already carries a custom property (and an old folio_version).
    plain = docx.Document(str(tmp_path / "plain.docx"))
    docx_identity.write_custom_properties(
        plain, {"Department": "Biostatistics", "folio_version": 1}
    )
    base_path = tmp_path / "base.docx"
    plain.save(str(base_path))
    out, _ = _render(tmp_path, base=base_path)
    props = _custom_properties(out)
    assert props["Department"] == "Biostatistics"
    assert props["folio_version"] == "3"
    assert props["folio_document_id"] == PROPERTIES["folio_document_id"]
    with zipfile.ZipFile(out) as z:
        assert sum(n == "docProps/custom.xml" for n in z.namelist()) == 1
