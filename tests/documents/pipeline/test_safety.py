"""The guards around the parsers: file typing, the zip pre-check, text sanitising, run_limited."""

from __future__ import annotations

import io
import os
import signal
import time
import zipfile
from pathlib import Path

import docx
import pytest

from documents.pipeline.errors import ERROR_MESSAGES, GenerationError, SourceError
from documents.pipeline.limited import collect_limited, run_limited, start_limited
from documents.pipeline.safety import (
    Limits,
    check_ooxml_zip,
    detect_file_type,
    read_central_directory,
    sanitize_text,
)
from tests.fixtures import builders

# --- sanitize_text ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dirty",
    ["a\x00b", "a\x0bb", "a\ufffeb", "a\ud800b", "a\x1fb", "a\x85b", "a\uffffb", "a\U0001fffeb"],
)
def test_sanitize_text_removes_characters_word_and_postgres_reject(dirty: str) -> None:
    assert sanitize_text(dirty) == "ab"


def test_sanitize_text_keeps_tabs_newlines_and_ordinary_unicode() -> None:
    text = "Tab\there\nnewline é 中文 α=.05 ≤4 🙂 \u202e"
    assert sanitize_text(text) == text


def test_sanitized_text_can_be_written_to_a_docx() -> None:
    hostile = "NUL\x00 VT\x0b FFFE\ufffe surrogate\ud800 end"
    document = docx.Document()
    with pytest.raises((ValueError, UnicodeEncodeError)):
        document.add_paragraph(hostile)
    paragraph = document.add_paragraph(sanitize_text(hostile))
    document.save(io.BytesIO())
    assert paragraph.text == "NUL VT FFFE surrogate end"


# --- detect_file_type ---------------------------------------------------------------------


def test_detect_file_type_accepts_matching_extension_and_content(tmp_path: Path) -> None:
    pdf = builders.build_plain_pdf(tmp_path / "a.pdf")
    word = builders.build_plain_docx(tmp_path / "a.docx")
    sheet = builders.build_results_xlsx(tmp_path / "a.xlsx").path
    assert detect_file_type(pdf, "a.pdf") == "pdf"
    assert detect_file_type(word, "a.DOCX") == "docx"
    assert detect_file_type(sheet, "a.xlsx") == "xlsx"
    assert detect_file_type(pdf.read_bytes()[:1024], "a.pdf") == "pdf"


def test_detect_file_type_rejects_an_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    with pytest.raises(SourceError) as err:
        detect_file_type(empty, "empty.pdf")
    assert err.value.code == "empty_file"
    assert "empty.pdf" in err.value.message


@pytest.mark.parametrize(
    ("builder", "name"),
    [
        (builders.build_not_a_pdf, "image.pdf"),  # PNG bytes named .pdf
        (builders.build_plain_docx, "word.pdf"),  # a zip named .pdf
        (builders.build_plain_pdf, "pdf.docx"),  # PDF bytes named .docx
        (builders.build_plain_pdf, "notes.doc"),  # an extension we do not accept
    ],
)
def test_detect_file_type_rejects_content_that_does_not_match(
    tmp_path: Path, builder, name: str
) -> None:
    path = builder(tmp_path / "file.bin")
    with pytest.raises(SourceError) as err:
        detect_file_type(path, name)
    assert err.value.code == "invalid_file_type"


def test_detect_file_type_rejects_a_spreadsheet_named_docx(tmp_path: Path) -> None:
    sheet = builders.build_results_xlsx(tmp_path / "a.xlsx").path
    with pytest.raises(SourceError) as err:
        detect_file_type(sheet, "report.docx")
    assert err.value.code == "invalid_file_type"


def test_detect_file_type_reports_password_protected_office_files(tmp_path: Path) -> None:
    path = builders.build_ole2_encrypted_docx(tmp_path / "locked.docx")
    with pytest.raises(SourceError) as err:
        detect_file_type(path, "locked.docx")
    assert err.value.code == "encrypted_document"


# --- check_ooxml_zip ----------------------------------------------------------------------


def _code(path: Path, kind: str = "docx", limits: Limits | None = None) -> str | None:
    try:
        check_ooxml_zip(str(path), file_name=path.name, kind=kind, limits=limits)  # type: ignore[arg-type]
    except SourceError as exc:
        return exc.code
    return None


