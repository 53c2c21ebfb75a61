"""``manage.py generate``: the pipeline in-process, with progress output and a JSON twin."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from docx import Document

from tests.fixtures import builders
from tests.helpers.citations import all_citations, citation_verifies

pytestmark = pytest.mark.django_db


def test_it_writes_the_docx_and_the_twin_with_progress(tmp_path: Path):
    pdf = tmp_path / "protocol.pdf"
    builders.build_protocol_pdf(pdf)
    out = tmp_path / "out" / "draft.docx"
    twin_path = tmp_path / "twin.json"
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command(
        "generate",
        str(pdf),
        "--template",
        "ich-e3-csr",
        "--output",
        str(out),
        "--json",
        str(twin_path),
        "--clean",
        str(tmp_path / "clean.docx"),
        stdout=stdout,
        stderr=stderr,
    )
    assert out.exists()
    Document(str(out))  # opens
    # The clean copy beside it: the same title page (E3 section 1), no comments.
    clean = Document(str(tmp_path / "clean.docx"))
    review_copy = Document(str(out))
    assert clean.paragraphs[0].text == review_copy.paragraphs[0].text == "1 Title Page"
    assert clean.paragraphs[1].style.name == "Title"
    assert clean.paragraphs[1].text == review_copy.paragraphs[1].text
    assert not list(clean.comments)
    progress = stderr.getvalue()
    for step in ("Extract", "Classify", "Ingest", "Outline", "Orchestrate", "Generate"):
        assert step in progress
    assert "100%" in progress
    twin = json.loads(twin_path.read_text())
    assert twin["manifest"]["sources"][0]["file_name"] == "protocol.pdf"
    citations = all_citations(twin)
    assert citations and all(citation_verifies(c, {"protocol.pdf": pdf}) for c in citations)
    assert "sections generated" in stdout.getvalue()


def test_selected_sections_only_are_written(tmp_path: Path):
    from templates_app.models import Template

    pdf = tmp_path / "protocol.pdf"
    builders.build_protocol_pdf(pdf)
    section = Template.objects.get(key="ich-e3-csr").sections.get(number="9.3.1")
    twin_path = tmp_path / "twin.json"
    call_command(
        "generate",
        str(pdf),
        "--template",
        "ich-e3-csr",
        "--output",
        str(tmp_path / "d.docx"),
        "--sections",
        str(section.id),
        "--json",
        str(twin_path),
        "--quiet",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    twin = json.loads(twin_path.read_text())
    states = {s["number"]: s["state"] for s in twin["sections"]}
    assert states["9.3.1"] in {"generated", "no_source"}
    assert all(state == "skipped" for number, state in states.items() if number != "9.3.1")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.pdf", "--template", "ich-e3-csr"], "no such file"),
        (["{pdf}", "--template", "nope"], "unknown template"),
        (["{pdf}", "--template", "ich-e3-csr", "--sections", "zzz"], "unknown section"),
    ],
)
def test_bad_input_exits_with_a_one_line_reason(tmp_path: Path, args, message):
    pdf = tmp_path / "protocol.pdf"
    builders.build_protocol_pdf(pdf)
    args = [a.replace("{pdf}", str(pdf)) for a in args]
    with pytest.raises(CommandError, match=message):
        call_command(
            "generate",
            *args,
            "--output",
            str(tmp_path / "x.docx"),
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )


def test_a_corrupt_pdf_fails_naming_the_file(tmp_path: Path):
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    with pytest.raises(CommandError, match=r"broken\.pdf"):
        call_command(
            "generate",
            str(bad),
            "--template",
            "ich-e3-csr",
            "--output",
            str(tmp_path / "x.docx"),
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )


def test_it_sets_up_a_data_directory_that_was_never_migrated(tmp_path: Path):
    """A new user's first command may be generate, before make run: it migrates, then works."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    source = builders.build_plain_docx(tmp_path / "notes.docx", ("Study drug was given daily.",))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DATABASE_URL"))}
    env.update(
        {"FOLIO_DATA_DIR": str(tmp_path / "data"), "DJANGO_SETTINGS_MODULE": "portal.settings"}
    )
    done = subprocess.run(
        [
            sys.executable,
            str(root / "manage.py"),
            "generate",
            str(source),
            "--template",
            "ich-e3-csr",
            "--output",
            str(tmp_path / "out.docx"),
            "--quiet",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "no such table" not in done.stderr
    assert "Setting up the database first" in done.stderr
    Document(str(tmp_path / "out.docx"))
