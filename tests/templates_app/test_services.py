"""The template and style-guide services: outline rules, permissions, read-only built-ins."""

from __future__ import annotations

import pytest

from templates_app import services
from templates_app.models import Rule, StyleGuide, Template, TemplateSection
from tests.templates_app.conftest import outline_of

pytestmark = pytest.mark.django_db


# --- pure helpers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("9.4.1 Blinding", ("9.4.1", "Blinding")),
        ("1. Executive Summary", ("1", "Executive Summary")),
        ("2.1  Efficacy   Results", ("2.1", "Efficacy Results")),
        ("Appendix: References", ("", "Appendix: References")),
        ("3D Imaging", ("", "3D Imaging")),
    ],
)
def test_a_section_name_splits_into_number_and_title(name, expected):
    assert services.parse_section_name(name) == expected


@pytest.mark.parametrize("name", ["", "   ", "4.2", None])
def test_a_section_name_needs_a_title(name):
    with pytest.raises(services.TemplateValidationError, match="section_name"):
        services.parse_section_name(name)


def test_outline_numbers_follow_order_and_level():
    assert services.outline_numbers([1, 2, 2, 3, 1, 2, 1]) == [
        "1",
        "1.1",
        "1.2",
        "1.2.1",
        "2",
        "2.1",
        "3",
    ]
    assert services.outline_numbers([1, 1, 2], [True, False, False]) == ["", "1", "1.1"]


# --- create ---------------------------------------------------------------------------------------


def test_create_makes_an_organization_template_with_sections_and_rules(acme_template, acme):
    assert acme_template.organization == acme
    assert not acme_template.built_in and acme_template.key is None
    assert acme_template.tense == "past"  # a CSR reports a finished study
    assert outline_of(acme_template) == [
        ("1", "Introduction", 1),
        ("2", "Methods", 1),
        ("2.1", "Design", 2),
        ("2.1.1", "Blinding", 3),
        ("2.2", "Population", 2),
        ("3", "Results", 1),
    ]
    design = acme_template.sections.get(number="2.1")
    assert design.instructions == "Describe the design."
    rule = Rule.objects.get(section__template=acme_template)
    assert (rule.rule_type, rule.section.number) == ("extraction", "3")


def test_create_numbers_sections_that_have_none_and_sorts_by_order_index(acme_manager):
    template = services.template_create(
        user=acme_manager,
        template_name="Unnumbered",
        document_type="Protocol",
        sections=[
            {"title": "Second", "level": 1, "order_index": 5},
            {"title": "First", "level": 1, "order_index": 0},
            {"title": "First child", "level": 2, "order_index": 1},
        ],
    )
    assert outline_of(template) == [
        ("1", "First", 1),
        ("1.1", "First child", 2),
        ("2", "Second", 1),
    ]
    assert template.tense == "source"


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ([], "sections: must be a non-empty list"),
        ([{"section_name": "1.1 Deep", "level": 2}], "sections[0].level: the first section"),
        (
            [{"section_name": "1 A", "level": 1}, {"section_name": "1.1.1 C", "level": 3}],
            "sections[1].level: a level-3 section cannot follow a level-1",
        ),
        ([{"section_name": "1 A", "level": 12}], "sections[0].level: must be an integer"),
        ([{"level": 1}], "sections[0].section_name: this field is required"),
        (
            [{"section_name": "1 A", "rules": [{"rule_type": "magic"}]}],
            "sections[0].rules[0].rule_type",
        ),
    ],
)
def test_create_rejects_bad_outlines_naming_the_field(acme_manager, sections, message):
    with pytest.raises(services.TemplateValidationError) as caught:
        services.template_create(
            user=acme_manager, template_name="Bad", document_type="CSR", sections=sections
        )
    assert message in caught.value.message
    assert not Template.objects.filter(name="Bad").exists()


def test_a_member_cannot_create_templates(acme_member):
    with pytest.raises(services.TemplatePermissionDenied):
        services.template_create(
            user=acme_member,
            template_name="Nope",
            document_type="CSR",
            sections=[{"section_name": "1 A"}],
        )