def test_a_normal_docx_and_xlsx_pass_the_zip_check(tmp_path: Path) -> None:
    assert _code(builders.build_plain_docx(tmp_path / "ok.docx")) is None
    assert _code(builders.build_results_xlsx(tmp_path / "ok.xlsx").path, "xlsx") is None


def test_a_zip64_docx_passes_and_its_directory_is_read(tmp_path: Path) -> None:
    path = builders.build_zip64_docx(tmp_path / "zip64.docx")
    entries = read_central_directory(str(path), file_name="zip64.docx")
    assert "word/document.xml" in {e.name for e in entries}
    assert all(e.uncompressed_size < 1_000_000 for e in entries)
    assert _code(path) is None


def test_a_decompression_bomb_is_rejected_before_any_parser_runs(tmp_path: Path) -> None:
    path = builders.build_docx_zip_bomb(tmp_path / "bomb.docx", megabytes=30)
    assert path.stat().st_size < 1_000_000
    started = time.monotonic()
    assert _code(path) == "document_too_complex"
    assert time.monotonic() - started < 1.0


def test_member_and_total_size_limits_apply(tmp_path: Path) -> None:
    path = builders.build_docx_zip_bomb(tmp_path / "big.docx", megabytes=3)
    generous_ratio = Limits(max_zip_ratio=100_000, max_zip_member_mb=2)
    assert _code(path, limits=generous_ratio) == "document_too_complex"
    total = Limits(max_zip_ratio=100_000, max_zip_member_mb=10, max_zip_total_mb=2)
    assert _code(path, limits=total) == "document_too_complex"
    assert _code(path, limits=Limits(max_zip_ratio=100_000)) is None


def test_too_many_entries_are_rejected(tmp_path: Path) -> None:
    path = builders.build_many_entries_docx(tmp_path / "many.docx", extra_entries=2500)
    assert _code(path) == "document_too_complex"
    assert _code(path, limits=Limits(max_zip_entries=5000)) is None


def test_overlapping_entries_are_rejected_even_on_an_unpatched_python(tmp_path: Path) -> None:
    # CVE-2024-0450: Python < 3.11.8 reads overlapping entries without complaint.
    path = builders.build_overlapping_zip(tmp_path / "overlap.docx")
    assert _code(path) == "unreadable_document"


@pytest.mark.parametrize("name", ["../../evil.xml", "/abs.xml", "..\\evil.xml", "C:/evil.xml"])
def test_traversal_and_absolute_member_names_are_rejected(tmp_path: Path, name: str) -> None:
    path = builders.build_traversal_docx(tmp_path / "traversal.docx", name=name)
    assert _code(path) == "unreadable_document"


@pytest.mark.parametrize("part", ["word/document.xml", "word/styles.xml", "[Content_Types].xml"])
def test_a_doctype_in_any_xml_part_is_rejected(tmp_path: Path, part: str) -> None:
    path = builders.build_doctype_docx(tmp_path / "laughs.docx", part=part)
    assert _code(path) == "unreadable_document"


def test_a_macro_enabled_package_is_not_a_docx(tmp_path: Path) -> None:
    assert _code(builders.build_docm(tmp_path / "macro.docx")) == "invalid_file_type"


def test_a_docx_checked_as_xlsx_is_the_wrong_type(tmp_path: Path) -> None:
    assert _code(builders.build_plain_docx(tmp_path / "a.docx"), "xlsx") == "invalid_file_type"


def test_a_package_without_its_main_part_is_unreadable(tmp_path: Path) -> None:
    with zipfile.ZipFile(builders.build_plain_docx(tmp_path / "a.docx")) as z:
        members = [(n, z.read(n)) for n in z.namelist() if n != "word/document.xml"]
    path = builders.build_docx_from_members(tmp_path / "nomain.docx", members)
    assert _code(path) == "unreadable_document"


