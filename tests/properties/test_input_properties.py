"""Property-based tests (hypothesis): for any input, only the documented outcomes.

- request parsing and validation: any JSON body to ``generate`` and any multipart upload is
  answered with a documented status and the ``{"detail", "code"}`` shape, never a 500;
- file-path checks: ``_path_problem`` accepts only a relative path under the caller's prefix
  with no traversal, URL, drive, backslash, NUL or percent sign; ``safe_file_name`` returns a
  base name without folders or control characters, or raises ``file_name_too_long``;
- the zip pre-check: ``check_ooxml_zip`` on any bytes (and on mutated real .docx files) either
  passes or raises ``SourceError`` with a stable code;
- text sanitising: ``sanitize_text`` removes every character the .docx writer or PostgreSQL
  refuses, keeps the others, and is idempotent;
- section numbering: ``outline_numbers`` gives one number per section, unique, each one level
  deeper at most; ``parse_section_name`` returns (number, title) or raises the documented 400.
"""

from __future__ import annotations

import io
import json
import re
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from documents.pipeline import safety
from documents.pipeline.errors import ERROR_MESSAGES, SourceError
from documents.services.generation import _path_problem
from documents.services.uploads import MAX_NAME_BYTES, safe_file_name
from portal.errors import InvalidInput
from templates_app.services.errors import TemplateValidationError
from templates_app.services.numbering import outline_numbers, parse_section_name

PROFILE = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=60),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5)
    ),
    max_leaves=25,
)
GENERATE_KEYS = [
    "document_type",
    "file_paths",
    "connector_data_id",
    "workspace_name",
    "template_id",
    "output_name",
    "generic_mrt_outline_full",
    "style_guide_id",
    "writer",
    "instructions",
    "section_instructions",
]


# --- request parsing and validation --------------------------------------------------------------


@pytest.mark.django_db
@PROFILE
@given(
    body=st.one_of(
        json_values,
        st.dictionaries(st.sampled_from(GENERATE_KEYS), json_values, max_size=len(GENERATE_KEYS)),
    )
)
def test_any_generate_body_gets_a_documented_answer(api_client, member, body):
    response = api_client(member).post(
        "/api/v1/documents/generate", json.dumps(body), content_type="application/json"
    )
    assert response.status_code in {202, 400, 404, 409, 413, 415, 429, 503}, response.content
    if response.status_code != 202:
        data = response.json()
        assert isinstance(data.get("detail"), str) and data["detail"]


@pytest.mark.django_db
@PROFILE
@given(raw=st.binary(max_size=300))
@example(raw=b"[" * 5000)
@example(raw=b'{"file_paths": ' + b"[" * 3000)
def test_any_raw_body_to_generate_is_a_4xx_not_a_500(api_client, member, raw):
    response = api_client(member).post(
        "/api/v1/documents/generate", raw, content_type="application/json"
    )
    assert 400 <= response.status_code < 500 or response.status_code in {202, 503}
    assert response.status_code != 500


@pytest.mark.django_db
@PROFILE
@given(
    name=st.text(min_size=0, max_size=120),
    content=st.binary(min_size=0, max_size=400),
    container=st.text(max_size=20),
)
def test_any_upload_gets_a_documented_answer(api_client, member, name, content, container):
    from django.core.files.uploadedfile import SimpleUploadedFile

    assume("\x00" not in name)
    response = api_client(member).post(
        "/api/v1/files/upload",
        {"file_content": SimpleUploadedFile(name or "x", content), "container": container},
        format="multipart",
    )
    assert response.status_code in {200, 201, 400, 413, 415}, response.content
    if response.status_code >= 400:
        assert response.json().get("detail")


# --- file paths ----------------------------------------------------------------------------------

ORG = "0b9c2f3e-0000-4000-8000-000000000001/"


@given(path=st.one_of(st.text(max_size=80), st.builds(lambda t: ORG + t, st.text(max_size=60))))
@example(path=ORG + "documents/../x.pdf")
@example(path=ORG + "documents/./x.pdf")
@example(path="file:///etc/passwd")
def test_a_path_passes_only_if_it_is_a_plain_relative_path_under_the_prefix(path):
    problem = _path_problem(path, ORG)
    if problem is None:
        assert path.startswith(ORG)
        assert "\x00" not in path and "\\" not in path and "%" not in path and "://" not in path
        segments = path.split("/")
        assert ".." not in segments and "." not in segments
    else:
        assert isinstance(problem, str) and problem


