"""Hostile files built at test time (reliability plan §A), beside tests/fixtures/builders.py.

Each builder returns bytes. PDFs are written object by object (``raw_pdf``), so malformed
structure (cycles, bombs, lying counts) is exact; DOCX and XLSX variants start from a valid
package and change one thing.
"""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib

from tests.fixtures import builders

MB = 1024 * 1024
W_NS = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


# --- PDF -----------------------------------------------------------------------------------------


def stream(data: bytes, *, filters: tuple[str, ...] = (), extra: bytes = b"") -> bytes:
    """A stream object body: data encoded with ``filters`` (outermost last), its dictionary."""
    encoded = data
    for name in filters:
        assert name == "FlateDecode"
        encoded = zlib.compress(encoded, 9)
    chain = list(reversed(filters))
    filt = b""
    if chain:
        filt = b"/Filter [" + b" ".join(b"/" + f.encode() for f in chain) + b"]"
    return (
        b"<< /Length "
        + str(len(encoded)).encode()
        + b" "
        + filt
        + extra
        + b" >>\nstream\n"
        + encoded
        + b"\nendstream"
    )


def raw_pdf(objects: list[bytes], *, root: int = 1, trailer_extra: bytes = b"") -> bytes:
    """A PDF of ``objects`` (bodies of objects 1..n) with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root {root} 0 R ".encode()
        + trailer_extra
        + f">>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def text_page_pdf(text: bytes = b"(Hello from a hostile test file.) Tj") -> bytes:
    content = b"BT /F1 12 Tf 72 720 Td " + text + b" ET"
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
            stream(content),
            FONT,
        ]
    )


def flate_bomb_pdf(megabytes: int = 100, layers: int = 1) -> bytes:
    """A content stream that inflates to ``megabytes`` MB of spaces (over pypdf's 75 MB cap)."""
    spaces = b" " * (megabytes * MB)
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
            stream(spaces, filters=("FlateDecode",) * layers),
        ]
    )


def shared_stream_pdf(pages: int = 400, kilobytes: int = 2000) -> bytes:
    """One large text stream shared by every page: CPU amplification under every size limit."""
    line = b"BT /F1 9 Tf 10 10 Td (amplify amplify amplify amplify) Tj ET\n"
    content = line * (kilobytes * 1024 // len(line))
    kids = b" ".join(f"{4 + i} 0 R".encode() for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count " + str(pages).encode() + b" >>",
        stream(content, filters=("FlateDecode",)),
    ]
    for _ in range(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 " + str(4 + pages).encode() + b" 0 R >> >> "
            b"/Contents 3 0 R >>"
        )
    objects.append(FONT)
    return raw_pdf(objects)


def page_count_bomb_pdf(pages: int = 100_000) -> bytes:
    """A page tree listing one page object ``pages`` times (a 600 KB file, 100 000 pages)."""
    kids = b" ".join([b"3 0 R"] * pages)
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [" + kids + b"] /Count " + str(pages).encode() + b" >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
        ]
    )


def kids_cycle_pdf() -> bytes:
    """A page tree whose /Kids contains its own ancestor."""
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 2 >>",
            b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R 4 0 R] /Count 2 >>",
            b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 612 792] /Contents 5 0 R "
            b"/Resources << /Font << /F1 6 0 R >> >> >>",
            stream(b"BT /F1 12 Tf 72 720 Td (Cycle page text.) Tj ET"),
            FONT,
        ]
    )


def outline_cycle_pdf() -> bytes:
    """Document outlines whose /Next points back at the first item (CVE-2026-24688 shape)."""
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R /Outlines 6 0 R /PageMode /UseOutlines >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            stream(b"BT /F1 12 Tf 72 720 Td (Outline cycle text.) Tj ET"),
            FONT,
            b"<< /Type /Outlines /First 7 0 R /Last 8 0 R /Count 2 >>",
            b"<< /Title (One) /Parent 6 0 R /Next 8 0 R /Dest [3 0 R /Fit] >>",
            b"<< /Title (Two) /Parent 6 0 R /Prev 7 0 R /Next 7 0 R /Dest [3 0 R /Fit] >>",
        ]
    )


