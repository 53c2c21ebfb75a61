"""Classification (protocol / sap / results / other) and the study's key facts with their quotes."""

from __future__ import annotations

from pathlib import Path

import pytest

from documents.pipeline.classify import (
    FACT_NAMES,
    all_key_facts,
    attach_key_facts,
    classify_source,
)
from documents.pipeline.extract import alnum, extract_text
from documents.pipeline.types import ExtractedSource, KeyFact, SourceDescriptor
from tests.fixtures import builders

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus"
corpus = pytest.mark.skipif(
    not CORPUS.is_dir(),
    reason=f"shared corpus not found at {CORPUS} (../shared beside the project)",
)


def load(path: Path) -> ExtractedSource:
    desc = SourceDescriptor(
        file_path=f"org/documents/{path.name}",
        file_name=path.name,
        sha256="0" * 64,
        file_type=path.suffix.lstrip("."),
        local_path=str(path),
    )
    return classify_source(extract_text(desc, in_process=True))


def assert_quote_is_verbatim_at_its_location(src: ExtractedSource, fact: KeyFact) -> None:
    assert alnum(fact.value) in alnum(fact.quote), fact
    if src.file_type == "pdf":
        assert fact.page is not None and fact.block is None
        assert alnum(fact.quote) in alnum(src.pages[fact.page - 1]), fact
    else:
        assert fact.page is None and fact.block is not None
        units = []
        for b in src.blocks:
            if b.kind == "table":
                units += [(b.block + k, " | ".join(r)) for k, r in enumerate(b.rows)]
            else:
                units.append((b.block, b.text))
        texts = [alnum(t) for n, t in units if n == fact.block]
        assert any(alnum(fact.quote) in t for t in texts), fact


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, ExtractedSource]:
    root = tmp_path_factory.mktemp("classify")
    return {
        "protocol_pdf": load(builders.build_protocol_pdf(root / "protocol.pdf")),
        "sap_pdf": load(builders.build_sap_pdf(root / "sap.pdf")),
        "protocol_docx": load(builders.build_protocol_docx(root / "protocol.docx").path),
        "sap_docx": load(builders.build_sap_docx(root / "sap.docx")),
        "results_xlsx": load(builders.build_results_xlsx(root / "results.xlsx").path),
        "other_pdf": load(
            builders.build_plain_pdf(
                root / "letter.pdf", "Dear colleague, thank you for the visit."
            )
        ),
    }


def test_sources_are_classified_by_what_their_first_pages_say(built) -> None:
    assert built["protocol_pdf"].kind == "protocol"
    assert built["sap_pdf"].kind == "sap"
    assert built["protocol_docx"].kind == "protocol"
    assert built["sap_docx"].kind == "sap"
    assert built["results_xlsx"].kind == "results"
    assert built["other_pdf"].kind == "other"


def test_a_results_pdf_with_tlf_outputs_is_results(tmp_path: Path) -> None:
    pages = [
        [("title", "Tables, Figures and Listings")]
        + [("body", f"Table 14.1.{k} Summary of Demographics, Safety Population") for k in range(6)]
    ]
    src = load(builders.build_pdf(tmp_path / "tlf.pdf", pages))
    assert src.kind == "results"


def test_key_facts_of_the_protocol_pdf(built) -> None:
    (protocol,) = attach_key_facts((built["protocol_pdf"],))
    facts = {f.name: f for f in protocol.key_facts}
    expected = builders.PROTOCOL
    for name in ("protocol_number", "title", "sponsor", "phase", "product", "indication"):
        assert facts[name].value == expected[name], name
        assert facts[name].page == 1
    assert facts["sample_size"].value == "120"
    assert facts["sample_size"].page == 6  # the Sample Size section wins over the design text
    assert facts["arms"].value == expected["arms"]
    assert facts["primary_endpoint"].value == expected["primary_endpoint"]
    for fact in protocol.key_facts:
        assert fact.file_path == protocol.file_path
        assert_quote_is_verbatim_at_its_location(protocol, fact)


