"""Sources that name different studies get a warning in the QC report (issue 13)."""

from __future__ import annotations

from documents.pipeline import facts, qc
from tests.documents.pipeline.test_orchestrate import docx_source


def _source(name: str, number: str, kind: str = "protocol"):
    return docx_source(
        name,
        kind,
        [
            ("p", f"Protocol Number: {number}"),
            ("h", "1", "Introduction"),
            ("p", "Patients were randomized to drug or placebo."),
        ],
    )


def test_each_file_s_protocol_number_is_read_on_its_own() -> None:
    named = facts.protocol_numbers([_source("p.docx", "ZX-1001"), _source("s.docx", "AB-2002")])
    assert named == [("p.docx", "ZX-1001"), ("s.docx", "AB-2002")]


def test_numbers_that_disagree_are_a_warning_first_in_the_qc_report() -> None:
    sources = [_source("protocol.docx", "ZX-1001"), _source("sap.docx", "AB-2002", "sap")]
    report = qc.quality_report([], sources)
    assert len(report["study_mismatch"]) == 1
    message = report["study_mismatch"][0]
    assert "ZX-1001 in protocol.docx" in message and "AB-2002 in sap.docx" in message
    assert report["warnings"][0] == message


def test_the_same_study_written_two_ways_is_no_mismatch() -> None:
    same = [_source("a.docx", "H2Q-MC-LZZT"), _source("b.docx", "H2Q-MC-LZZT", "sap")]
    assert qc.quality_report([], same)["study_mismatch"] == []
    assert facts.study_mismatch([("a", "H2Q-MC-LZZT"), ("b", "LZZT-2")]) != []
    assert facts.study_mismatch([("a", "H2Q-MC-LZZT"), ("b", "h2q mc lzzt")]) == []
    assert facts.study_mismatch([("a", "ZX-1001")]) == []