def test_truncated_and_non_zip_files_are_unreadable(tmp_path: Path) -> None:
    whole = builders.build_plain_docx(tmp_path / "a.docx").read_bytes()
    truncated = tmp_path / "truncated.docx"
    truncated.write_bytes(whole[: len(whole) // 2])
    assert _code(truncated) == "unreadable_document"
    garbage = tmp_path / "garbage.docx"
    garbage.write_bytes(b"PK\x03\x04" + os.urandom(200))
    assert _code(garbage) == "unreadable_document"


# --- Limits -------------------------------------------------------------------------------


def test_limits_come_from_django_settings(settings) -> None:
    from documents.pipeline_input import limits_from_settings

    settings.FOLIO_MAX_ZIP_ENTRIES = 77
    settings.FOLIO_EXTRACT_TIMEOUT = 9
    limits = limits_from_settings()
    assert limits.max_zip_entries == 77
    assert limits.extract_timeout == 9
    assert limits.max_pdf_pages == settings.FOLIO_MAX_PDF_PAGES


# --- run_limited --------------------------------------------------------------------------


def _add(a: int, b: int) -> int:
    return a + b


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def _allocate(megabytes: int) -> int:
    block = bytearray(megabytes * 1024 * 1024)
    return len(block)


def _raise_source_error() -> None:
    raise SourceError("report.pdf", "encrypted_document")


def _raise_value_error() -> None:
    raise ValueError("internal details that must not reach the user")


def _kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def test_run_limited_returns_the_child_result() -> None:
    assert run_limited(_add, 2, 3, timeout=10, memory_mb=256) == 5


def test_run_limited_kills_a_child_that_runs_past_its_deadline() -> None:
    started = time.monotonic()
    with pytest.raises(SourceError) as err:
        run_limited(_sleep, 30, timeout=0.5, memory_mb=256, file_name="slow.pdf")
    assert err.value.code == "processing_timeout"
    assert err.value.file_name == "slow.pdf"
    assert time.monotonic() - started < 5


def test_run_limited_turns_memory_exhaustion_into_a_resource_error() -> None:
    with pytest.raises(SourceError) as err:
        run_limited(_allocate, 2048, timeout=30, memory_mb=200, file_name="huge.pdf")
    assert err.value.code == "resource_limit_exceeded"
    # The same allocation fits under a larger limit: the limit, not the machine, stopped it.
    assert run_limited(_allocate, 50, timeout=30, memory_mb=400) == 50 * 1024 * 1024


def test_run_limited_re_raises_generation_errors_as_they_were() -> None:
    with pytest.raises(SourceError) as err:
        run_limited(_raise_source_error, timeout=10, memory_mb=256)
    assert err.value.code == "encrypted_document"
    assert err.value.file_name == "report.pdf"
    assert err.value.message.startswith("report.pdf: ")
    assert isinstance(err.value, GenerationError)


def test_run_limited_hides_other_exceptions_behind_unreadable_document() -> None:
    with pytest.raises(SourceError) as err:
        run_limited(_raise_value_error, timeout=10, memory_mb=256, file_name="odd.docx")
    assert err.value.code == "unreadable_document"
    assert "internal details" not in err.value.message
    assert "odd.docx" in err.value.message


def test_run_limited_reports_a_child_killed_by_a_signal() -> None:
    with pytest.raises(SourceError) as err:
        run_limited(_kill_self, timeout=10, memory_mb=256)
    assert err.value.code == "resource_limit_exceeded"


def test_every_code_raised_here_has_a_user_message() -> None:
    for code in (
        "empty_file",
        "invalid_file_type",
        "unreadable_document",
        "encrypted_document",
        "document_too_complex",
        "processing_timeout",
        "resource_limit_exceeded",
    ):
        assert code in ERROR_MESSAGES


def _span(seconds: float) -> tuple[float, float]:
    start = time.time()
    time.sleep(seconds)
    return start, time.time()


def test_started_children_run_side_by_side_and_keep_their_own_deadlines() -> None:
    """A job's sources are read at once (``start_limited`` + ``collect_limited``): the children
    overlap in time, each result comes back, and a child past its own deadline is killed and
    reported without holding up its sibling's result."""
    a = start_limited(_span, 1.0, timeout=20, memory_mb=256, file_name="a.pdf")
    b = start_limited(_span, 1.0, timeout=20, memory_mb=256, file_name="b.pdf")
    slow = start_limited(_sleep, 30, timeout=1.5, memory_mb=256, file_name="slow.pdf")
    collect_limited([a, b, slow])
    (a0, a1), (b0, b1) = a.result(), b.result()
    assert a0 < b1 and b0 < a1, "the two children did not overlap"
    with pytest.raises(SourceError) as exc:
        slow.result()
    assert exc.value.code == "processing_timeout"
    assert not slow.proc.is_alive()
