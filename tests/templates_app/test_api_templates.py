"""The templates API (docs/api.md): every route, its errors, organization scoping and roles."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from templates_app.models import Template
from tests.templates_app.conftest import SMALL_OUTLINE, outline_of

pytestmark = pytest.mark.django_db

BASE = "/api/v1/templates/"
SECTION_FIELDS = {
    "section_id",
    "order_index",
    "level",
    "number",
    "title",
    "section_name",
    "synopsis",
    "template_instructions",
    "template_text",
    "rules",
}


def url(template_id: object, *rest: object) -> str:
    return "/".join([f"{BASE}{template_id}", *(str(part) for part in rest)])


# --- authentication -------------------------------------------------------------------------------


def test_without_a_token_it_is_a_401():
    response = APIClient().get(BASE)
    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


def test_a_token_from_the_login_route_works(acme_member):
    cache.clear()  # the login throttle counts in the cache
    client = APIClient()
    tokens = client.post(
        "/api/v1/auth/token",
        {"username": "tpl-member", "password": "pw-tpl-member"},
        format="json",
    ).json()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert client.get(BASE).status_code == 200


# --- list and detail ------------------------------------------------------------------------------


def test_list_shows_built_ins_first_then_the_organizations_own(
    client_for, acme_member, acme_template, globex_template
):
    response = client_for(acme_member).get(BASE)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    keys = [t["key"] for t in body["templates"]]
    assert keys[:2] == ["ich-e3-csr", "ich-m11-protocol"] and keys[2] is None
    names = [t["template_name"] for t in body["templates"]]
    assert "Acme CSR shell" in names and "Globex secret outline" not in names
    item = body["templates"][0]
    assert {"template_id", "key", "template_name", "document_type", "built_in", "sections"} <= set(
        item
    )
    assert item["built_in"] is True and item["document_type"] == "CSR"
    assert item["sections"][0] == {
        "section_id": item["sections"][0]["section_id"],
        "section_name": "1 Title Page",
        "number": "1",
        "title": "Title Page",
        "order_index": 0,
        "level": 1,
    }


def test_list_pages_with_limit_and_offset(client_for, acme_member, acme_template):
    body = client_for(acme_member).get(BASE, {"limit": 1, "offset": 2}).json()
    assert body["count"] == 3
    assert [t["template_name"] for t in body["templates"]] == ["Acme CSR shell"]
    response = client_for(acme_member).get(BASE, {"limit": "many"})
    assert response.status_code == 400 and "limit" in response.json()["detail"]


def test_detail_by_built_in_key_has_ordered_sections_with_every_field(client_for, acme_member):
    response = client_for(acme_member).get(url("ich-e3-csr"))
    assert response.status_code == 200
    body = response.json()
    assert body["key"] == "ich-e3-csr" and "ICH E3" in body["template_name"]
    sections = body["sections"]
    assert len(sections) == 119
    assert [s["order_index"] for s in sections] == list(range(119))
    assert set(sections[0]) >= SECTION_FIELDS
    sample = next(s for s in sections if s["number"] == "9.7.2")
    assert sample["section_name"] == "9.7.2 Determination of Sample Size"
    assert sample["level"] == 3 and sample["template_instructions"]
    assert body["created_at"].endswith("Z")


def test_detail_by_uuid(client_for, acme_member, acme_template):
    body = client_for(acme_member).get(url(acme_template.id)).json()
    assert body["template_id"] == str(acme_template.id) and body["key"] is None
    results = body["sections"][-1]
    assert results["rules"][0]["rule_type"] == "extraction"
    assert results["rules"][0]["description"] == "Take the numbers from TFLs."


def test_another_organizations_template_is_a_404_like_a_random_id(
    client_for, acme_member, globex_template
):
    client = client_for(acme_member)
    foreign = client.get(url(globex_template.id))
    random = client.get(url(uuid.uuid4()))
    garbage = client.get(url("not-a-key"))
    assert foreign.status_code == random.status_code == garbage.status_code == 404
    assert foreign.json() == random.json() == garbage.json() == {"detail": "Template not found."}


# --- create ---------------------------------------------------------------------------------------


def test_a_manager_creates_a_template(client_for, acme_manager, acme):
    response = client_for(acme_manager).post(
        BASE,
        {"template_name": "API shell", "document_type": "CSR", "sections": SMALL_OUTLINE},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["template_name"] == "API shell" and body["built_in"] is False
    assert body["organization_id"] == str(acme.id)
    assert body["section_count"] == 6 and body["rule_count"] == 1
    assert [s["section_name"] for s in body["sections"]][:3] == [
        "1 Introduction",
        "2 Methods",
        "2.1 Design",
    ]
    assert Template.objects.get(pk=body["template_id"]).organization == acme


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"document_type": "CSR", "sections": SMALL_OUTLINE}, "template_name"),
        ({"template_name": "X", "sections": SMALL_OUTLINE}, "document_type"),
        ({"template_name": "X", "document_type": "CSR", "sections": []}, "sections"),
        (
            {"template_name": "X", "document_type": "CSR", "sections": [{"level": 1}]},
            "sections[0].section_name",
        ),
        (
            {
                "template_name": "X",
                "document_type": "CSR",
                "sections": [{"section_name": "1 A", "level": 0}],
            },
            "sections[0].level",
        ),
        (
            {
                "template_name": "X",
                "document_type": "CSR",
                "sections": [{"section_name": "1.1 A", "level": 2}],
            },
            "sections[0].level",
        ),
    ],
)
def test_create_with_invalid_input_is_a_400_naming_the_field(
    client_for, acme_manager, payload, field
):
    response = client_for(acme_manager).post(BASE, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["detail"]


def test_a_member_cannot_create_a_template(client_for, acme_member):
    response = client_for(acme_member).post(
        BASE,
        {"template_name": "X", "document_type": "CSR", "sections": SMALL_OUTLINE},
        format="json",
    )
    assert response.status_code == 403
    assert "manager" in response.json()["detail"]


# --- import ---------------------------------------------------------------------------------------


def test_import_a_word_template(client_for, acme_manager, acme, template_docx):
    response = client_for(acme_manager).post(
        f"{BASE}import",
        {
            "file": SimpleUploadedFile("shell.docx", template_docx),
            "template_name": "Imported shell",
            "document_type": "CSR",
        },
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["template_name"] == "Imported shell" and body["document_type"] == "CSR"
    assert [s["section_name"] for s in body["sections"]] == [
        "1 Introduction",
        "1.1 Study Objectives",
        "2 Methods",
        "2.1 Statistical Methods",
        "2.1.1 Sample Size",
        "3 Results",
    ]
    assert body["sections"][0]["template_instructions"] == (
        "Describe the background of the study.\nGive the rationale for the dose."
    )
    assert body["source_document_name"].startswith("shell")
    assert Template.objects.get(pk=body["template_id"]).base_document.startswith(f"{acme.id}/")


def test_import_errors(client_for, acme_manager, acme_member, template_docx):
    manager = client_for(acme_manager)
    missing = manager.post(f"{BASE}import", {"template_name": "X"}, format="multipart")
    assert missing.status_code == 400 and missing.json()["detail"].startswith("file:")
    bad = manager.post(
        f"{BASE}import", {"file": SimpleUploadedFile("x.docx", b"nope")}, format="multipart"
    )
    assert bad.status_code == 400 and "x.docx" in bad.json()["detail"]
    wrong_type = manager.post(
        f"{BASE}import", {"file": SimpleUploadedFile("x.pdf", b"%PDF")}, format="multipart"
    )
    assert wrong_type.status_code == 400 and "not a Word .docx" in wrong_type.json()["detail"]
    member = client_for(acme_member).post(
        f"{BASE}import",
        {"file": SimpleUploadedFile("shell.docx", template_docx)},
        format="multipart",
    )
    assert member.status_code == 403


def test_import_preview_answers_the_outline_and_saves_nothing(
    client_for, acme_manager, acme, template_docx
):
    from django.core.files.storage import default_storage

    def stored() -> list[str]:
        root = str(acme.id)
        if not default_storage.exists(root):
            return []
        files: list[str] = []
        stack = [root]
        while stack:
            folder = stack.pop()
            dirs, names = default_storage.listdir(folder)
            files += [f"{folder}/{n}" for n in names]
            stack += [f"{folder}/{d}" for d in dirs]
        return sorted(files)

    before = (Template.objects.count(), stored())
    manager = client_for(acme_manager)
    response = manager.post(
        f"{BASE}import",
        {"file": SimpleUploadedFile("shell.docx", template_docx), "preview": "true"},
        format="multipart",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["preview"] is True and body["count"] == body["kept"] == 6
    rows = [(r["index"], r["level"], r["number"], r["title"]) for r in body["sections"]]
    assert rows == [
        (0, 1, "1", "Introduction"),
        (1, 2, "1.1", "Study Objectives"),
        (2, 1, "2", "Methods"),
        (3, 2, "2.1", "Statistical Methods"),
        (4, 3, "2.1.1", "Sample Size"),
        (5, 1, "3", "Results"),
    ]
    assert body["sections"][0]["instructions"].startswith("Describe the background")
    assert (Template.objects.count(), stored()) == before  # nothing saved, no file kept
    # With keep, the preview says what stays: dropping "2 Methods" drops 2.1 and 2.1.1 along.
    pruned = manager.post(
        f"{BASE}import",
        {
            "file": SimpleUploadedFile("shell.docx", template_docx),
            "preview": "true",
            "keep": "0,1,3,4,5",
        },
        format="multipart",
    ).json()
    assert [r["index"] for r in pruned["sections"] if r["kept"]] == [0, 1, 5]
    assert pruned["kept"] == 3 and (Template.objects.count(), stored()) == before


def test_import_keeps_only_the_headings_named_in_keep(client_for, acme_manager, template_docx):
    manager = client_for(acme_manager)
    response = manager.post(
        f"{BASE}import",
        {"file": SimpleUploadedFile("shell.docx", template_docx), "keep": ["0", "2", "3", "5"]},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    assert [s["section_name"] for s in response.json()["sections"]] == [
        "1 Introduction",
        "2 Methods",
        "2.1 Statistical Methods",
        "3 Results",
    ]
    for keep, words in (("0,99", "99"), ("x", "outline indexes"), ("-1", "outline indexes")):
        bad = manager.post(
            f"{BASE}import",
            {"file": SimpleUploadedFile("shell.docx", template_docx), "keep": keep},
            format="multipart",
        )
        assert bad.status_code == 400, keep
        assert bad.json()["detail"].startswith("keep:") and words in bad.json()["detail"]
        assert bad.json()["code"]
    # "1.1" alone: its parent "1" is left out, so nothing is left.
    empty = manager.post(
        f"{BASE}import",
        {"file": SimpleUploadedFile("shell.docx", template_docx), "keep": "1"},
        format="multipart",
    )
    assert empty.status_code == 400 and empty.json()["code"] == "no_sections"
    count = Template.objects.count()
    unreadable = client_for(acme_manager).post(
        f"{BASE}import",
        {"file": SimpleUploadedFile("shell.docx", b"nope"), "preview": "true"},
        format="multipart",
    )
    assert unreadable.status_code == 400 and Template.objects.count() == count


def test_import_preview_is_for_managers_only(client_for, acme_member, template_docx):
    response = client_for(acme_member).post(
        f"{BASE}import",
        {"file": SimpleUploadedFile("shell.docx", template_docx), "preview": "true"},
        format="multipart",
    )
    assert response.status_code == 403


# --- duplicate, update, delete --------------------------------------------------------------------


def test_duplicate_a_built_in_by_key(client_for, acme_manager, acme, e3):
    response = client_for(acme_manager).post(url("ich-e3-csr", "duplicate"), format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["built_in"] is False and body["key"] is None
    assert body["organization_id"] == str(acme.id) and body["source_template_id"] == str(e3.id)
    assert len(body["sections"]) == 119
    assert {s["section_id"] for s in body["sections"]}.isdisjoint(
        str(pk) for pk in e3.sections.values_list("id", flat=True)
    )


def test_duplicate_errors(client_for, acme_manager, acme_member, globex_template):
    assert client_for(acme_member).post(url("ich-e3-csr", "duplicate")).status_code == 403
    assert client_for(acme_manager).post(url(globex_template.id, "duplicate")).status_code == 404


def test_update_and_delete_an_own_template(client_for, acme_manager, acme_template):
    client = client_for(acme_manager)
    response = client.patch(url(acme_template.id), {"template_name": "Renamed"}, format="json")
    assert response.status_code == 200 and response.json()["template_name"] == "Renamed"
    assert client.delete(url(acme_template.id)).status_code == 204
    assert not Template.objects.filter(pk=acme_template.pk).exists()


def test_a_built_in_cannot_be_changed_or_deleted(client_for, acme_manager, e3):
    client = client_for(acme_manager)
    response = client.patch(url("ich-e3-csr"), {"template_name": "Mine"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "read_only"
    assert "duplicate it to customise" in response.json()["detail"]
    assert client.delete(url(e3.id)).status_code == 403
    assert Template.objects.filter(pk=e3.pk).exists()


# --- sections -------------------------------------------------------------------------------------


def test_add_a_section(client_for, acme_manager, acme_template):
    response = client_for(acme_manager).post(
        url(acme_template.id, "sections"),
        {"section_name": "2.3 Treatments", "level": 2, "order_index": 5},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["section_name"] == "2.3 Treatments"
    assert (body["level"], body["order_index"]) == (2, 5)
    assert body["template_id"] == str(acme_template.id) and body["message"]
    uuid.UUID(body["section_id"])
    assert acme_template.sections.count() == 7


def test_add_section_errors(client_for, acme_manager, acme_member, acme_template, globex_template):
    manager = client_for(acme_manager)
    missing = manager.post(url(acme_template.id, "sections"), {"level": 1}, format="json")
    assert missing.status_code == 400 and "section_name" in missing.json()["detail"]
    bad_level = manager.post(
        url(acme_template.id, "sections"),
        {"section_name": "Deep", "level": 3, "order_index": 1},
        format="json",
    )
    assert bad_level.status_code == 400 and bad_level.json()["detail"].startswith("level:")
    built_in = manager.post(url("ich-e3-csr", "sections"), {"section_name": "X"}, format="json")
    assert built_in.status_code == 403 and "read-only" in built_in.json()["detail"]
    foreign = manager.post(
        url(globex_template.id, "sections"), {"section_name": "X"}, format="json"
    )
    assert foreign.status_code == 404
    member = client_for(acme_member).post(
        url(acme_template.id, "sections"), {"section_name": "X"}, format="json"
    )
    assert member.status_code == 403


def test_reorder_renumbers_every_section(client_for, acme_manager, acme_template):
    ids = {s.title: str(s.id) for s in acme_template.sections.all()}
    order = ["Results", "Introduction", "Methods", "Design", "Blinding", "Population"]
    levels = [1, 1, 1, 2, 3, 2]
    response = client_for(acme_manager).put(
        url(acme_template.id, "sections", "reorder"),
        {
            "sections": [
                {"section_id": ids[title], "order_index": i, "level": level}
                for i, (title, level) in enumerate(zip(order, levels, strict=True))
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert [s["section_name"] for s in body["sections"]] == [
        "1 Results",
        "2 Introduction",
        "3 Methods",
        "3.1 Design",
        "3.1.1 Blinding",
        "3.2 Population",
    ]
    assert [s["section_id"] for s in body["sections"]] == [ids[t] for t in order]
    assert outline_of(acme_template)[0] == ("1", "Results", 1)


def test_reorder_errors(client_for, acme_manager, acme_template, globex_template):
    client = client_for(acme_manager)
    empty = client.put(url(acme_template.id, "sections", "reorder"), {}, format="json")
    assert empty.status_code == 400 and "sections" in empty.json()["detail"]
    foreign_section = str(globex_template.sections.first().id)
    unknown = client.put(
        url(acme_template.id, "sections", "reorder"),
        {"sections": [{"section_id": foreign_section, "order_index": 0, "level": 1}]},
        format="json",
    )
    assert unknown.status_code == 400
    assert "sections[0].section_id" in unknown.json()["detail"]
    built_in = client.put(
        url("ich-e3-csr", "sections", "reorder"),
        {"sections": [{"section_id": foreign_section, "order_index": 0}]},
        format="json",
    )
    assert built_in.status_code == 403
    foreign = client.put(
        url(globex_template.id, "sections", "reorder"),
        {"sections": [{"section_id": foreign_section, "order_index": 0}]},
        format="json",
    )
    assert foreign.status_code == 404


def test_rename_a_section(client_for, acme_manager, acme_template):
    section = acme_template.sections.get(title="Design")
    response = client_for(acme_manager).put(
        url(acme_template.id, "sections", section.id, "rename"),
        {"section_name": "2.1 Efficacy Results"},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["section_id"], body["number"], body["title"]) == (
        str(section.id),
        "2.1",
        "Efficacy Results",
    )
    assert body["section_name"] == "2.1 Efficacy Results"


def test_rename_errors(client_for, acme_manager, acme_template, globex_template, e3):
    client = client_for(acme_manager)
    section = acme_template.sections.first()
    blank = client.put(
        url(acme_template.id, "sections", section.id, "rename"), {"section_name": ""}, format="json"
    )
    assert blank.status_code == 400 and "section_name" in blank.json()["detail"]
    other_template_section = globex_template.sections.first()
    wrong = client.put(
        url(acme_template.id, "sections", other_template_section.id, "rename"),
        {"section_name": "X"},
        format="json",
    )
    assert wrong.status_code == 404 and wrong.json() == {"detail": "Section not found."}
    built_in = client.put(
        url(e3.id, "sections", e3.sections.first().id, "rename"),
        {"section_name": "1 Cover"},
        format="json",
    )
    assert built_in.status_code == 403


def test_delete_a_section_with_and_without_its_children(client_for, acme_manager, acme_template):
    client = client_for(acme_manager)
    design = acme_template.sections.get(title="Design")
    response = client.delete(
        url(acme_template.id, "sections", design.id) + "?cascade_children=false"
    )
    assert response.status_code == 200
    assert response.json()["deleted_count"] == 1
    assert response.json()["deleted_section_id"] == str(design.id)
    methods = acme_template.sections.get(title="Methods")
    response = client.delete(
        url(acme_template.id, "sections", methods.id) + "?cascade_children=true"
    )
    assert response.json()["deleted_count"] == 3  # Methods, Blinding, Population
    assert [t for _, t, _ in outline_of(acme_template)] == ["Introduction", "Results"]


def test_delete_section_errors(client_for, acme_manager, acme_member, acme_template, e3):
    section = acme_template.sections.first()
    client = client_for(acme_manager)
    bad_flag = client.delete(
        url(acme_template.id, "sections", section.id) + "?cascade_children=maybe"
    )
    assert bad_flag.status_code == 400 and "cascade_children" in bad_flag.json()["detail"]
    assert client.delete(url(acme_template.id, "sections", uuid.uuid4())).status_code == 404
    assert client.delete(url(e3.id, "sections", e3.sections.first().id)).status_code == 403
    member = client_for(acme_member).delete(url(acme_template.id, "sections", section.id))
    assert member.status_code == 403
    assert acme_template.sections.count() == 6


def test_read_and_update_one_section(client_for, acme_manager, acme_member, acme_template):
    section = acme_template.sections.get(title="Design")
    body = client_for(acme_member).get(url(acme_template.id, "sections", section.id)).json()
    assert body["template_instructions"] == "Describe the design."
    response = client_for(acme_manager).patch(
        url(acme_template.id, "sections", section.id),
        {"template_instructions": "Say what the design was.", "hints": {"keywords": ["design"]}},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["template_instructions"] == "Say what the design was."
    assert response.json()["hints"] == {"keywords": ["design"]}
