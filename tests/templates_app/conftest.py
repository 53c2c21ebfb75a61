"""Fixtures for the templates tests: two organizations, their people, API clients, Word files.

Users and organizations are made here directly (not through the root personas) so the tests say
exactly which role and staff flag each person has. Each password is ``"pw-" + username``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import RGBColor
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from portal.models import Membership, Organization
from templates_app import services
from templates_app.models import Template

CORPUS_DIR = Path(__file__).resolve().parents[3] / "shared" / "corpus"


def make_person(organization: Organization, username: str, role: str) -> Any:
    user = get_user_model().objects.create_user(
        username, password=f"pw-{username}", is_staff=(role == Membership.Role.MANAGER)
    )
    Membership.objects.create(user=user, organization=organization, role=role)
    return user


@pytest.fixture
def acme(db: None) -> Organization:
    return Organization.objects.create(name="Acme Pharma (templates)")


@pytest.fixture
def globex(db: None) -> Organization:
    return Organization.objects.create(name="Globex Biologics (templates)")


@pytest.fixture
def acme_manager(acme: Organization) -> Any:
    return make_person(acme, "tpl-manager", Membership.Role.MANAGER)


@pytest.fixture
def acme_member(acme: Organization) -> Any:
    return make_person(acme, "tpl-member", Membership.Role.MEMBER)


@pytest.fixture
def globex_manager(globex: Organization) -> Any:
    return make_person(globex, "tpl-globex-manager", Membership.Role.MANAGER)


@pytest.fixture
def superuser(db: None) -> Any:
    return get_user_model().objects.create_superuser("tpl-root", password="pw-tpl-root")


def access_token(user: Any) -> str:
    refresh = RefreshToken.for_user(user)
    membership = Membership.objects.get(user=user)
    refresh["org"] = str(membership.organization_id)
    refresh["role"] = membership.role
    return str(refresh.access_token)


@pytest.fixture
def client_for(db: None) -> Callable[[Any], APIClient]:
    """``client_for(user)`` -> an APIClient with a Bearer access token naming the user's org."""

    def make(user: Any) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(user)}")
        return client

    return make


@pytest.fixture
def e3(db: None) -> Template:
    return Template.objects.get(key="ich-e3-csr")


@pytest.fixture
def m11(db: None) -> Template:
    return Template.objects.get(key="ich-m11-protocol")


SMALL_OUTLINE = [
    {"section_name": "1 Introduction", "level": 1, "synopsis": "Why."},
    {"section_name": "2 Methods", "level": 1},
    {"section_name": "2.1 Design", "level": 2, "template_instructions": "Describe the design."},
    {"section_name": "2.1.1 Blinding", "level": 3},
    {"section_name": "2.2 Population", "level": 2},
    {
        "section_name": "3 Results",
        "level": 1,
        "rules": [{"rule_type": "extraction", "description": "Take the numbers from TFLs."}],
    },
]


@pytest.fixture
def acme_template(acme_manager: Any) -> Template:
    return services.template_create(
        user=acme_manager,
        template_name="Acme CSR shell",
        document_type="CSR",
        sections=[dict(s) for s in SMALL_OUTLINE],
    )


@pytest.fixture
def globex_template(globex_manager: Any) -> Template:
    return services.template_create(
        user=globex_manager,
        template_name="Globex secret outline",
        document_type="CSR",
        sections=[{"section_name": "1 Secret", "level": 1}],
    )


def outline_of(template: Template) -> list[tuple[str, str, int]]:
    return [(s.number, s.title, s.level) for s in template.sections.order_by("order_index")]


# --- Word files built by the tests ----------------------------------------------------------------


def _paragraph_style(document: Any, name: str, base: str | None) -> Any:
    style = document.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    if base:
        style.base_style = document.styles[base]
    return style


def _set_outline_level(paragraph: Any, level0: int) -> None:
    ppr = paragraph._p.get_or_add_pPr()
    node = OxmlElement("w:outlineLvl")
    node.set(qn("w:val"), str(level0))
    ppr.append(node)


def build_template_docx() -> bytes:
    """A Word template with custom heading styles based on Heading 1/2 (no outline level of
    their own), a paragraph made a heading by its own outline level, a typed number to drop,
    instructional text (style, hidden, red, blue italic), template text in a "Template Text"
    style, the study's own text (a paragraph and a table: dropped) and a table-of-contents
    entry."""
    document = Document()
    document.core_properties.title = "Sponsor CSR Template"
    _paragraph_style(document, "01Heading1", "Heading 1")
    _paragraph_style(document, "02Heading2", "Heading 2")
    _paragraph_style(document, "Sponsor Instruction", "Normal")
    _paragraph_style(document, "toc 1", "Normal")
    _paragraph_style(document, "CPT_Template Text", "Normal")

    document.add_paragraph("Clinical Study Report", style="Title")  # front matter: dropped
    document.add_paragraph("1 Introduction ........ 3", style="toc 1")
    document.add_paragraph("Introduction", style="01Heading1")
    document.add_paragraph("Describe the background of the study.", style="Sponsor Instruction")
    document.add_paragraph(
        "This report presents the results of the study.", style="CPT_Template Text"
    )
    document.add_paragraph("Results from 21 Patients Treated with Tocilizumab in China.")
    blue = document.add_paragraph().add_run("Give the rationale for the dose.")
    blue.font.color.rgb = RGBColor(0x00, 0x70, 0xC0)
    blue.italic = True
    document.add_paragraph("Study Objectives", style="02Heading2")
    hidden = document.add_paragraph().add_run("Copy the objectives from the protocol.")
    hidden.font.hidden = True
    document.add_paragraph("3.7 Methods", style="Heading 1")  # a typed number, dropped
    red = document.add_paragraph().add_run("Summarise the methods (remove this text).")
    red.font.color.rgb = RGBColor(0xFF, 0x00, 0x00)
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Visit"
    table.cell(0, 1).text = "Week"
    table.cell(1, 0).text = "Baseline"
    table.cell(1, 1).text = "0"
    deep = document.add_paragraph("Statistical Methods", style="Normal")
    _set_outline_level(deep, 1)  # level 2 by its own outline level
    document.add_paragraph("Sample Size", style="Heading 4")  # jumps 2 -> 4: becomes 3
    document.add_paragraph("Results", style="01Heading1")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def template_docx() -> bytes:
    return build_template_docx()


@pytest.fixture
def corpus_file() -> Callable[[str], Path]:
    def find(name: str) -> Path:
        path = CORPUS_DIR / name
        if not path.is_file():
            pytest.skip(f"{path} not found: corpus tests need ../shared/corpus beside the project")
        return path

    return find
