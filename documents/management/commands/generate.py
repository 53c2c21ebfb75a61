"""``manage.py generate SOURCE... --template KEY_OR_ID --output OUT.docx``: the pipeline in-process.

No queue and no web server are needed: the sources are read from disk, the template (and style
guide) from the database, and the .docx (and, with ``--json``, the traceability twin) are written
where the user says. A database that was never set up (``make run`` not run yet) is migrated
first, as ``make run`` does. Exit 0 on success, non-zero with a one-line reason otherwise.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from documents.pipeline.errors import GenerationError
from documents.pipeline.safety import FILE_TYPES
from documents.pipeline.types import SourceDescriptor
from documents.pipeline_input import pipeline_input, style_guide_spec


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


class Progress:
    """A one-line progress bar on a terminal, one line per step change otherwise."""

    def __init__(self, stream: Any, enabled: bool = True) -> None:
        self.stream = stream
        self.enabled = enabled
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.last_step: str | None = None
        self.started = time.monotonic()

    def __call__(
        self,
        step: str,
        percent: int,
        sections_done: int | None = None,
        sections_total: int | None = None,
    ) -> None:
        if not self.enabled:
            return
        width = 30
        filled = int(width * percent / 100)
        bar = "#" * filled + "-" * (width - filled)
        extra = f" {sections_done}/{sections_total} sections" if sections_total else ""
        line = f"[{bar}] {percent:3d}% {step}{extra} ({time.monotonic() - self.started:.1f}s)"
        if self.tty:
            self.stream.write("\r" + line.ljust(90))
            self.stream.flush()
        elif step != self.last_step or percent == 100:
            self.stream.write(line + "\n")
        self.last_step = step

    def finish(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")


def _migrate_if_needed(stderr: Any) -> None:
    """Apply the migrations a new data directory lacks (the built-in templates come with them)."""
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        stderr.write(f"Setting up the database first ({len(pending)} migrations, like make run).")
        call_command("migrate", verbosity=0, interactive=False)


class Command(BaseCommand):
    help = "Generate a document from source files in-process (no queue needed)."

    def add_arguments(self, parser):
        parser.add_argument(
            "sources", nargs="+", help="PDF, DOCX, XLSX, RTF, TXT or OUT source files"
        )
        parser.add_argument("--template", required=True, help="template UUID or built-in key")
        parser.add_argument("--output", required=True, help="where to write the .docx")
        parser.add_argument("--style-guide", default=None, help="style guide UUID")
        parser.add_argument("--sections", default="", help="comma-separated section ids")
        parser.add_argument("--instructions", default="", help="document-level instructions")
        parser.add_argument("--writer", choices=["builtin", "llm"], default="builtin")
        parser.add_argument("--json", dest="json_path", default=None, help="write the twin here")
        parser.add_argument(
            "--clean",
            dest="clean_path",
            default=None,
            help="also write the clean copy here (no highlights, comments or QC report; "
            "--output is the review copy)",
        )
        parser.add_argument("--quiet", action="store_true", help="no progress display")

    def handle(self, *args, **options):
        from documents.pipeline.run import run_pipeline
        from documents.pipeline.twin import section_to_dict
        from templates_app.models import StyleGuide, Template
        from templates_app.selectors import template_outline

        _migrate_if_needed(self.stderr)
        sources = []
        for raw in options["sources"]:
            path = Path(raw).expanduser().resolve()
            if not path.is_file():
                raise CommandError(f"{raw}: no such file")
            file_type = FILE_TYPES.get(path.suffix.lower())
            if file_type is None:
                raise CommandError(f"{raw}: not a PDF, DOCX or XLSX file")
            sources.append(
                SourceDescriptor(
                    file_path=str(path),
                    file_name=path.name,
                    sha256=_sha256(path),
                    file_type=file_type,
                    local_path=str(path),
                )
            )

        ref = options["template"]
        template = Template.objects.filter(key=ref).first()
        if template is None:
            try:
                template = Template.objects.filter(pk=uuid.UUID(ref)).first()
            except ValueError:
                template = None
        if template is None:
            raise CommandError(f"{ref}: unknown template (give a UUID or a built-in key)")

        style_guide = None
        if options["style_guide"]:
            try:
                guide = StyleGuide.objects.get(pk=uuid.UUID(options["style_guide"]))
            except (ValueError, StyleGuide.DoesNotExist) as exc:
                raise CommandError(f"{options['style_guide']}: unknown style guide") from exc
            style_guide = style_guide_spec(guide)

        if options["writer"] == "llm" and not (
            settings.FOLIO_LLM_BASE_URL and settings.FOLIO_LLM_MODEL
        ):
            raise CommandError("--writer llm needs FOLIO_LLM_BASE_URL and FOLIO_LLM_MODEL")

        selected = {s.strip() for s in options["sections"].split(",") if s.strip()}
        snapshot = template_outline(template)
        outline_dicts = snapshot.sections
        unknown = selected - {s["section_id"] for s in outline_dicts}
        if unknown:
            raise CommandError(f"unknown section ids: {', '.join(sorted(unknown))}")

        output = Path(options["output"]).expanduser().resolve()
        output.parent.mkdir(parents=True, exist_ok=True)
        # The file names a document id of its own (also the --json twin's), so a reviewed copy of
        # it is recognised as a Folio draft that no server holds.
        document_id = str(uuid.uuid4())
        inp = pipeline_input(
            document_properties={
                "folio_document_id": document_id,
                "folio_version": 1,
                "folio_template_id": str(template.id),
            },
            sources=sources,
            outline_snapshot=outline_dicts,
            selected_section_ids=selected,
            template_name=template.name,
            template_tense=template.tense,
            document_type=template.document_type,
            output_name=output.stem,
            style_guide=style_guide,
            instructions=options["instructions"],
            writer=options["writer"],
        )
        progress = Progress(self.stderr._out, enabled=not options["quiet"])
        started = time.time()
        try:
            result = run_pipeline(inp, report=progress, output_path=str(output) + ".part")
        except GenerationError as exc:
            progress.finish()
            raise CommandError(exc.message) from exc
        progress.finish()
        shutil.move(result.docx_path, output)
        if options["clean_path"]:
            import docx

            from documents.pipeline.copies import make_clean

            clean = docx.Document(str(output))
            make_clean(clean)
            clean_path = Path(options["clean_path"]).expanduser().resolve()
            clean_path.parent.mkdir(parents=True, exist_ok=True)
            clean.save(str(clean_path))

        if options["json_path"]:
            twin = {
                "document_id": document_id,
                "template_id": str(template.id),
                "manifest": {
                    "sources": [
                        {"file_path": s.file_path, "file_name": s.file_name, "sha256": s.sha256}
                        for s in sources
                    ],
                    "template": {
                        "template_id": str(template.id),
                        "name": template.name,
                        "snapshot_sha256": snapshot.sha256,
                    },
                    "style_guide_id": options["style_guide"],
                    "writer": options["writer"],
                    "model": settings.FOLIO_LLM_MODEL if options["writer"] == "llm" else None,
                    "instructions": options["instructions"],
                    "app_version": settings.APP_VERSION,
                    "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
                    "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                },
                "qc": result.qc,
                "sections": [section_to_dict(s) for s in result.sections],
            }
            Path(options["json_path"]).write_text(json.dumps(twin, indent=2, ensure_ascii=False))
        qc = result.qc
        self.stdout.write(
            f"Wrote {output} in {time.time() - started:.1f}s: "
            f"{qc.get('sections_generated', '?')} sections generated, "
            f"{qc.get('sections_no_source', '?')} without source, "
            f"{qc.get('citations_verified', '?')}/{qc.get('citations_total', '?')} "
            "citations verified."
        )
        sys.stdout.flush()