# --- built-ins are read-only; duplicate makes an editable copy ------------------------------


def test_every_write_on_a_built_in_template_is_refused(acme_manager, e3):
    section = e3.sections.get(number="9.7.2")
    attempts = [
        lambda: services.template_update(user=acme_manager, template=e3, template_name="Mine"),
        lambda: services.template_delete(user=acme_manager, template=e3),
        lambda: services.template_section_add(user=acme_manager, template=e3, section_name="X"),
        lambda: services.template_section_rename(
            user=acme_manager, section=section, section_name="Y"
        ),
        lambda: services.template_section_delete(user=acme_manager, section=section),
        lambda: services.template_sections_reorder(
            user=acme_manager,
            template=e3,
            sections=[{"section_id": str(section.id), "order_index": 0, "level": 1}],
        ),
    ]
    for attempt in attempts:
        with pytest.raises(services.TemplateReadOnly, match="duplicate it to customise"):
            attempt()
    e3.refresh_from_db()
    assert e3.sections.count() == 119 and "ICH E3" in e3.name


def test_duplicate_copies_a_built_in_into_the_organization_with_new_ids(acme_manager, acme, e3):
    copy = services.template_duplicate(user=acme_manager, template=e3)
    assert copy.organization == acme and not copy.built_in and copy.key is None
    assert copy.name == "ICH E3 Clinical Study Report (copy)"
    assert outline_of(copy) == outline_of(e3)
    assert not set(copy.sections.values_list("id", flat=True)) & set(
        e3.sections.values_list("id", flat=True)
    )
    original = e3.sections.get(number="9.3.1")
    copied = copy.sections.get(number="9.3.1")
    assert copied.hints == original.hints and copied.instructions == original.instructions
    services.template_section_rename(user=acme_manager, section=copied, section_name="Entry")
    assert e3.sections.get(number="9.3.1").title == "Inclusion Criteria"


def test_duplicate_copies_rules(acme_manager, acme_template):
    copy = services.template_duplicate(
        user=acme_manager, template=acme_template, template_name="Second"
    )
    assert copy.name == "Second"
    assert Rule.objects.filter(section__template=copy).count() == 1


def test_a_manager_cannot_edit_another_organizations_template(globex_manager, acme_template):
    with pytest.raises(services.TemplatePermissionDenied):
        services.template_update(user=globex_manager, template=acme_template, template_name="X")


# --- sections: add, reorder, rename, delete -------------------------------------------------------


def test_add_inserts_at_order_index_and_keeps_the_typed_number(acme_manager, acme_template):
    section = services.template_section_add(
        user=acme_manager,
        template=acme_template,
        section_name="2.3 Treatments",
        level=2,
        order_index=5,
    )
    assert (section.number, section.title, section.order_index) == ("2.3", "Treatments", 5)
    assert [t for _, t, _ in outline_of(acme_template)][4:] == [
        "Population",
        "Treatments",
        "Results",
    ]
    indexes = list(acme_template.sections.values_list("order_index", flat=True))
    assert sorted(indexes) == list(range(7))


def test_add_without_a_number_gets_the_number_of_its_position(acme_manager, acme_template):
    section = services.template_section_add(
        user=acme_manager, template=acme_template, section_name="Discussion"
    )
    assert (section.number, section.order_index, section.level) == ("4", 6, 1)


def test_add_refuses_a_level_that_does_not_nest(acme_manager, acme_template):
    with pytest.raises(services.TemplateValidationError, match="level: a level-3 section"):
        services.template_section_add(
            user=acme_manager,
            template=acme_template,
            section_name="Deep",
            level=3,
            order_index=1,
        )
    with pytest.raises(services.TemplateValidationError, match="without a parent"):
        # A level-1 section between 2.1 and 2.1.1 would orphan 2.1.1.
        services.template_section_add(
            user=acme_manager, template=acme_template, section_name="X", level=1, order_index=3
        )


