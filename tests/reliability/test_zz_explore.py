import time, pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from documents import jobs
from documents.models import GeneratedDocument
from tests.fixtures import builders
from tests.reliability import hostile as H
from tests.reliability.conftest import SHORT_OUTLINE

def _b(fn, *a):
    import tempfile, pathlib
    p = pathlib.Path(tempfile.mktemp(suffix=".bin")); fn(p, *a); return p.read_bytes()

CASES = {
 "empty.pdf": lambda: b"",
 "empty.docx": lambda: b"",
 "zip.pdf": lambda: H.docx_with({}),
 "png.pdf": lambda: b"\x89PNG\r\n\x1a\n" + b"\x00"*100,
 "html.pdf": lambda: b"<html><body>hi</body></html>",
 "pdf.docx": lambda: H.text_page_pdf(),
 "ole.docx": lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00"*2000,
 "macro.docx": lambda: _b(builders.build_docm),
 "truncated.pdf": lambda: H.truncated(_b(builders.build_protocol_pdf)),
 "xrefloop.pdf": H.circular_xref_pdf,
 "outlines.pdf": H.outline_cycle_pdf,
 "kids.pdf": H.kids_cycle_pdf,
 "bomb.pdf": H.flate_bomb_pdf,
 "bomb3.pdf": lambda: H.flate_bomb_pdf(100, 3),
 "pages.pdf": H.page_count_bomb_pdf,
 "encrypted.pdf": lambda: _b(builders.build_encrypted_pdf),
 "emptypw.pdf": lambda: _b(builders.build_empty_password_pdf),
 "xmp.pdf": H.xmp_bomb_pdf,
 "control.pdf": H.control_chars_pdf,
 "active.pdf": H.active_content_pdf,
 "scanned.pdf": lambda: _b(builders.build_scanned_pdf),
 "zipbomb.docx": lambda: _b(builders.build_docx_zip_bomb),
 "many.docx": lambda: _b(builders.build_many_entries_docx),
 "overlap.docx": lambda: _b(builders.build_overlapping_zip),
 "lying.docx": H.lying_size_docx,
 "xxe.docx": lambda: H.docx_with({"word/document.xml": b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/hostname">]>' + H.document_xml(b"<w:p><w:r><w:t>&x;</w:t></w:r></w:p>").split(b"?>",1)[1]}),
 "laughs.docx": lambda: _b(builders.build_doctype_docx),
 "laughs_styles.docx": lambda: _b(builders.build_doctype_docx, "word/styles.xml"),
 "deep.docx": H.deep_nesting_docx,
 "bigvalid.docx": H.many_paragraphs_docx,
 "external.docx": lambda: H.external_refs_docx("http://127.0.0.1:9"),
 "traversal.docx": lambda: _b(builders.build_traversal_docx),
 "pixel.docx": H.pixel_flood_docx,
 "nomain.docx": H.missing_main_part_docx,
 "polyglot.pdf": H.polyglot_pdf_zip,
 "polyglot.docx": H.polyglot_pdf_zip,
 "truncated.docx": lambda: H.truncated(H.docx_with({})),
 "dims.xlsx": H.xlsx_huge_dimension,
 "zip64.docx": lambda: _b(builders.build_zip64_docx),
 "shared.pdf": lambda: H.shared_stream_pdf(400, 2000),
}

@pytest.mark.timeout(900)
@pytest.mark.django_db
def test_explore(member, api_client, django_capture_on_commit_callbacks, clean_queue):
    client = api_client(member)
    out = []
    for name, make in CASES.items():
        data = make()
        t = time.monotonic()
        r = client.post("/api/v1/files/upload", {"file_content": SimpleUploadedFile(name, data)}, format="multipart")
        up = time.monotonic() - t
        if r.status_code != 201:
            out.append(f"{name:20} size={len(data):>9} upload {r.status_code} {r.json().get('code')} {up:.2f}s  {r.json().get('detail')[:80]}")
            continue
        path = r.json()["file_path"]
        with django_capture_on_commit_callbacks(execute=True):
            g = client.post("/api/v1/documents/generate", {"document_type":"CSR","file_paths":[path],"connector_data_id":"s","workspace_name":"s","template_id":"ich-e3-csr","output_name":name,"generic_mrt_outline_full":SHORT_OUTLINE}, format="json")
        tid = g.json()["task_id"]
        t = time.monotonic()
        res = jobs.run_generation(tid)
        el = time.monotonic() - t
        d = GeneratedDocument.objects.get(pk=tid)
        out.append(f"{name:20} size={len(data):>9} job {d.status} {d.error_code} {el:.2f}s {res} {(d.error or '')[:60]}")
        print(out[-1], flush=True)
    print("\n".join(out))
