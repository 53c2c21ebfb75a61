"""The style-guides API (docs/api.md): list, create, read, change, delete; scoping and roles."""

from __future__ import annotations

import uuid

import pytest

from templates_app import services
from templates_app.models import StyleGuide

pytestmark = pytest.mark.django_db

BASE = "/api/v1/style-guides/"
GUIDE = {
    "name": "House style",
    "tense": "past",
    "preferred_terms": {"adverse event": ["side effect"]},
    "abbreviations": {"AE": "adverse event"},
    "banned_phrases": ["clearly"],
    "instructions": "Write for a regulator.",
}


@pytest.fixture
def acme_guide(acme_manager):
    return services.style_guide_create(user=acme_manager, name="Acme style")


@pytest.fixture
def globex_guide(globex_manager):
    return services.style_guide_create(user=globex_manager, name="Globex style")


def test_a_manager_creates_a_style_guide(client_for, acme_manager, acme):
    response = client_for(acme_manager).post(BASE, GUIDE, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert {k: body[k] for k in GUIDE} == GUIDE
    uuid.UUID(body["style_guide_id"])
    assert StyleGuide.objects.get(pk=body["style_guide_id"]).organization == acme


def test_list_shows_only_the_organizations_guides(
    client_for, acme_member, acme_guide, globex_guide
):
    body = client_for(acme_member).get(BASE).json()
    assert body["count"] == 1
    assert [g["name"] for g in body["style_guides"]] == ["Acme style"]
    assert {"style_guide_id", "name", "tense", "preferred_terms", "abbreviations"} <= set(
        body["style_guides"][0]
    )


def test_read_change_and_delete(client_for, acme_manager, acme_member, acme_guide):
    detail = f"{BASE}{acme_guide.id}"
    assert client_for(acme_member).get(detail).json()["name"] == "Acme style"
    manager = client_for(acme_manager)
    response = manager.put(
        detail, {"tense": "source", "banned_phrases": ["obviously"]}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["tense"] == "source"
    assert response.json()["banned_phrases"] == ["obviously"]
    assert response.json()["name"] == "Acme style"  # fields left out keep their value
    assert manager.delete(detail).status_code == 204
    assert manager.get(detail).status_code == 404


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"tense": "past"}, "name"),
        ({"name": "X", "tense": "future"}, "tense"),
        ({"name": "X", "preferred_terms": {"adverse event": 3}}, "preferred_terms"),
        ({"name": "X", "banned_phrases": "clearly"}, "banned_phrases"),
    ],
)
def test_invalid_input_is_a_400_naming_the_field(client_for, acme_manager, payload, field):
    response = client_for(acme_manager).post(BASE, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["detail"]


def test_members_read_but_cannot_write(client_for, acme_member, acme_guide):
    client = client_for(acme_member)
    assert client.get(BASE).status_code == 200
    assert client.post(BASE, GUIDE, format="json").status_code == 403
    assert client.put(f"{BASE}{acme_guide.id}", {"name": "X"}, format="json").status_code == 403
    assert client.delete(f"{BASE}{acme_guide.id}").status_code == 403


def test_another_organizations_guide_is_a_404_like_a_random_id(
    client_for, acme_manager, globex_guide
):
    client = client_for(acme_manager)
    for method in ("get", "put", "delete"):
        foreign = getattr(client, method)(f"{BASE}{globex_guide.id}", {}, format="json")
        random = getattr(client, method)(f"{BASE}{uuid.uuid4()}", {}, format="json")
        assert foreign.status_code == random.status_code == 404
        assert foreign.json() == random.json()
    assert StyleGuide.objects.filter(pk=globex_guide.pk).exists()