def test_reorder_moves_sections_and_renumbers_every_one(acme_manager, acme_template):
    ids = {t: s for s, t in acme_template.sections.values_list("id", "title")}
    ordered = services.template_sections_reorder(
        user=acme_manager,
        template=acme_template,
        sections=[
            {"section_id": str(ids["Results"]), "order_index": 0, "level": 1},
            {"section_id": str(ids["Introduction"]), "order_index": 1, "level": 2},
            {"section_id": str(ids["Methods"]), "order_index": 2, "level": 1},
            {"section_id": str(ids["Design"]), "order_index": 3, "level": 2},
            {"section_id": str(ids["Blinding"]), "order_index": 4, "level": 2},
            {"section_id": str(ids["Population"]), "order_index": 5, "level": 2},
        ],
    )
    expected = [
        ("1", "Results", 1),
        ("1.1", "Introduction", 2),
        ("2", "Methods", 1),
        ("2.1", "Design", 2),
        ("2.2", "Blinding", 2),
        ("2.3", "Population", 2),
    ]
    assert [(s.number, s.title, s.level) for s in ordered] == expected
    assert outline_of(acme_template) == expected
    assert {t: s for s, t in acme_template.sections.values_list("id", "title")} == ids


def test_reorder_with_a_partial_list_keeps_the_others_in_place(acme_manager, acme_template):
    results = acme_template.sections.get(title="Results")
    services.template_sections_reorder(
        user=acme_manager,
        template=acme_template,
        sections=[{"section_id": str(results.id), "order_index": 1, "level": 1}],
    )
    assert outline_of(acme_template) == [
        ("1", "Introduction", 1),
        ("2", "Results", 1),
        ("3", "Methods", 1),
        ("3.1", "Design", 2),
        ("3.1.1", "Blinding", 3),
        ("3.2", "Population", 2),
    ]


def test_reorder_rejects_unknown_ids_and_levels_that_do_not_nest(
    acme_manager, acme_template, globex_template
):
    foreign = globex_template.sections.first()
    with pytest.raises(services.TemplateValidationError, match=r"sections\[0\].section_id"):
        services.template_sections_reorder(
            user=acme_manager,
            template=acme_template,
            sections=[{"section_id": str(foreign.id), "order_index": 0, "level": 1}],
        )
    intro = acme_template.sections.get(title="Introduction")
    with pytest.raises(services.TemplateValidationError, match="first section must be level 1"):
        services.template_sections_reorder(
            user=acme_manager,
            template=acme_template,
            sections=[{"section_id": str(intro.id), "order_index": 0, "level": 2}],
        )
    assert outline_of(acme_template)[0] == ("1", "Introduction", 1)


def test_reorder_leaves_unnumbered_front_matter_unnumbered(acme_manager, m11):
    copy = services.template_duplicate(user=acme_manager, template=m11)
    last = copy.sections.order_by("-order_index").first()
    services.template_sections_reorder(
        user=acme_manager,
        template=copy,
        sections=[{"section_id": str(last.id), "order_index": 3, "level": 1}],
    )
    numbers = list(copy.sections.order_by("order_index").values_list("number", "title")[:5])
    assert numbers == [
        ("", "Title Page"),
        ("", "Amendment Details"),
        ("", "Table of Contents"),
        ("1", "Appendix: References"),
        ("2", "Protocol Summary"),
    ]


def test_rename_sets_number_and_title(acme_manager, acme_template):
    section = acme_template.sections.get(title="Design")
    services.template_section_rename(
        user=acme_manager, section=section, section_name="2.1 Efficacy Results"
    )
    section.refresh_from_db()
    assert (section.number, section.title) == ("2.1", "Efficacy Results")
    services.template_section_rename(user=acme_manager, section=section, section_name="Design")
    section.refresh_from_db()
    assert (section.number, section.title) == ("2.1", "Design")


def test_delete_cascades_to_the_children(acme_manager, acme_template):
    methods = acme_template.sections.get(title="Methods")
    assert services.template_section_delete(user=acme_manager, section=methods) == 4
    assert outline_of(acme_template) == [("1", "Introduction", 1), ("3", "Results", 1)]
    assert list(acme_template.sections.values_list("order_index", flat=True)) == [0, 1]
    assert not Rule.objects.filter(section__template=acme_template, section__title="Methods")


