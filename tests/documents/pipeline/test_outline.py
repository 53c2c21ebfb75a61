"""build_outline: snapshot dicts → OutlineSection, with selected and regenerated sections."""

from documents.pipeline.outline import build_outline

SECTIONS = [
    {"section_id": "a", "number": "1", "title": "One", "level": 1, "rules": [{"x": 1}]},
    {"section_id": "b", "number": "1.1", "title": "One.One", "level": 2, "hints": {"k": 1}},
    {"section_id": "c", "number": "2", "title": "Two", "level": 1},
]


def test_every_section_is_selected_by_default_in_order():
    outline = build_outline(SECTIONS)
    assert [(s.section_id, s.number, s.level, s.selected) for s in outline] == [
        ("a", "1", 1, True),
        ("b", "1.1", 2, True),
        ("c", "2", 1, True),
    ]
    assert outline[0].rules == ({"x": 1},) and outline[1].hints == {"k": 1}
    assert [s.order_index for s in outline] == [0, 1, 2]


def test_only_selected_sections_are_written():
    assert [s.selected for s in build_outline(SECTIONS, selected=["b"])] == [False, True, False]


def test_a_regeneration_writes_only_its_sections_whatever_was_selected():
    outline = build_outline(SECTIONS, selected=["a", "b"], regenerate=["c"])
    assert [s.selected for s in outline] == [False, False, True]