def circular_xref_pdf() -> bytes:
    """Two xref sections whose /Prev point at each other (CVE-2026-27628 shape)."""
    body = text_page_pdf()
    head = body[: body.index(b"xref\n")]
    first = len(head)
    table = b"xref\n0 1\n0000000000 65535 f \n"
    second = first + len(table) + 80
    part1 = table + f"trailer\n<< /Size 6 /Root 1 0 R /Prev {second} >>\n".encode()
    part1 = part1.ljust(second - first, b" ")
    part2 = table + f"trailer\n<< /Size 6 /Root 1 0 R /Prev {first} >>\n".encode()
    return head + part1 + part2 + f"startxref\n{first}\n%%EOF\n".encode()


def control_chars_pdf() -> bytes:
    """Text whose ToUnicode map yields NUL, VT, U+FFFE and a lone surrogate amid real words."""
    cmap = (
        b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
        b"/CMapName /Hostile def /CMapType 2 def\n"
        b"1 begincodespacerange <00> <FF> endcodespacerange\n"
        b"4 beginbfchar\n<01> <0000>\n<02> <000B>\n<03> <FFFE>\n<04> <D800>\nendbfchar\n"
        b"1 beginbfrange\n<20> <7E> <0020>\nendbfrange\n"
        b"endcmap CMapName currentdict /CMap defineresource pop end end"
    )
    words = b"The Hostile Study tests control characters in its title"
    shown = words.replace(b"Hostile", b"Host\x01ile").replace(b"control", b"con\x02tr\x03ol\x04")
    content = b"BT /F1 12 Tf 72 720 Td <" + shown.hex().encode() + b"> Tj ET"
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
            stream(content),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R >>",
            stream(cmap),
        ]
    )


def active_content_pdf() -> bytes:
    """JavaScript on open, a /Launch action and an embedded file, beside ordinary text."""
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R /OpenAction 6 0 R "
            b"/Names << /EmbeddedFiles << /Names [(evil.exe) 7 0 R] >> "
            b"/JavaScript << /Names [(js) 6 0 R] >> >> >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> /AA << /O 9 0 R >> >>",
            stream(b"BT /F1 12 Tf 72 720 Td (A protocol with active content.) Tj ET"),
            FONT,
            b"<< /S /JavaScript /JS (app.alert('x');) >>",
            b"<< /Type /Filespec /F (evil.exe) /EF << /F 8 0 R >> >>",
            stream(b"MZ" + b"\x00" * 64, extra=b" /Type /EmbeddedFile"),
            b"<< /S /Launch /F (calc.exe) >>",
        ]
    )


def xmp_bomb_pdf() -> bytes:
    """An XMP metadata stream with a billion-laughs DOCTYPE."""
    xmp = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(
            f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(8)
        )
        + b']><x:xmpmeta xmlns:x="adobe:ns:meta/">&i;</x:xmpmeta>'
    )
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R /Metadata 6 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            stream(b"BT /F1 12 Tf 72 720 Td (Metadata bomb text.) Tj ET"),
            FONT,
            stream(xmp, extra=b" /Type /Metadata /Subtype /XML"),
        ]
    )


def truncated(data: bytes, keep: float = 0.4) -> bytes:
    return data[: max(16, int(len(data) * keep))]


# --- DOCX ----------------------------------------------------------------------------------------


def docx_members(paragraphs: tuple[str, ...] = ("Hello from Word.",)) -> list[tuple[str, bytes]]:
    buf = io.BytesIO()
    builders.build_plain_docx(buf, paragraphs)  # type: ignore[arg-type]
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
        return [(info.filename, z.read(info.filename)) for info in z.infolist()]