def test_delete_without_cascade_keeps_the_children(acme_manager, acme_template):
    design = acme_template.sections.get(title="Design")
    assert (
        services.template_section_delete(user=acme_manager, section=design, cascade_children=False)
        == 1
    )
    assert [t for _, t, _ in outline_of(acme_template)] == [
        "Introduction",
        "Methods",
        "Blinding",
        "Population",
        "Results",
    ]


def test_deleting_a_section_deletes_its_rules(acme_manager, acme_template):
    results = acme_template.sections.get(title="Results")
    services.template_section_delete(user=acme_manager, section=results)
    assert not Rule.objects.filter(section__template=acme_template).exists()
    assert not TemplateSection.objects.filter(pk=results.pk).exists()


# --- style guides ---------------------------------------------------------------------------------


def test_style_guides_are_created_in_the_managers_organization(acme_manager, acme):
    guide = services.style_guide_create(
        user=acme_manager,
        name="House style",
        preferred_terms={"adverse event": ["side effect", "adverse experience"], "AE": "AE"},
        abbreviations={"AE": "adverse event"},
        banned_phrases=["clearly", " "],
    )
    assert guide.organization == acme and guide.tense == "past"
    assert guide.preferred_terms["AE"] == ["AE"]
    assert guide.banned_phrases == ["clearly"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ""}, "name: this field is required"),
        ({"name": "X", "tense": "future"}, "tense: must be one of past, source"),
        ({"name": "X", "preferred_terms": ["a"]}, "preferred_terms: must be an object"),
        ({"name": "X", "abbreviations": {"AE": ""}}, "abbreviations.AE"),
        ({"name": "X", "banned_phrases": "clearly"}, "banned_phrases: must be a list"),
    ],
)
def test_style_guide_input_is_checked(acme_manager, fields, message):
    with pytest.raises(services.TemplateValidationError, match=message):
        services.style_guide_create(user=acme_manager, **fields)


def test_only_managers_of_the_organization_change_style_guides(
    acme_manager, acme_member, globex_manager
):
    guide = services.style_guide_create(user=acme_manager, name="House")
    with pytest.raises(services.TemplatePermissionDenied):
        services.style_guide_update(user=acme_member, style_guide=guide, name="Mine")
    with pytest.raises(services.TemplatePermissionDenied):
        services.style_guide_delete(user=globex_manager, style_guide=guide)
    services.style_guide_update(user=acme_manager, style_guide=guide, tense="source")
    services.style_guide_delete(user=acme_manager, style_guide=guide)
    assert not StyleGuide.objects.exists()


def test_json_export_and_import_round_trip(acme_manager, acme_template):
    from templates_app.selectors import template_export_data

    data = template_export_data(acme_template)
    copy = services.template_import_json(user=acme_manager, data=data)
    assert copy.pk != acme_template.pk
    assert outline_of(copy) == outline_of(acme_template)
    assert Rule.objects.filter(section__template=copy).count() == 1


def test_every_template_and_style_guide_change_is_audited(acme_manager, acme, acme_template):
    from portal.models import AuditEvent

    services.template_update(user=acme_manager, template=acme_template, template_name="Renamed")
    guide = services.style_guide_create(user=acme_manager, name="House style")
    guide_id = str(guide.pk)
    services.style_guide_delete(user=acme_manager, style_guide=guide)
    with pytest.raises(services.TemplateValidationError):
        services.template_update(user=acme_manager, template=acme_template, template_name="")
    events = list(
        AuditEvent.objects.filter(organization=acme)
        .order_by("id")
        .values_list("action", "object_type", "object_id", "details")
    )
    assert events[-3:] == [
        ("update", "template", str(acme_template.pk), {"name": "Renamed"}),
        ("create", "style_guide", guide_id, {"name": "House style"}),
        ("delete", "style_guide", guide_id, {"name": "House style"}),
    ]  # the refused update recorded nothing
    assert all(e.actor_id == acme_manager.pk for e in AuditEvent.objects.filter(organization=acme))
