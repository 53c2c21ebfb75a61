"""Guards that run before and around the document parsers.

pypdf, python-docx and openpyxl are not written for hostile input: they have no wall-clock limit,
python-docx and openpyxl read whole zip members into memory, and this machine's Python 3.11.7
lacks the CVE-2024-0450 fix for overlapping zip entries. This module is the boundary:

- ``detect_file_type`` decides pdf / docx / xlsx / rtf / txt / out from the extension *and*
  the content (magic bytes; RTF's ``{\\rtf`` header; plain text without NUL bytes);
- ``check_ooxml_zip`` reads the zip central directory itself (ZIP64 included) and rejects bombs,
  overlapping entries, traversal names, DTDs and missing main parts before any parser runs;
- ``sanitize_text`` removes characters the .docx writer and PostgreSQL refuse;
- the parsers themselves run in a forked child with an address-space limit and a deadline
  (``limited.run_limited``).

Every failure is a ``SourceError`` with one of the stable codes of ``errors.ERROR_MESSAGES``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from documents.pipeline.errors import SourceError
from documents.pipeline.types import Limits

T = TypeVar("T")
FileType = Literal["pdf", "docx", "xlsx", "rtf", "txt", "out"]

MB = 1024 * 1024


# --------------------------------------------------------------------------------------------
# Text sanitising

# XML 1.0 allows #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
# We also drop C1 controls (U+0080-U+009F) and CR (PDF text uses \n), and the noncharacters
# U+FDD0-U+FDEF and U+xFFFE/U+xFFFF of every plane. Tab and newline are kept.
_FORBIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
    "\U0001fffe\U0001ffff\U0002fffe\U0002ffff\U0003fffe\U0003ffff\U0004fffe\U0004ffff"
    "\U0005fffe\U0005ffff\U0006fffe\U0006ffff\U0007fffe\U0007ffff\U0008fffe\U0008ffff"
    "\U0009fffe\U0009ffff\U000afffe\U000affff\U000bfffe\U000bffff\U000cfffe\U000cffff"
    "\U000dfffe\U000dffff\U000efffe\U000effff\U000ffffe\U000fffff\U0010fffe\U0010ffff]"
)


def sanitize_text(s: str) -> str:
    """Remove characters that python-docx, lxml or PostgreSQL reject (NUL, controls, surrogates).

    Only removes characters (never replaces), so that a text and its sanitised form differ by
    deletions alone and per-run sanitising equals whole-text sanitising.
    """
    if not s:
        return s
    return _FORBIDDEN.sub("", s)


# --------------------------------------------------------------------------------------------
# File type detection

# The file types Folio reads, by extension (docs/api.md, "Files"); the content must agree.
FILE_TYPES: dict[str, FileType] = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".xlsx": "xlsx",
    ".rtf": "rtf",
    ".txt": "txt",
    ".out": "out",
}
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
_MAIN_PART = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml"}
_HEAD_BYTES = 1024


def detect_file_type(
    path_or_bytes_head: str | os.PathLike[str] | bytes, file_name: str
) -> FileType:
    """Return "pdf", "docx", "xlsx", "rtf", "txt" or "out" when the extension and the content
    agree.

    ``path_or_bytes_head`` is a path to the file or its first bytes (at least 1 KB when there are
    that many; with bytes, the zip's main part cannot be checked, only the zip signature).
    Raises ``SourceError`` with ``empty_file``, ``invalid_file_type`` or ``encrypted_document``
    (an OLE2 container named .docx/.xlsx holding an ``EncryptedPackage``).
    """
    ext = Path(file_name).suffix.lower()
    kind = FILE_TYPES.get(ext)
    if isinstance(path_or_bytes_head, (bytes, bytearray, memoryview)):
        head = bytes(path_or_bytes_head)
        path = None
    else:
        path = os.fspath(path_or_bytes_head)
        try:
            with open(path, "rb") as fh:
                head = fh.read(_HEAD_BYTES)
        except OSError as exc:
            raise SourceError(file_name, "source_unavailable") from exc
    if not head:
        raise SourceError(file_name, "empty_file")
    if kind is None:
        raise SourceError(file_name, "invalid_file_type")
    if kind == "pdf":
        if b"%PDF-" not in head[:_HEAD_BYTES]:
            raise SourceError(file_name, "invalid_file_type")
        return "pdf"
    if kind == "rtf":
        if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{\\rtf"):
            raise SourceError(file_name, "invalid_file_type")
        return "rtf"
    if kind in ("txt", "out"):
        if not _looks_like_text(head):
            raise SourceError(file_name, "invalid_file_type")
        return kind
    # OOXML
    if head.startswith(_OLE2_MAGIC):
        # Password-protected .docx/.xlsx are OLE2 containers with an EncryptedPackage stream;
        # anything else in OLE2 is a legacy .doc/.xls renamed.
        if _ole2_is_encrypted_package(path, head):
            raise SourceError(file_name, "encrypted_document")
        raise SourceError(file_name, "invalid_file_type")
    if not head.startswith(b"PK\x03\x04"):
        raise SourceError(file_name, "invalid_file_type")
    if path is not None:
        # The central directory names the parts: a .docx must not be a renamed .xlsx (or a plain
        # zip). A main part under another name is legal (the rels decide): check_ooxml_zip has
        # the last word, from [Content_Types].xml.
        names = {e.name for e in read_central_directory(path, file_name=file_name)}
        other = "xlsx" if kind == "docx" else "docx"
        if "[Content_Types].xml" not in names or (
            _MAIN_PART[kind] not in names and _MAIN_PART[other] in names
        ):
            raise SourceError(file_name, "invalid_file_type")
    return kind


def _looks_like_text(head: bytes) -> bool:
    """Plain text: no NUL byte, no other format's signature, few control characters."""
    if b"\x00" in head or head.startswith((_OLE2_MAGIC, b"PK\x03\x04", b"%PDF-", b"{\\rtf")):
        return False
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return controls <= 0.05 * len(head)


def _ole2_is_encrypted_package(path: str | None, head: bytes) -> bool:
    data = head
    if path is not None:
        with contextlib.suppress(OSError), open(path, "rb") as fh:
            data = fh.read(4 * MB)
    return _ENCRYPTED_PACKAGE in data


# --------------------------------------------------------------------------------------------
# Zip central directory

_EOCD_SIG = b"PK\x05\x06"
_EOCD64_LOC_SIG = b"PK\x06\x07"
_EOCD64_SIG = b"PK\x06\x06"
_CDH_SIG = b"PK\x01\x02"
_LFH_SIG = b"PK\x03\x04"
_EOCD_SIZE = 22
_MAX_COMMENT = 65535


@dataclass(frozen=True)
class ZipEntry:
    name: str
    flags: int
    method: int
    compressed_size: int
    uncompressed_size: int
    header_offset: int


def _parse_zip64_extra(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    i = 0
    while i + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, i)
        body = extra[i + 4 : i + 4 + size]
        if tag == 0x0001:
            j = 0
            # Only the fields whose 32-bit value is 0xFFFFFFFF are present, in this order.
            if usize == 0xFFFFFFFF and j + 8 <= len(body):
                usize = struct.unpack_from("<Q", body, j)[0]
                j += 8
            if csize == 0xFFFFFFFF and j + 8 <= len(body):
                csize = struct.unpack_from("<Q", body, j)[0]
                j += 8
            if offset == 0xFFFFFFFF and j + 8 <= len(body):
                offset = struct.unpack_from("<Q", body, j)[0]
            break
        i += 4 + size
    return usize, csize, offset


def read_central_directory(
    path: str, *, file_name: str, max_entries: int | None = None
) -> list[ZipEntry]:
    """Parse the zip's central directory without zipfile (ZIP64 aware).

    Raises ``unreadable_document`` for a damaged directory and ``document_too_complex`` when it
    declares more than ``max_entries`` entries (checked before reading them).
    """
    try:
        size = Path(path).stat().st_size
        with open(path, "rb") as fh:
            tail_len = min(size, _EOCD_SIZE + _MAX_COMMENT)
            fh.seek(size - tail_len)
            tail = fh.read(tail_len)
            pos = tail.rfind(_EOCD_SIG)
            if pos < 0 or pos + _EOCD_SIZE > len(tail):
                raise SourceError(file_name, "unreadable_document")
            eocd_offset = size - tail_len + pos
            (_, disk, cd_disk, n_disk, n_total, cd_size, cd_offset, _clen) = struct.unpack_from(
                "<4sHHHHIIH", tail, pos
            )
            if disk != 0 or cd_disk != 0 or n_disk != n_total:
                raise SourceError(file_name, "unreadable_document")  # multi-disk archives
            if 0xFFFF in (n_total,) or 0xFFFFFFFF in (cd_size, cd_offset):
                # ZIP64: the locator sits just before the EOCD record.
                loc_offset = eocd_offset - 20
                if loc_offset < 0:
                    raise SourceError(file_name, "unreadable_document")
                fh.seek(loc_offset)
                loc = fh.read(20)
                if len(loc) != 20 or loc[:4] != _EOCD64_LOC_SIG:
                    raise SourceError(file_name, "unreadable_document")
                eocd64_offset = struct.unpack_from("<Q", loc, 8)[0]
                if eocd64_offset + 56 > size:
                    raise SourceError(file_name, "unreadable_document")
                fh.seek(eocd64_offset)
                rec = fh.read(56)
                if rec[:4] != _EOCD64_SIG:
                    raise SourceError(file_name, "unreadable_document")
                n_total, cd_size, cd_offset = struct.unpack_from("<QQQ", rec, 32)
            if max_entries is not None and n_total > max_entries:
                raise SourceError(file_name, "document_too_complex")
            if cd_offset + cd_size > size or cd_size > 64 * MB:
                raise SourceError(file_name, "unreadable_document")
            fh.seek(cd_offset)
            cd = fh.read(cd_size)
    except OSError as exc:
        raise SourceError(file_name, "unreadable_document") from exc
    except struct.error as exc:
        raise SourceError(file_name, "unreadable_document") from exc

    entries: list[ZipEntry] = []
    i = 0
    while i < len(cd):
        if cd[i : i + 4] != _CDH_SIG or i + 46 > len(cd):
            raise SourceError(file_name, "unreadable_document")
        (flags, method) = struct.unpack_from("<HH", cd, i + 8)
        csize, usize = struct.unpack_from("<II", cd, i + 20)
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", cd, i + 28)
        offset = struct.unpack_from("<I", cd, i + 42)[0]
        raw_name = cd[i + 46 : i + 46 + name_len]
        extra = cd[i + 46 + name_len : i + 46 + name_len + extra_len]
        if len(raw_name) != name_len:
            raise SourceError(file_name, "unreadable_document")
        usize, csize, offset = _parse_zip64_extra(extra, usize, csize, offset)
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", errors="replace")
        entries.append(ZipEntry(name, flags, method, csize, usize, offset))
        if max_entries is not None and len(entries) > max_entries:
            raise SourceError(file_name, "document_too_complex")
        i += 46 + name_len + extra_len + comment_len
    if len(entries) != n_total:
        raise SourceError(file_name, "unreadable_document")
    return entries


def _bad_member_name(name: str) -> bool:
    if not name or "\x00" in name:
        return True
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return True
    parts = re.split(r"[/\\]", name)
    return any(part == ".." for part in parts)


_DOCX_MAIN_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
_XLSX_MAIN_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
_MAIN_TYPES = {"docx": _DOCX_MAIN_TYPE, "xlsx": _XLSX_MAIN_TYPE}
_PROLOG_WINDOW = 8 * 1024
_CONTENT_TYPES_MAX = 1 * MB


def _read_member_head(
    fh: Any, entry: ZipEntry, file_size: int, limit: int, *, file_name: str
) -> bytes:
    """Decompress at most ``limit`` bytes from the start of a member, using our own offsets."""
    fh.seek(entry.header_offset)
    local = fh.read(30)
    if len(local) != 30 or local[:4] != _LFH_SIG:
        raise SourceError(file_name, "unreadable_document")
    name_len, extra_len = struct.unpack_from("<HH", local, 26)
    data_start = entry.header_offset + 30 + name_len + extra_len
    to_read = min(entry.compressed_size, max(limit * 4, 64 * 1024), file_size - data_start)
    if to_read < 0:
        raise SourceError(file_name, "unreadable_document")
    fh.seek(data_start)
    raw = fh.read(to_read)
    if entry.method == 0:
        return raw[:limit]
    try:
        return zlib.decompressobj(-15).decompress(raw, limit)
    except zlib.error as exc:
        raise SourceError(file_name, "unreadable_document") from exc


def _xml_prolog_ok(head: bytes) -> bool:
    """True when the XML prolog has no DOCTYPE and the root element starts within the window."""
    text: str
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head.decode("utf-16", errors="ignore")
    elif head[:4] in (b"<\x00?\x00", b"<\x00!\x00"):
        text = head.decode("utf-16-le", errors="ignore")
    elif head[:4] in (b"\x00<\x00?", b"\x00<\x00!"):
        text = head.decode("utf-16-be", errors="ignore")
    else:
        text = head.decode("utf-8", errors="ignore")
    text = text.lstrip("\ufeff")
    i = 0
    n = len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        if text.startswith("<?", i):
            end = text.find("?>", i)
            if end < 0:
                return False
            i = end + 2
        elif text.startswith("<!--", i):
            end = text.find("-->", i)
            if end < 0:
                return False
            i = end + 3
        elif text.startswith("<!", i):
            return False  # <!DOCTYPE (or <!ENTITY outside a DTD): OOXML never needs one
        elif text.startswith("<", i):
            return True  # the root element
        else:
            return True  # not XML at all: a binary part (image, bin); not our concern here
    # Only prolog within the window: a padded prolog could hide a DOCTYPE further on.
    return len(head) < _PROLOG_WINDOW


def check_ooxml_zip(
    path: str,
    *,
    file_name: str,
    kind: Literal["docx", "xlsx"],
    limits: Limits | None = None,
) -> None:
    """Reject zip bombs and malformed OOXML packages before python-docx or openpyxl opens them.

    Checks, from the central directory and the local headers only: entry count, declared member
    and total sizes, compression ratio of members over 1 MB, overlapping entries (CVE-2024-0450),
    traversal or absolute names, duplicate names, encryption and compression methods, a DOCTYPE
    in any XML part, and that the package's main part is a .docx (or .xlsx) main part.
    """
    limits = limits or Limits()
    entries = read_central_directory(path, file_name=file_name, max_entries=limits.max_zip_entries)
    if not entries:
        raise SourceError(file_name, "unreadable_document")
    file_size = Path(path).stat().st_size
    member_max = limits.max_zip_member_mb * MB
    total_max = limits.max_zip_total_mb * MB
    total = 0
    seen: set[str] = set()
    for e in entries:
        if _bad_member_name(e.name):
            raise SourceError(file_name, "unreadable_document")
        key = e.name.lower()
        if key in seen:
            raise SourceError(file_name, "unreadable_document")
        seen.add(key)
        if e.flags & 0x1:
            raise SourceError(file_name, "encrypted_document")
        if e.method not in (0, 8):
            raise SourceError(file_name, "unreadable_document")
        if e.uncompressed_size > member_max:
            raise SourceError(file_name, "document_too_complex")
        total += e.uncompressed_size
        if total > total_max:
            raise SourceError(file_name, "document_too_complex")
        if e.uncompressed_size > MB and (
            e.compressed_size == 0 or e.uncompressed_size / e.compressed_size > limits.max_zip_ratio
        ):
            raise SourceError(file_name, "document_too_complex")
        if e.method == 0 and e.compressed_size != e.uncompressed_size:
            raise SourceError(file_name, "unreadable_document")

    try:
        with open(path, "rb") as fh:
            # Overlap: each member spans its local header, name, extra field, data and optional
            # data descriptor; spans must be disjoint and lie inside the file.
            spans: list[tuple[int, int]] = []
            for e in entries:
                fh.seek(e.header_offset)
                local = fh.read(30)
                if len(local) != 30 or local[:4] != _LFH_SIG:
                    raise SourceError(file_name, "unreadable_document")
                name_len, extra_len = struct.unpack_from("<HH", local, 26)
                end = e.header_offset + 30 + name_len + extra_len + e.compressed_size
                if e.flags & 0x8:
                    end += 12  # minimal data descriptor (crc, sizes); signature optional
                if end > file_size:
                    raise SourceError(file_name, "unreadable_document")
                spans.append((e.header_offset, end))
            spans.sort()
            for (_s1, e1), (s2, _e2) in itertools.pairwise(spans):
                if s2 < e1:
                    raise SourceError(file_name, "unreadable_document")

            by_name = {e.name: e for e in entries}
            ct = by_name.get("[Content_Types].xml")
            if ct is None:
                raise SourceError(file_name, "invalid_file_type")
            if ct.uncompressed_size > _CONTENT_TYPES_MAX:
                raise SourceError(file_name, "document_too_complex")
            for e in entries:
                if e.uncompressed_size == 0 or e.name.endswith("/"):
                    continue
                head = _read_member_head(fh, e, file_size, _PROLOG_WINDOW, file_name=file_name)
                if not _xml_prolog_ok(head):
                    raise SourceError(file_name, "unreadable_document")
            content_types = _read_member_head(
                fh, ct, file_size, _CONTENT_TYPES_MAX, file_name=file_name
            )
            rels_entry = by_name.get("_rels/.rels")
            rels = b""
            if rels_entry is not None and rels_entry.uncompressed_size <= _CONTENT_TYPES_MAX:
                rels = _read_member_head(
                    fh, rels_entry, file_size, _CONTENT_TYPES_MAX, file_name=file_name
                )
    except OSError as exc:
        raise SourceError(file_name, "unreadable_document") from exc

    main_part = _main_part_name(rels, content_types) or _MAIN_PART[kind]
    if main_part not in by_name:
        raise SourceError(file_name, "unreadable_document")
    if _content_type_of(main_part, content_types) != _MAIN_TYPES[kind]:
        # A .docm/.dotx/.xlsm/.pptx, an .xlsx named .docx, or a zip that is no document.
        raise SourceError(file_name, "invalid_file_type")


def _attr(tag: bytes, name: bytes) -> str | None:
    m = re.search(rb"\b" + name + rb"\s*=\s*(\"[^\"]*\"|'[^']*')", tag)
    return m.group(1)[1:-1].decode("utf-8", errors="replace") if m else None


def _main_part_name(rels: bytes, content_types: bytes) -> str | None:
    """The package's main part: the officeDocument relationship of _rels/.rels."""
    for tag in re.findall(rb"<(?:\w+:)?Relationship\b[^>]*>", rels):
        rel_type = _attr(tag, b"Type") or ""
        if rel_type.endswith("/officeDocument"):
            target = (_attr(tag, b"Target") or "").lstrip("/")
            return target or None
    return None


def _content_type_of(part: str, content_types: bytes) -> str | None:
    """The content type [Content_Types].xml gives a part: its Override, else its Default."""
    wanted = "/" + part.lstrip("/")
    for tag in re.findall(rb"<(?:\w+:)?Override\b[^>]*>", content_types):
        if (_attr(tag, b"PartName") or "").lower() == wanted.lower():
            return _attr(tag, b"ContentType")
    ext = part.rsplit(".", 1)[-1].lower() if "." in part else ""
    for tag in re.findall(rb"<(?:\w+:)?Default\b[^>]*>", content_types):
        if (_attr(tag, b"Extension") or "").lower() == ext:
            return _attr(tag, b"ContentType")
    return None