@given(raw=st.text(max_size=300))
@example(raw="../../etc/passwd")
@example(raw="a\\b\\..\\c.pdf")
@example(raw="€" * 90 + ".pdf")
def test_safe_file_name_is_a_base_name_or_a_documented_400(raw):
    try:
        name = safe_file_name(raw)
    except InvalidInput as exc:
        assert exc.code == "file_name_too_long"
        return
    assert "/" not in name and "\\" not in name
    assert not any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in name)
    assert not name.startswith(".") and not name.endswith(".")
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
    assert not re.search(r'[<>:"|?*]', name)


# --- the zip pre-check ---------------------------------------------------------------------------

STABLE_CODES = set(ERROR_MESSAGES)


def _docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        zf.writestr(
            "_rels/.rels",
            '<?xml version="1.0"?><Relationships><Relationship Id="r1" Type="http://schemas.'
            'openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="word/document.xml"/></Relationships>',
        )
        zf.writestr("word/document.xml", "<w:document><w:body>Text</w:body></w:document>" * 20)
    return buffer.getvalue()


DOCX = _docx_bytes()


def _check(data: bytes, kind: str = "docx") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"f.{kind}"
        path.write_bytes(data)
        try:
            safety.check_ooxml_zip(str(path), file_name=path.name, kind=kind)  # type: ignore[arg-type]
        except SourceError as exc:
            assert exc.code in STABLE_CODES, exc.code


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=2000), kind=st.sampled_from(["docx", "xlsx"]))
def test_the_zip_check_on_any_bytes_passes_or_names_a_stable_code(data, kind):
    _check(data, kind)


@settings(max_examples=200, deadline=None)
@given(
    edits=st.lists(
        st.tuples(st.integers(min_value=0, max_value=len(DOCX) - 1), st.integers(0, 255)),
        min_size=1,
        max_size=8,
    ),
    cut=st.one_of(st.none(), st.integers(min_value=0, max_value=len(DOCX))),
)
def test_the_zip_check_on_a_mutated_docx_passes_or_names_a_stable_code(edits, cut):
    data = bytearray(DOCX)
    for offset, value in edits:
        data[offset] = value
    if cut is not None:
        data = data[:cut]
    _check(bytes(data))


def test_the_unmutated_docx_passes_the_zip_check():
    _check(DOCX)  # the generator of the mutations is itself a valid package


# --- text sanitising -----------------------------------------------------------------------------


def _allowed(ch: str) -> bool:
    cp = ord(ch)
    if ch in "\t\n":
        return True
    if cp < 0x20 or 0x7F <= cp <= 0x9F or 0xD800 <= cp <= 0xDFFF or 0xFDD0 <= cp <= 0xFDEF:
        return False
    return (cp & 0xFFFF) not in (0xFFFE, 0xFFFF)


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.characters(codec=None), max_size=200))
@example(text="a\x00b\ud800c\ufffe\U0010ffff\r\n\t")
def test_sanitize_text_keeps_exactly_the_allowed_characters_and_is_idempotent(text):
    clean = safety.sanitize_text(text)
    assert clean == "".join(ch for ch in text if _allowed(ch))
    assert safety.sanitize_text(clean) == clean


# --- section numbering ---------------------------------------------------------------------------


@st.composite
def outlines(draw):
    """Levels that start at 1 and go at most one deeper at a time (what validation allows)."""
    count = draw(st.integers(min_value=0, max_value=40))
    levels, previous = [], 0
    for _ in range(count):
        level = draw(st.integers(min_value=1, max_value=previous + 1))
        levels.append(level)
        previous = level
    return levels


@given(levels=outlines())
def test_outline_numbers_are_unique_and_follow_the_levels(levels):
    numbers = outline_numbers(levels)
    assert len(numbers) == len(levels)
    assert len(set(numbers)) == len(numbers)
    for number, level in zip(numbers, levels, strict=True):
        assert len(number.split(".")) == level
        assert all(part.isdigit() and int(part) >= 1 for part in number.split("."))


@given(
    levels=st.lists(st.integers(min_value=-3, max_value=12), max_size=30),
    flags=st.lists(st.booleans(), max_size=30),
)
def test_outline_numbers_never_fail_on_any_levels(levels, flags):
    unnumbered = (flags + [False] * len(levels))[: len(levels)]
    numbers = outline_numbers(levels, unnumbered)
    assert len(numbers) == len(levels)
    assert all(n == "" for n, u in zip(numbers, unnumbered, strict=True) if u)


@given(value=st.one_of(st.text(max_size=500), st.none(), st.integers(), st.lists(st.text())))
@example(value="9.4.1 Blinding")
@example(value="1.")
@example(value="1" * 50 + " Title")
def test_parse_section_name_returns_number_and_title_or_a_400(value):
    try:
        number, title = parse_section_name(value)
    except TemplateValidationError as exc:
        assert exc.status == 400 and exc.message
        return
    assert title and len(title) <= 400
    assert number == "" or re.fullmatch(r"\d+(\.\d+)*", number)