def test_key_facts_of_a_docx_come_from_its_table_rows(built) -> None:
    (protocol,) = attach_key_facts((built["protocol_docx"],))
    facts = {f.name: f for f in protocol.key_facts}
    assert facts["protocol_number"].value == builders.PROTOCOL["protocol_number"]
    assert facts["protocol_number"].block == 3  # first row of the facts table
    assert facts["sponsor"].block == 4
    assert facts["phase"].value == "Phase 2"
    assert facts["product"].value == builders.PROTOCOL["product"]
    assert facts["title"].block == 1
    for fact in protocol.key_facts:
        assert_quote_is_verbatim_at_its_location(protocol, fact)


def test_facts_that_are_not_stated_are_absent(built) -> None:
    (protocol,) = attach_key_facts((built["protocol_docx"],))
    names = {f.name for f in protocol.key_facts}
    assert "sample_size" not in names  # the built DOCX never states one
    assert "arms" not in names
    (letter,) = attach_key_facts((built["other_pdf"],))
    assert letter.key_facts == ()


def test_the_protocol_is_preferred_and_each_fact_is_attached_once(built) -> None:
    sources = attach_key_facts((built["sap_pdf"], built["protocol_pdf"], built["results_xlsx"]))
    _sap, protocol, results = sources
    facts = all_key_facts(sources)
    # The SAP states 130 patients and a PASI 90 endpoint; the protocol's 120 and PASI 75 win.
    assert facts["sample_size"].value == "120"
    assert facts["primary_endpoint"].value == builders.PROTOCOL["primary_endpoint"]
    assert facts["sample_size"].file_path == protocol.file_path
    names = [f.name for s in sources for f in s.key_facts]
    assert len(names) == len(set(names))
    assert set(names) <= set(FACT_NAMES)
    assert results.key_facts == ()


def test_the_sap_fills_in_when_there_is_no_protocol(built) -> None:
    (sap,) = attach_key_facts((built["sap_pdf"],))
    facts = {f.name: f for f in sap.key_facts}
    assert facts["protocol_number"].value == builders.SAP["protocol_number"]
    assert facts["sample_size"].value == builders.SAP["sample_size"]
    for fact in sap.key_facts:
        assert_quote_is_verbatim_at_its_location(sap, fact)


# --- corpus -------------------------------------------------------------------------------


@pytest.mark.corpus
@corpus
def test_corpus_protocol_and_sap_are_told_apart_and_facts_found() -> None:
    protocol = load(CORPUS / "protocol-lzzt.pdf")
    sap = load(CORPUS / "sap-cdiscpilot01.pdf")
    assert (protocol.kind, sap.kind) == ("protocol", "sap")
    sources = attach_key_facts((sap, protocol))
    facts = all_key_facts(sources)
    assert "H2Q-MC-LZZT" in facts["protocol_number"].value
    assert facts["protocol_number"].page == 1
    assert facts["sponsor"].value == "Eli Lilly and Company"
    assert facts["sample_size"].value == "300"
    assert "Alzheimer" in facts["indication"].value
    assert facts["title"].value.startswith("Safety and Efficacy of the Xanomeline")
    assert "ADAS-Cog" in facts["primary_endpoint"].value
    assert "phase" not in facts  # the protocol never states its phase
    for src in sources:
        for fact in src.key_facts:
            assert fact.file_path == protocol.file_path
            assert_quote_is_verbatim_at_its_location(src, fact)


@pytest.mark.corpus
@corpus
@pytest.mark.parametrize(
    ("name", "number", "phase"),
    [
        ("protocol-cdiscpilot-m11.docx", "H2Q-MC-LZZT", "Phase 3"),
        ("protocol-wa42380-m11.docx", "WA42380", "Phase III"),
    ],
)
def test_corpus_m11_docx_facts(name: str, number: str, phase: str) -> None:
    src = load(CORPUS / name)
    assert src.kind == "protocol"
    (src,) = attach_key_facts((src,))
    facts = {f.name: f for f in src.key_facts}
    assert facts["protocol_number"].value == number
    assert facts["phase"].value == phase
    assert {"title", "sponsor", "product", "indication", "sample_size"} <= set(facts)
    for fact in src.key_facts:
        assert_quote_is_verbatim_at_its_location(src, fact)