def docx_with(replace: dict[str, bytes | None], add: dict[str, bytes] | None = None) -> bytes:
    """The plain .docx with some parts replaced (None removes the part) and some added."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in docx_members(("A protocol paragraph with text.",)):
            if name in replace:
                if replace[name] is None:
                    continue
                data = replace[name]  # type: ignore[assignment]
            z.writestr(name, data)
        for name, data in (add or {}).items():
            z.writestr(name, data)
    return buf.getvalue()


def document_xml(body: bytes) -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document '
        + W_NS
        + b"><w:body>"
        + body
        + b"</w:body></w:document>"
    )


def deep_nesting_docx(depth: int = 5000) -> bytes:
    body = b"<w:sdt><w:sdtContent>" * depth + b"<w:p><w:r><w:t>deep</w:t></w:r></w:p>"
    body += b"</w:sdtContent></w:sdt>" * depth
    return docx_with({"word/document.xml": document_xml(body)})


def many_paragraphs_docx(paragraphs: int = 400_000, seed: int = 7) -> bytes:
    """Big but valid: many short, varied paragraphs (compresses less than 200:1)."""
    rng = random.Random(seed)
    parts = [
        b"<w:p><w:r><w:t>%d</w:t></w:r></w:p>" % rng.randrange(10**9) for _ in range(paragraphs)
    ]
    return docx_with({"word/document.xml": document_xml(b"".join(parts))})


def lying_size_docx(real_megabytes: int = 50) -> bytes:
    """document.xml's headers declare 1000 bytes; its data inflates to ``real_megabytes`` MB."""
    payload = document_xml(
        b"<w:p><w:r><w:t>" + b"a" * (real_megabytes * MB) + b"</w:t></w:r></w:p>"
    )
    # Build a valid package, then patch document.xml's declared sizes to 1000.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in docx_members(("x",)):
            z.writestr(name, payload if name == "word/document.xml" else data)
    data = bytearray(buf.getvalue())
    name = b"word/document.xml"
    # Local header: sizes at offset 18 (compressed) and 22 (uncompressed) from its signature.
    at = data.find(b"PK\x03\x04" + data[4:6])
    while at != -1:
        n_len = struct.unpack_from("<H", data, at + 26)[0]
        if data[at + 30 : at + 30 + n_len] == name:
            struct.pack_into("<I", data, at + 22, 1000)
            break
        at = data.find(b"PK\x03\x04", at + 4)
    at = data.find(b"PK\x01\x02")
    while at != -1:
        n_len = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + n_len] == name:
            struct.pack_into("<I", data, at + 24, 1000)
            break
        at = data.find(b"PK\x01\x02", at + 4)
    return bytes(data)


def external_refs_docx(url: str) -> bytes:
    """An external hyperlink and image relationship and a remote attachedTemplate, to ``url``."""
    rels_doc = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        b'<Relationship Id="rIdX1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/hyperlink" Target="' + url.encode() + b'/link" TargetMode="External"/>'
        b'<Relationship Id="rIdX2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/image" Target="' + url.encode() + b'/image.png" TargetMode="External"/>'
        b'<Relationship Id="rIdX3" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/styles" Target="styles.xml"/>'
        b"</Relationships>"
    )
    settings_rels = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        b'<Relationship Id="rIdT" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/attachedTemplate" Target="' + url.encode() + b'/template.dotm" '
        b'TargetMode="External"/></Relationships>'
    )
    body = (
        b'<w:p><w:hyperlink r:id="rIdX1" xmlns:r="http://schemas.openxmlformats.org/'
        b'officeDocument/2006/relationships"><w:r><w:t>A linked protocol paragraph.</w:t>'
        b"</w:r></w:hyperlink></w:p><w:p><w:r><w:t>Plain text after the link.</w:t></w:r></w:p>"
    )
    return docx_with(
        {"word/document.xml": document_xml(body), "word/_rels/document.xml.rels": rels_doc},
        add={"word/_rels/settings.xml.rels": settings_rels},
    )


def pixel_flood_docx() -> bytes:
    """A PNG header claiming 65535 x 65535 pixels inside the package (never decoded)."""
    png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR"
    ihdr = struct.pack(">IIBBBBB", 65535, 65535, 8, 2, 0, 0, 0)
    png += ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) + b"\x00" * 64
    return docx_with({}, add={"word/media/image1.png": png})


def missing_main_part_docx() -> bytes:
    return docx_with({"word/document.xml": None})


def polyglot_pdf_zip() -> bytes:
    """Valid PDF bytes followed by a valid zip (readable as both)."""
    return text_page_pdf() + docx_with({})


# --- XLSX ----------------------------------------------------------------------------------------


def xlsx_bytes(rows: int = 3) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Results"
    ws.append(["Arm", "N", "Mean"])
    for i in range(rows):
        ws.append([f"Arm {i}", 10 + i, 1.5 + i])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def xlsx_huge_dimension() -> bytes:
    """A sheet declaring A1:XFD1048576 with three real rows (read-only mode trusts dimensions)."""
    data = xlsx_bytes()
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z,
    ):
        for info in src.infolist():
            part = src.read(info.filename)
            if info.filename.startswith("xl/worksheets/sheet"):
                part = part.replace(
                    b'<dimension ref="A1:C4"/>', b'<dimension ref="A1:XFD1048576"/>'
                )
            z.writestr(info.filename, part)
    return out.getvalue()
