"""The cited source behind a citation marker: the side panel (htmx), its no-JS page, and the
cited PDF page as an image; another organization's document or an unknown citation is a 404."""

from __future__ import annotations

import struct
import uuid
import zlib

import pytest

from documents.models import GeneratedDocument
from tests.portal_views.conftest import complete

pytestmark = pytest.mark.django_db


@pytest.fixture
def document(member, make_document):
    document = complete(make_document(member))
    twin = document.twin
    # The uploaded protocol.pdf has one page: cite it.
    twin["sections"][0]["paragraphs"][0]["citations"][0]["page"] = 1
    GeneratedDocument.objects.filter(pk=document.pk).update(twin=twin)
    document.refresh_from_db()
    return document


def test_the_panel_shows_the_cited_pdf_page_with_the_quote(login, member, document):
    url = f"/documents/{document.pk}/citations/1/"
    response = login(member).get(url, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert "Source 1: protocol.pdf, page 1" in body
    assert f'src="/documents/{document.pk}/citations/1/page.png"' in body
    assert "“A total of 120 participants were randomised.”" in body


def test_without_htmx_the_panel_is_a_page_with_a_way_back(login, member, document):
    body = login(member).get(f"/documents/{document.pk}/citations/1/").content.decode()
    assert "<html" in body and f'href="/documents/{document.pk}/"' in body
    assert "Source 1: protocol.pdf, page 1" in body


def test_the_cited_pdf_page_is_a_png(login, member, document):
    response = login(member).get(f"/documents/{document.pk}/citations/1/page.png")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    png = response.content
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    # 612 × 792 pt at 1.4: about 857 × 1109 px.
    assert (width, height) == (857, 1109) or abs(width - 857) <= 1
    idat = png.index(b"IDAT")
    length = struct.unpack(">I", png[idat - 4 : idat])[0]
    raw = zlib.decompress(png[idat + 4 : idat + 4 + length])
    assert len(raw) == height * (1 + width * 3)


def test_a_citation_of_a_file_not_among_the_sources_says_so(login, member, document):
    # Citation 2 names results.xlsx, which this document was not made from.
    body = login(member).get(f"/documents/{document.pk}/citations/2/").content.decode()
    assert "no longer among the document's sources" in body
    response = login(member).get(f"/documents/{document.pk}/citations/2/page.png")
    assert response.status_code == 404


def test_an_unknown_citation_or_page_is_a_404(login, member, document):
    client = login(member)
    assert client.get(f"/documents/{document.pk}/citations/99/").status_code == 404
    twin = document.twin
    twin["sections"][0]["paragraphs"][0]["citations"][0]["page"] = 7
    GeneratedDocument.objects.filter(pk=document.pk).update(twin=twin)
    assert client.get(f"/documents/{document.pk}/citations/1/page.png").status_code == 404


@pytest.mark.parametrize("route", ["citations/1/", "citations/1/page.png"])
def test_another_organizations_citation_is_a_404(login, outsider, document, route):
    client = login(outsider)
    theirs = client.get(f"/documents/{document.pk}/{route}")
    random = client.get(f"/documents/{uuid.uuid4()}/{route}")
    assert theirs.status_code == random.status_code == 404


def test_the_markers_link_to_their_source(login, member, document):
    body = login(member).get(f"/documents/{document.pk}/").content.decode()
    assert f'href="/documents/{document.pk}/citations/1/"' in body
    assert 'hx-target="#source-panel"' in body
    assert ">Show page 1 of protocol.pdf</a>" in body


def test_a_page_that_cannot_be_drawn_in_time_is_a_503_not_a_500(
    login, member, document, monkeypatch
):
    # The page is drawn in a limited child process (untrusted input); give it no time at all.
    monkeypatch.delenv("FOLIO_EXTRACT_IN_PROCESS", raising=False)
    monkeypatch.setattr("documents.source_view.RENDER_TIMEOUT_S", 0)
    response = login(member).get(f"/documents/{document.pk}/citations/1/page.png")
    assert response.status_code == 503
    assert "processing_timeout" in response.content.decode()
