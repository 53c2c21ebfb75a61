"""POST /api/v1/documents/generate: 202 at once, every field and alias, every bad input."""

from __future__ import annotations

import pytest

from documents.models import GeneratedDocument

pytestmark = pytest.mark.django_db


@pytest.fixture
def protocol_path(upload, member):
    return upload(member, "protocol.pdf").json()["file_path"]


def post(api_client, user, body, **headers):
    return api_client(user).post("/api/v1/documents/generate", body, format="json", **headers)


def test_it_answers_202_with_a_task_id_and_location(
    api_client, member, protocol_path, generate_body
):
    response = post(api_client, member, generate_body([protocol_path]))
    assert response.status_code == 202, response.json()
    body = response.json()
    document = GeneratedDocument.objects.get(pk=body["task_id"])
    assert document.status == "Pending"
    assert response["Location"].endswith(f"/api/v1/documents/status/{body['task_id']}")
    assert body["message"]
    assert document.output_name == "CSR_Draft"
    assert document.sections_total > 50  # the full ICH E3 outline was snapshotted


def test_the_alias_spellings_are_accepted(api_client, member, protocol_path, generate_body):
    body = generate_body(
        [protocol_path],
        connector_data_id=None,
        workspace_name=None,
        template_id=None,
        document_set_key="alias-set",
        document_set_name="Alias set",
        generic_mrt_id="ich-e3-csr",
    )
    response = post(api_client, member, body)
    assert response.status_code == 202, response.json()
    document = GeneratedDocument.objects.get(pk=response.json()["task_id"])
    assert document.document_set.key == "alias-set"
    assert document.template.key == "ich-e3-csr"


@pytest.mark.parametrize("name", ["CSR_Draft", "CSR_Draft.docx"])
def test_output_name_with_or_without_docx(api_client, member, protocol_path, generate_body, name):
    response = post(api_client, member, generate_body([protocol_path], output_name=name))
    assert response.status_code == 202
    assert (
        GeneratedDocument.objects.get(pk=response.json()["task_id"]).file_name == "CSR_Draft.docx"
    )


@pytest.mark.parametrize(
    "missing",
    [
        "document_type",
        "file_paths",
        "connector_data_id",
        "workspace_name",
        "template_id",
        "output_name",
    ],
)
def test_every_required_field_missing_in_turn_is_a_400_naming_it(
    api_client, member, protocol_path, generate_body, missing
):
    body = generate_body([protocol_path])
    del body[missing]
    response = post(api_client, member, body)
    assert response.status_code == 400
    assert missing in response.json()["detail"]
    assert GeneratedDocument.objects.count() == 0


@pytest.mark.parametrize(
    "bad_path",
    [
        "../x.pdf",
        "/etc/passwd",
        "file:///etc/passwd",
        "http://169.254.169.254/latest/meta-data/",
        "ORG/%2e%2e/x.pdf",
        "ORG/documents/../documents/protocol.pdf",
        "ORG/documents/missing.pdf",
    ],
)
def test_bad_file_paths_are_refused_naming_the_value(
    api_client, member, org, protocol_path, generate_body, bad_path
):
    bad_path = bad_path.replace("ORG", str(org.id))
    response = post(api_client, member, generate_body([protocol_path, bad_path]))
    assert response.status_code == 400
    assert bad_path[:40] in response.json()["detail"]
    assert GeneratedDocument.objects.count() == 0


def test_another_organizations_file_is_a_400_like_a_missing_one(
    api_client, upload, member, outsider, other_org, generate_body
):
    theirs = upload(outsider, "theirs.pdf").json()["file_path"]
    nothing = f"{other_org.id}/documents/nothing.pdf"
    a = post(api_client, member, generate_body([theirs])).json()["detail"]
    b = post(api_client, member, generate_body([nothing])).json()["detail"]
    assert a.replace("theirs", "X") == b.replace("nothing", "X")


def test_unknown_template_style_guide_and_sections_are_named(
    api_client, member, protocol_path, generate_body
):
    response = post(
        api_client,
        member,
        generate_body(
            [protocol_path],
            template_id="no-such-template",
            style_guide_id="00000000-0000-0000-0000-000000000000",
        ),
    )
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "no-such-template" in detail and "style_guide_id" in detail

    response = post(
        api_client,
        member,
        generate_body([protocol_path], selected_section_ids=["nope", {"section_id": "nah"}]),
    )
    assert response.status_code == 400
    assert "nope" in response.json()["detail"] and "nah" in response.json()["detail"]


