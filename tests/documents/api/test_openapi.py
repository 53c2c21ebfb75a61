"""The OpenAPI document: every success answer has a typed body, and the bodies are what it says.

A client generated from ``/api/schema/`` gets a type for every 2xx response (the download's is the
.docx media type); ``manage.py spectacular --validate --fail-on-warn`` passes; and the real
answers of the main routes have exactly the fields their schema lists.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

from documents.downloads import DOCX_CONTENT_TYPE

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def body_schema(schema: dict[str, Any], path: str, method: str, status: str) -> dict[str, Any]:
    content = schema["paths"][path][method]["responses"][status]["content"]
    return resolve(schema, content["application/json"]["schema"])


def test_every_success_response_has_a_body_schema(schema) -> None:
    missing, counted = [], 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if not status.startswith("2") or status == "204":
                    continue
                counted += 1
                content = response.get("content") or {}
                if not content or not all(media.get("schema") for media in content.values()):
                    missing.append(f"{method.upper()} {path} {status}")
    assert counted > 30
    assert missing == []
    download = schema["paths"]["/api/v1/documents/{document_id}/download"]["get"]
    assert set(download["responses"]["200"]["content"]) == {DOCX_CONTENT_TYPE}
    assert {p["name"] for p in download["parameters"]} >= {"copy", "part", "redline"}
    state = schema["paths"]["/api/v1/documents/{document_id}/sections/{section_id}/state"]["put"]
    request = resolve(schema, state["requestBody"]["content"]["application/json"]["schema"])
    assert set(request["properties"]) == {"state", "reason"}
    assert set(
        body_schema(
            schema, "/api/v1/documents/{document_id}/sections/{section_id}/state", "put", "200"
        )["properties"]
    ) == {"document_id", "section"}


def test_the_schema_validates_without_warnings(tmp_path) -> None:
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
    assert (tmp_path / "s.yml").read_text().startswith("openapi: 3")


def fields(schema: dict[str, Any], node: dict[str, Any]) -> set[str]:
    return set(resolve(schema, node)["properties"])


def assert_matches(schema, body: dict[str, Any], path: str, method: str, status: str) -> None:
    described = body_schema(schema, path, method, status)
    assert set(body) == set(described["properties"]), path
    for name, prop in described["properties"].items():
        item = prop.get("items") if prop.get("type") == "array" else None
        if item and "$ref" in item and body[name]:
            assert set(body[name][0]) <= fields(schema, item), f"{path} {name}"
            required = set(resolve(schema, item).get("required", []))
            assert required <= set(body[name][0]), f"{path} {name}"


def test_the_answers_have_the_fields_the_schema_lists(
    schema, api_client, upload, member, manager, generate_body
) -> None:
    uploaded = upload(member, "protocol.pdf")
    assert_matches(schema, uploaded.json(), "/api/v1/files/upload", "post", "201")
    client = api_client(member)
    accepted = client.post(
        "/api/v1/documents/generate", generate_body([uploaded.json()["file_path"]]), format="json"
    )
    assert_matches(schema, accepted.json(), "/api/v1/documents/generate", "post", "202")
    task_id = accepted.json()["task_id"]
    checks = [
        (f"/api/v1/documents/status/{task_id}", "/api/v1/documents/status/{document_id}"),
        ("/api/v1/documents/", "/api/v1/documents/"),
        ("/api/v1/files/documents", "/api/v1/files/{container}"),
        ("/api/v1/document-sets/", "/api/v1/document-sets/"),
        ("/api/v1/templates/", "/api/v1/templates/"),
        ("/api/v1/templates/ich-e3-csr", "/api/v1/templates/{template_id}"),
    ]
    for url, path in checks:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_matches(schema, response.json(), path, "get", "200")
    set_id = client.get("/api/v1/document-sets/").json()["document_sets"][0]["document_set_id"]
    detail = client.get(f"/api/v1/document-sets/{set_id}").json()
    assert_matches(schema, detail, "/api/v1/document-sets/{set_id}", "get", "200")
    boss = api_client(manager)
    guide = boss.post("/api/v1/style-guides/", {"name": "House style"}, format="json")
    assert_matches(schema, guide.json(), "/api/v1/style-guides/", "post", "201")
    audit = boss.get("/api/v1/audit-events/").json()
    assert_matches(schema, audit, "/api/v1/audit-events/", "get", "200")
