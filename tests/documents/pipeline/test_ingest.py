"""Chunks, the job's BM25 index and the heading tree (documents.pipeline.ingest, .mapping)."""

from __future__ import annotations

from documents.pipeline import ingest, mapping
from tests.documents.pipeline.test_orchestrate import docx_source, protocol, results, sap


def test_every_block_lands_in_exactly_one_chunk_in_document_order() -> None:
    sources = (protocol(), sap())
    chunks = ingest.chunk_text(sources)
    seen = [(c.source_index, b.index) for c in chunks for b in c.blocks]
    expected = [(s, b.index) for s, src in enumerate(sources) for b in src.blocks]
    assert seen == expected
    assert [c.id for c in chunks] == list(range(len(chunks)))


def test_a_heading_opens_a_chunk_that_knows_its_heading_path() -> None:
    chunks = ingest.chunk_text((protocol(),))
    sample = next(c for c in chunks if c.blocks[0].text == "Sample Size")
    assert sample.blocks[0].kind == "heading"
    assert sample.heading_path[-2:] == ("3.4 Study Population", "3.4.3 Sample Size")
    assert "Approximately 120 patients" in sample.text
    assert sample.page == 2 and sample.source_kind == "protocol"


def test_long_sections_are_split_into_several_chunks() -> None:
    long_items = [("h", "1", "Background")] + [
        ("p", f"Sentence number {i} about the disease. " * 12) for i in range(8)
    ]
    chunks = ingest.chunk_text((docx_source("long.docx", "protocol", long_items),))
    assert len(chunks) > 2
    assert all(len(c.text.split()) < ingest.CHUNK_WORDS * 2 for c in chunks)


def test_search_ranks_relevant_chunks_and_respects_kinds_and_exclusions() -> None:
    sources = (protocol(), sap(), results())
    chunks = ingest.chunk_text(sources)
    index = ingest.build_index(chunks)
    hits = index.search("sample size power patients randomized", k=3)
    assert hits and "power" in hits[0][0].text
    only_results = index.search("patients randomized completed", kinds=["results"])
    assert only_results and all(c.source_kind == "results" for c, _ in only_results)
    best = hits[0][0].id
    assert all(c.id != best for c, _ in index.search("sample size power", exclude=[best]))
    assert index.search("zzzz unknown words") == []


def test_a_table_of_contents_is_not_retrievable() -> None:
    chunks = ingest.chunk_text((protocol(),))
    index = ingest.build_index(chunks)
    hits = index.search("Inclusion Criteria contents", k=20)
    assert all("........" not in c.text for c, _ in hits)


def test_the_heading_tree_knows_direct_content_subtrees_and_back_matter() -> None:
    src = docx_source(
        "p.docx",
        "protocol",
        [
            ("h", "3", "Study Population"),
            ("p", "Direct text."),
            ("h", "3.1", "Inclusion Criteria"),
            ("li", "1.", "Adults."),
            ("h", "4", "References"),
            ("p", "Smith J. 2001. A paper."),
            ("h", "5", "Attachment 1 Scales"),
            ("p", "Scale text."),
        ],
    )
    index = ingest.build_index(ingest.chunk_text((src,)))
    nodes = {n.title: n for n in index.nodes}
    population = nodes["Study Population"]
    assert [b.text for b in index.node_blocks(population, subtree=False)] == ["Direct text."]
    assert [b.text for b in index.node_blocks(population, subtree=True)] == [
        "Direct text.",
        "Inclusion Criteria",
        "Adults.",
    ]
    assert nodes["Inclusion Criteria"].parent == population.id
    assert nodes["References"].references
    assert not population.appendix and nodes["Scales"].appendix


def test_bare_headings_are_qualified_by_their_parent() -> None:
    src = docx_source(
        "sap.docx",
        "sap",
        [("h", "3", "Study Endpoints"), ("h", "3.1", "Primary"), ("p", "ADAS-Cog at Week 24.")],
    )
    index = ingest.build_index(ingest.chunk_text((src,)))
    primary = next(n for n in index.nodes if n.title == "Primary")
    assert primary.qualified == "Study Endpoints Primary"
    assert mapping.heading_similarity("Primary Endpoint", primary.qualified) >= 0.95


def test_heading_similarity_normalises_numbers_plurals_and_split_words() -> None:
    assert mapping.heading_similarity("Inclusion Criteria", "5.1 Inclusion criteria") == 1.0
    assert mapping.heading_similarity("Sample Size", "SAMPLE SIZE CONSIDERATIONS") >= 0.9
    assert (
        mapping.heading_similarity(
            "Description of Clinical Study", "Descripti on of Clinical Study"
        )
        == 1.0
    )
    assert mapping.heading_similarity("Removal of Patients", "Removal of Subjects") >= 0.95
    assert mapping.heading_similarity("Inclusion Criteria", "Exclusion Criteria") < 0.75
    assert mapping.heading_similarity("Blinding", "Safety Analyses") == 0.0