def test_selected_sections_accept_ids_and_objects(api_client, member, protocol_path, generate_body):
    from templates_app.models import Template

    sections = list(Template.objects.get(key="ich-e3-csr").sections.order_by("order_index")[:3])
    body = generate_body(
        [protocol_path],
        selected_section_ids=[str(sections[0].id), {"section_id": str(sections[1].id)}],
    )
    response = post(api_client, member, body)
    assert response.status_code == 202, response.json()
    document = GeneratedDocument.objects.get(pk=response.json()["task_id"])
    assert document.selected_section_ids == [str(sections[0].id), str(sections[1].id)]
    assert document.sections_total == 2


def test_a_custom_outline_replaces_the_templates(api_client, member, protocol_path, generate_body):
    outline = {
        "sections": [
            {"section_name": "1 Background", "level": 1},
            {"section_name": "1.1 Rationale", "level": 2},
        ]
    }
    response = post(
        api_client, member, generate_body([protocol_path], generic_mrt_outline_full=outline)
    )
    assert response.status_code == 202, response.json()
    document = GeneratedDocument.objects.get(pk=response.json()["task_id"])
    titles = [(s["number"], s["title"], s["level"]) for s in document.outline["sections"]]
    assert titles == [("1", "Background", 1), ("1.1", "Rationale", 2)]


def test_a_malformed_custom_outline_is_a_400(api_client, member, protocol_path, generate_body):
    response = post(
        api_client,
        member,
        generate_body([protocol_path], generic_mrt_outline_full={"sections": "x"}),
    )
    assert response.status_code == 400
    assert "generic_mrt_outline_full" in response.json()["detail"]


def test_the_llm_writer_is_refused_until_configured_and_enabled(
    api_client, member, protocol_path, generate_body
):
    response = post(api_client, member, generate_body([protocol_path], writer="llm"))
    assert response.status_code == 400
    assert "writer" in response.json()["detail"]


def test_the_document_set_is_created_on_first_use_and_reused(
    api_client, member, protocol_path, generate_body
):
    first = post(api_client, member, generate_body([protocol_path])).json()["task_id"]
    second = post(api_client, member, generate_body([protocol_path])).json()["task_id"]
    a = GeneratedDocument.objects.get(pk=first)
    b = GeneratedDocument.objects.get(pk=second)
    assert a.document_set_id == b.document_set_id


def test_the_document_keeps_the_exact_version_it_was_made_from(
    api_client, upload, member, protocol_path, generate_body
):
    from tests.documents.conftest import MINIMAL_PDF

    task = post(api_client, member, generate_body([protocol_path])).json()["task_id"]
    upload(member, "protocol.pdf", MINIMAL_PDF + b"%v2\n")
    document = GeneratedDocument.objects.get(pk=task)
    assert [link.version.version for link in document.source_links.all()] == [1]


def test_an_idempotency_key_returns_the_same_task(api_client, member, protocol_path, generate_body):
    body = generate_body([protocol_path])
    a = post(api_client, member, body, HTTP_IDEMPOTENCY_KEY="k-1").json()["task_id"]
    b = post(api_client, member, body, HTTP_IDEMPOTENCY_KEY="k-1").json()["task_id"]
    assert a == b
    changed = post(api_client, member, {**body, "output_name": "Other"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert changed.status_code == 409


def test_a_non_object_body_is_a_400(api_client, member):
    response = api_client(member).post("/api/v1/documents/generate", [1, 2], format="json")
    assert response.status_code == 400


def test_a_text_body_is_a_415(api_client, member):
    response = api_client(member).post(
        "/api/v1/documents/generate", "hello", content_type="text/plain"
    )
    assert response.status_code == 415


def test_a_400_names_every_field_in_detail_code_and_errors(
    api_client, member, protocol_path, generate_body
):
    body = generate_body(
        [protocol_path, "someone/else.pdf"], template_id="no-such-template", output_name=".docx"
    )
    response = post(api_client, member, body)
    assert response.status_code == 400
    answer = response.json()
    assert answer["code"] == "invalid"
    assert set(answer["errors"]) == {"output_name", "file_paths", "template_id"}
    assert answer["errors"]["template_id"] == ["unknown template 'no-such-template'."]
    for field, messages in answer["errors"].items():
        assert f"{field}: {messages[0]}" in answer["detail"]


def test_type_checks_are_the_serializer_s(api_client, member, protocol_path, generate_body):
    response = post(api_client, member, generate_body(protocol_path, writer="gpt"))
    assert response.status_code == 400
    answer = response.json()
    assert answer["code"] == "invalid"
    assert set(answer["errors"]) == {"file_paths", "writer"}
    assert "file_paths: Expected a list" in answer["detail"] and "writer:" in answer["detail"]
