"""Importing a Word file as a template: headings (with style inheritance) become sections."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from docx import Document

from templates_app import services
from templates_app.docx_outline import DocxOutlineError, read_docx_outline
from tests.templates_app.conftest import outline_of

pytestmark = pytest.mark.django_db


def upload(data: bytes, name: str = "sponsor-template.docx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def test_custom_heading_styles_inherit_their_level_from_heading_1(template_docx):
    outline = read_docx_outline(template_docx)
    assert [(e.title, e.level) for e in outline.sections] == [
        ("Introduction", 1),  # 01Heading1, based on Heading 1
        ("Study Objectives", 2),  # 02Heading2, based on Heading 2
        ("Methods", 1),  # "3.7 Methods": the typed number is dropped
        ("Statistical Methods", 2),  # Normal with its own outline level 1
        ("Sample Size", 3),  # Heading 4 right after a level 2: one deeper only
        ("Results", 1),
    ]
    assert outline.sections[2].typed_number == "3.7"
    assert outline.title == "Sponsor CSR Template"


def test_instructions_and_template_text_are_kept_and_the_study_s_text_dropped(template_docx):
    intro, objectives, methods, *_ = read_docx_outline(template_docx).sections
    assert intro.instructions == [
        "Describe the background of the study.",  # an instruction style
        "Give the rationale for the dose.",  # blue italic
    ]
    assert intro.text == ["This report presents the results of the study."]  # Template Text
    assert intro.dropped == 1  # "Results from 21 Patients Treated with Tocilizumab in China."
    assert objectives.instructions == ["Copy the objectives from the protocol."]  # hidden
    assert methods.instructions == ["Summarise the methods (remove this text)."]  # red
    assert methods.text == [] and methods.dropped == 1  # the table is the study's


def test_import_creates_a_numbered_template_and_keeps_the_file(acme_manager, acme, template_docx):
    template = services.template_import_docx(
        user=acme_manager, file=upload(template_docx), document_type="CSR"
    )
    assert template.organization == acme and template.name == "Sponsor CSR Template"
    assert template.document_type == "CSR" and template.tense == "past"
    assert outline_of(template) == [
        ("1", "Introduction", 1),
        ("1.1", "Study Objectives", 2),
        ("2", "Methods", 1),
        ("2.1", "Statistical Methods", 2),
        ("2.1.1", "Sample Size", 3),
        ("3", "Results", 1),
    ]
    intro = template.sections.get(number="1")
    assert intro.instructions == (
        "Describe the background of the study.\nGive the rationale for the dose."
    )
    assert "Tocilizumab" not in intro.template_text
    assert intro.template_text == "This report presents the results of the study."
    assert template.base_document.startswith(f"{acme.id}/templates/sponsor-template")
    with default_storage.open(template.base_document, "rb") as stored:
        assert stored.read() == template_docx


def test_import_uses_the_given_name(acme_manager, template_docx):
    template = services.template_import_docx(
        user=acme_manager, file=upload(template_docx), template_name="Our CSR"
    )
    assert template.name == "Our CSR" and template.tense == "source"


def _no_headings_docx() -> bytes:
    document = Document()
    document.add_paragraph("Just text.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _zip_without_document() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("template.doc", b"\xd0\xcf\x11\xe0 old word", "is not a Word .docx file"),
        ("template.docx", b"%PDF-1.4 not a docx", "not a Word (.docx) document"),
        ("template.docx", b"", "is empty"),
        ("template.docx", _zip_without_document(), "not a Word (.docx) document"),
        ("template.docx", _no_headings_docx(), "has no headings"),
    ],
)
def test_unusable_files_are_refused_with_a_reason(acme_manager, name, data, message):
    with pytest.raises(services.TemplateImportError, match="file:") as caught:
        services.template_import_docx(user=acme_manager, file=upload(data, name))
    assert message in caught.value.message


def test_an_oversized_file_is_a_413(acme_manager, settings, template_docx):
    settings.FOLIO_MAX_UPLOAD_MB = 0
    with pytest.raises(services.TemplateImportError) as caught:
        services.template_import_docx(user=acme_manager, file=upload(template_docx))
    assert caught.value.status == 413


def test_a_member_cannot_import(acme_member, template_docx):
    with pytest.raises(services.TemplatePermissionDenied):
        services.template_import_docx(user=acme_member, file=upload(template_docx))


def test_outline_reader_rejects_garbage():
    with pytest.raises(DocxOutlineError):
        read_docx_outline(b"garbage")


# --- the real corpus ------------------------------------------------------------------------------


@pytest.mark.corpus
def test_corpus_m11_protocol_with_custom_heading_styles(acme_manager, corpus_file):
    """protocol-cdiscpilot-m11.docx uses 01Heading 1 / 02Heading 2 / 03Heading 3 styles."""
    path = corpus_file("protocol-cdiscpilot-m11.docx")
    with path.open("rb") as handle:
        template = services.template_import_docx(user=acme_manager, file=handle)
    sections = outline_of(template)
    level1 = [title for number, title, level in sections if level == 1]
    assert len(level1) == 14
    assert level1[:3] == ["Protocol Summary", "Introduction", "Trial Objectives and Estimands"]
    assert ("5.2", "Inclusion Criteria", 2) in sections
    assert ("5.3", "Exclusion Criteria", 2) in sections
    assert {level for _, _, level in sections} == {1, 2, 3}
    assert len(sections) == 132
    design = template.sections.get(title="Overall Design")
    assert "Key aspects of the trial design are summarised below." in design.instructions
    assert template.base_document.endswith(".docx")


@pytest.mark.corpus
def test_corpus_m11_protocol_with_standard_heading_styles(acme_manager, corpus_file):
    """protocol-wa42380-m11.docx uses Heading 1-4 (each based on the one above)."""
    path = corpus_file("protocol-wa42380-m11.docx")
    with path.open("rb") as handle:
        template = services.template_import_docx(
            user=acme_manager, file=handle, template_name="WA42380"
        )
    sections = outline_of(template)
    assert len([s for s in sections if s[2] == 1]) == 14
    assert len(sections) == 150
    assert sections[0] == ("1", "Protocol Summary", 1)
    assert ("10.11", "Sample Size Determination", 2) in sections
    assert {level for _, _, level in sections} == {1, 2, 3, 4}
    benefits = template.sections.get(title="Summary of Benefits and Risks")
    assert benefits.instructions.startswith("Include an assessment of known and potential risks")
    # Table-of-contents entries are not sections.
    assert template.sections.filter(title="Protocol Summary").count() == 1


@pytest.mark.corpus
def test_corpus_a_filled_protocol_imports_its_outline_not_its_study(acme_manager, corpus_file):
    """WA42380 is a filled protocol: its trial text (tocilizumab in China, ...) stays out; the
    preview's pruning leaves out a heading and the headings under it."""
    path = corpus_file("protocol-wa42380-m11.docx")
    with path.open("rb") as handle:
        token, outline = services.template_docx_stage(
            user=acme_manager, file=handle, filename=path.name
        )
    assert sum(e.dropped for e in outline.sections) > 500
    china = next(
        k for k, e in enumerate(outline.sections) if e.title.startswith("Results from 21 Patients")
    )
    assert outline.sections[china].text == [] and outline.sections[china].dropped > 0
    background = next(
        k for k, e in enumerate(outline.sections) if e.title == "Background on Tocilizumab"
    )
    under = [
        k
        for k in range(background + 1, len(outline.sections))
        if all(
            e.level > outline.sections[background].level
            for e in outline.sections[background + 1 : k + 1]
        )
    ]
    keep = [k for k in range(len(outline.sections)) if k != background]
    template = services.template_import_docx(
        user=acme_manager, staged=token, keep=keep, filename=path.name, template_name="WA42380"
    )
    titles = [title for _n, title, _l in outline_of(template)]
    assert "Background on Tocilizumab" not in titles
    assert len(titles) == len(outline.sections) - 1 - len(under)
    for section in template.sections.all():
        assert "tocilizumab" not in section.template_text.lower()
        assert "21 patients" not in section.template_text.lower()
