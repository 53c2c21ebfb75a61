"""The outline snapshot a generation stores follows every change to the template.

The accept path caches a template's snapshot per (id, updated_at); any change to the template,
a section or a rule must move ``updated_at`` so the next document gets the new outline.
"""

from __future__ import annotations

import pytest

from documents import services
from templates_app import services as template_services
from templates_app.models import Rule, Template

pytestmark = pytest.mark.django_db


def request(user, template, path):
    return services.generation_request(
        user=user,
        document_type="CSR",
        file_paths=[path],
        document_set_key="snap",
        document_set_name="Snapshots",
        template_ref=str(template.id),
        output_name="draft",
    )


def titles(document):
    return [s["title"] for s in document.outline["sections"]]


def test_a_renamed_section_and_a_changed_rule_reach_the_next_snapshot(upload, manager):
    path = upload(manager, "protocol.pdf").json()["file_path"]
    template = template_services.template_duplicate(
        user=manager, template=Template.objects.get(key="ich-e3-csr")
    )
    first = request(manager, template, path)
    section = template.sections.get(number="9.3.1")
    template_services.template_section_rename(
        user=manager, section=section, section_name="9.3.1 Who Could Enter"
    )
    template.refresh_from_db()
    second = request(manager, template, path)
    assert "Inclusion Criteria" in titles(first)
    assert "Who Could Enter" in titles(second)
    assert (
        first.outline["template"]["snapshot_sha256"]
        != second.outline["template"]["snapshot_sha256"]
    )

    Rule.objects.create(section=section, description="Take it from the protocol only")
    template.refresh_from_db()
    third = request(manager, template, path)
    assert [s["title"] for s in third.outline_snapshot.sections] == titles(third)
    rules = {s["title"]: s["rules"] for s in third.outline_snapshot.sections}
    assert rules["Who Could Enter"][0]["description"] == "Take it from the protocol only"
