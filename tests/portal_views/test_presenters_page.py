"""The document page's presenters: citations placed at the sentence (or table row) they
support, the navigator's states, the status texts."""

from __future__ import annotations

import pytest

from documents.models import GeneratedDocument
from documents.presenters_page import (
    place_citations,
    section_states,
    sentence_segments,
    status_texts,
)
from documents.source_view import marked


def cite(n: int, quote: str) -> dict:
    return {"n": n, "quote": quote, "file_name": "p.pdf", "page": n, "place": f"page {n}"}


def test_each_marker_follows_the_sentence_its_quote_supports():
    text = (
        "The study randomised 120 participants. The primary endpoint was systolic blood "
        "pressure at week 12. Safety was assessed at every visit."
    )
    segments = sentence_segments(
        text,
        [
            cite(1, "Systolic blood pressure at week 12 is the primary endpoint"),
            cite(2, "A total of 120 participants will be randomised"),
        ],
    )
    assert [s["text"] for s in segments] == [
        "The study randomised 120 participants. ",
        "The primary endpoint was systolic blood pressure at week 12. ",
        "Safety was assessed at every visit.",
    ]
    assert [[c["n"] for c in s["citations"]] for s in segments] == [[2], [1], []]
    assert "".join(s["text"] for s in segments) == text


def test_a_citation_matching_no_sentence_ends_the_paragraph():
    segments = sentence_segments("One sentence. Another one.", [cite(1, "zzz qqq")])
    assert segments[-1]["citations"][0]["n"] == 1 and not segments[0]["citations"]


def test_table_rows_carry_their_own_citations():
    preview = {
        "sections": [
            {
                "state": "generated",
                "blocks": [
                    {
                        "kind": "table",
                        "body": [["Placebo", "60"], ["FOL-101", "61"]],
                        "citations": [cite(1, "FOL-101 61"), cite(2, "Disposition of patients")],
                    }
                ],
            }
        ]
    }
    table = place_citations(preview)["sections"][0]["blocks"][0]
    assert [[c["n"] for c in r["citations"]] for r in table["body_rows"]] == [[], [1]]
    assert [c["n"] for c in table["table_citations"]] == [2]


def test_the_navigator_names_each_state_and_review_mark():
    preview = {
        "sections": [
            {"id": "a", "number": "1", "title": "T", "level": 1, "state": "generated"},
            {"id": "b", "number": "2", "title": "U", "level": 1, "state": "no_source"},
            {"id": "c", "number": "3", "title": "V", "level": 2, "state": "not_applicable"},
            {"id": "d", "number": "4", "title": "W", "level": 1, "state": "generated", "edited": 1},
        ]
    }
    entries = section_states(preview)
    assert [e["label"] for e in entries] == [
        "generated",
        "no source",
        "not applicable",
        "generated",
    ]
    assert entries[3]["marks"] == ["edited"]


@pytest.mark.parametrize(
    ("status", "step", "progress", "valuetext", "announce"),
    [
        ("Pending", None, 0, "Waiting to start, 0 %", "Waiting to start."),
        ("Generating", "Orchestrate", 90, "Orchestrate, 90 %", "Step: Orchestrate."),
        (
            "Complete",
            "Generate",
            100,
            "Complete, 100 %",
            "Complete: the draft is ready to download.",
        ),
        ("Failed", "Extract", 5, "Failed at Extract, 5 %", "Failed: the draft could not be made."),
    ],
)
def test_status_texts(status, step, progress, valuetext, announce):
    document = GeneratedDocument(
        output_name="CSR", version=3, status=status, step=step, progress=progress
    )
    texts = status_texts(document)
    assert texts["progress_text"] == valuetext
    assert texts["announce"] == announce
    assert texts["page_title"] == f"CSR · version 3 · {status}"


def test_the_quote_is_marked_in_its_page_text():
    parts = marked("Intro.  A total of 120\nparticipants were randomised. End.", "120 participants")
    assert [p["text"] for p in parts if p["mark"]] == ["120 participants"]
    assert marked("abc", "zzz")[0] == {"text": "abc", "mark": False}


def test_a_section_without_a_source_is_one_line_saying_what_to_do():
    note = {"kind": "para", "style": "note", "text": "Add a results source.", "citations": []}
    preview = {
        "sections": [
            {"state": "no_source", "blocks": [note]},
            {"state": "no_source", "blocks": []},
        ]
    }
    placed = place_citations(preview)["sections"]
    assert placed[0]["todo"] == "Add a results source."
    assert placed[1]["todo"].startswith("Nothing in the sources supports it")
