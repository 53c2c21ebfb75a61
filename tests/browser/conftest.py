"""Browser test fixtures: Debian's chromium, driven by Playwright, against the live server.

- ``browser`` (session): chromium launched headless from ``shutil.which("chromium")``; the tests
  are marked ``browser`` and skip with a clear message when it is absent (tests/conftest.py).
- ``page``: a fresh context per test, its base URL the live server's.
- ``login(page, user)``: logs in through the real form (labels Username / Password, "Log in").
- ``worker``: an RQ ``SimpleWorker`` in a background thread, so queued generations run while the
  browser watches. The live server uses an in-memory SQLite database that only this process can
  see, so the worker shares the test's connection exactly as Django's live-server threads do.
- ``source_files``: a small protocol PDF and SAP DOCX built here (or by tests/fixtures/builders.py
  when present), so the suite needs nothing outside the repository.
- ``shot(page, name)``: a full-page screenshot into docs/screenshots/ when FOLIO_SCREENSHOTS=1,
  else into the test's temporary directory (the page is still rendered and captured).
"""

from __future__ import annotations

import io
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

# Playwright's sync API keeps an event loop in the main thread; the test's own ORM calls are
# still synchronous and safe, so Django's async-context guard is lifted for these tests only.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = PROJECT_ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip(
            "chromium not found: browser tests need Debian's chromium (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any, live_server: Any, settings: Any) -> Iterator[Any]:
    if not settings.SESSION_COOKIE_SECURE and settings.SESSION_COOKIE_NAME.startswith("__Host-"):
        # A __Host- cookie needs HTTPS; the live server speaks plain HTTP.
        settings.SESSION_COOKIE_NAME = "sessionid"
    context = browser.new_context(
        base_url=live_server.url, accept_downloads=True, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def login() -> Callable[[Any, Any], None]:
    def do_login(page: Any, user: Any) -> None:
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(user.get_username())
        page.get_by_label("Password").fill(f"pw-{user.get_username()}")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(lambda url: urlsplit(url).path == "/")

    return do_login


@pytest.fixture
def shot(tmp_path: Path) -> Callable[..., Path]:
    def take(page: Any, name: str, *, full_page: bool = True) -> Path:
        folder = SCREENSHOT_DIR if os.environ.get("FOLIO_SCREENSHOTS") == "1" else tmp_path
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


# --- the worker ---------------------------------------------------------------------------------


class _ThreadWorker:
    """Runs every queued job, again and again, until stopped (a burst ``SimpleWorker`` per pass)."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.errors: list[BaseException] = []

    def run(self, connection: Any) -> None:
        import django_rq
        from django.db import connections
        from rq import SimpleWorker
        from rq.timeouts import TimerDeathPenalty

        class ThreadSimpleWorker(SimpleWorker):
            # Signals and SIGALRM work only in the main thread.
            death_penalty_class = TimerDeathPenalty

            def _install_signal_handlers(self) -> None:
                return None

        if connection is not None:
            connections["default"] = connection
        try:
            while not self.stop.is_set():
                queue = django_rq.get_queue("default")
                ThreadSimpleWorker(
                    [queue], connection=queue.connection, serializer=queue.serializer
                ).work(burst=True, with_scheduler=False)
                self.stop.wait(0.2)
        except BaseException as exc:  # surfaced by the fixture
            self.errors.append(exc)


@pytest.fixture
def worker(live_server: Any, clean_queue: Any) -> Iterator[_ThreadWorker]:
    from django.db import close_old_connections, connections

    connection = connections["default"]
    shared = connection.vendor == "sqlite" and connection.is_in_memory_db()
    if shared:
        connection.inc_thread_sharing()
    else:
        close_old_connections()
    runner = _ThreadWorker()
    thread = threading.Thread(
        target=runner.run, args=(connection if shared else None,), daemon=True
    )
    thread.start()
    try:
        yield runner
    finally:
        runner.stop.set()
        thread.join(timeout=60)
        if shared:
            connection.dec_thread_sharing()
    assert not runner.errors, runner.errors


# --- source files built by the tests ------------------------------------------------------------

PROTOCOL_SECTIONS: list[tuple[str, list[str]]] = [
    (
        "1 Introduction",
        [
            "Hypertension affects one in three adults and remains poorly controlled.",
            "Study drug FOL-101 lowered blood pressure in earlier phase 1 studies.",
        ],
    ),
    (
        "2 Study Objectives",
        [
            "The primary objective is to compare the change in systolic blood pressure from "
            "baseline to week 12 between FOL-101 and placebo.",
        ],
    ),
    (
        "3 Investigational Plan",
        [
            "This is a randomised, double-blind, placebo-controlled, parallel-group study.",
            "A total of 120 participants will be randomised 1:1 to FOL-101 or placebo.",
        ],
    ),
    (
        "4 Selection of Study Population",
        [
            "Participants must be adults aged 18 to 75 years with stage 1 or 2 hypertension.",
            "Participants with secondary hypertension are excluded.",
        ],
    ),
    (
        "5 Statistical Methods",
        [
            "The primary endpoint will be analysed with an analysis of covariance model with "
            "treatment as a factor and baseline systolic blood pressure as a covariate.",
            "A sample size of 60 participants per arm gives 90% power to detect a difference "
            "of 8 mmHg.",
        ],
    ),
]


def _protocol_pdf() -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer

    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    story: list[Any] = [
        Paragraph("Clinical Study Protocol FOL-101-201", styles["Title"]),
        Paragraph(
            "A Randomised, Double-blind, Placebo-controlled Study of FOL-101 in Adults with "
            "Hypertension",
            styles["Heading2"],
        ),
        Paragraph("Protocol number: FOL-101-201", styles["Normal"]),
        Paragraph("Sponsor: Folio Therapeutics Ltd", styles["Normal"]),
        Paragraph("Phase: 2", styles["Normal"]),
        PageBreak(),
    ]
    for heading, paragraphs in PROTOCOL_SECTIONS:
        story.append(Paragraph(heading, styles["Heading1"]))
        for text in paragraphs:
            story.append(Paragraph(text, styles["Normal"]))
            story.append(Spacer(1, 6))
    SimpleDocTemplate(buffer, pagesize=A4, title="Clinical Study Protocol FOL-101-201").build(story)
    return buffer.getvalue()


def _sap_docx() -> bytes:
    from docx import Document

    document = Document()
    document.add_heading("Statistical Analysis Plan FOL-101-201", level=0)
    document.add_heading("1 Analysis Populations", level=1)
    document.add_paragraph(
        "The full analysis set includes every randomised participant who received at least one "
        "dose of study drug."
    )
    document.add_heading("2 Statistical Methods", level=1)
    document.add_paragraph(
        "Missing week 12 values will be imputed by multiple imputation under a missing-at-random "
        "assumption."
    )
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def source_files(tmp_path: Path) -> list[Path]:
    """A protocol as PDF and as Word, ready for a file input.

    Built by the shared tests/fixtures/builders.py when present (the suite's reference protocol),
    else by the small builders above.
    """
    protocol = tmp_path / "protocol.pdf"
    word = tmp_path / "protocol.docx"
    try:
        from tests.fixtures.builders import build_protocol_docx, build_protocol_pdf
    except ImportError:  # pragma: no cover - the shared builders are part of the suite
        protocol.write_bytes(_protocol_pdf())
        word.write_bytes(_sap_docx())
    else:
        build_protocol_pdf(protocol)
        build_protocol_docx(word)
    return [protocol, word]
