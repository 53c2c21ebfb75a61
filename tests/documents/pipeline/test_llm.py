"""The OpenAI-compatible writer against a small local HTTP server started by the test."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from documents.pipeline import llm, qc
from documents.pipeline.citations import QuoteLocator
from documents.pipeline.errors import LLMUnavailable
from documents.pipeline.types import Block, OutlineSection, StyleGuideSpec
from tests.documents.pipeline.test_orchestrate import by_number, pdf_source, protocol, sap, write

Reply = tuple[int, Any] | Callable[[dict[str, Any]], tuple[int, Any]]


class FakeLLM:
    """A chat-completions endpoint answering from a queue of replies (the last one repeats)."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.delay = 0.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append({"path": self.path, **body})
                fake.headers.append(dict(self.headers))
                if fake.delay:
                    time.sleep(fake.delay)
                reply = fake.replies.pop(0) if len(fake.replies) > 1 else fake.replies[0]
                status, payload = reply(body) if callable(reply) else reply
                data = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    server = FakeLLM()
    yield server
    server.close()


def answer(text: str) -> tuple[int, dict[str, Any]]:
    return 200, {"choices": [{"message": {"role": "assistant", "content": text}}]}


def config(url: str, **kw: Any) -> llm.LLMConfig:
    return llm.LLMConfig(
        base_url=url,
        model="test-model",
        api_key="secret-key",
        timeout=kw.pop("timeout", 5.0),
        backoff=kw.pop("backoff", 0.01),
        **kw,
    )


SOURCE = pdf_source(
    "protocol.pdf",
    "protocol",
    [
        [
            ("p", "Patients will be randomized to zanotinib 50 mg or placebo."),
            ("p", "Approximately 120 patients will be enrolled at 12 sites."),
        ]
    ],
)
SECTION = OutlineSection(
    section_id="s",
    number="9.1",
    title="Overall Study Design",
    level=2,
    instructions="Describe the design.",
)


def passages() -> list[llm.Passage]:
    locator = QuoteLocator([SOURCE])
    out = []
    for block in SOURCE.blocks:
        out.append(
            llm.Passage(text=block.text, citations=tuple(locator.locate(0, block, block.text)))
        )
    return out


def test_supported_sentences_are_kept_with_verified_citations_and_invented_numbers_dropped(
    fake_llm: FakeLLM,
) -> None:
    fake_llm.replies = [
        answer(
            "Patients were randomized to zanotinib 50 mg or placebo [1]. Approximately 120 "
            "patients were enrolled at 12 sites [2].\n\nThe study enrolled 500 patients at 40 "
            "sites [2]. Zanotinib cures "
            "psoriasis in every patient [3]. An uncited sentence about placebo."
        )
    ]
    draft = llm.write_section_llm(
        SECTION, passages(), style_guide=None, instructions="", config=config(fake_llm.url)
    )
    assert draft.state == "generated"
    assert [p.text for p in draft.paragraphs] == [
        "Patients were randomized to zanotinib 50 mg or placebo. Approximately 120 patients "
        "were enrolled at 12 sites."
    ]
    para = draft.paragraphs[0]
    assert para.citations and all(qc.verify_citation(c, [SOURCE]) for c in para.citations)
    assert "llm_sentences_dropped: 3" in para.flags
    assert qc.quality_report([draft], [SOURCE])["llm_sentences_dropped"] == 3


def test_the_request_carries_model_numbered_passages_instructions_style_and_key(
    fake_llm: FakeLLM,
) -> None:
    fake_llm.replies = [answer("Patients were randomized to zanotinib 50 mg or placebo [1].")]
    guide = StyleGuideSpec(
        tense="past", preferred_terms={"participant": ["patient"]}, banned_phrases=("cure",)
    )
    llm.write_section_llm(
        SECTION,
        passages(),
        style_guide=guide,
        instructions="Be concise.",
        config=config(fake_llm.url),
    )
    request = fake_llm.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["model"] == "test-model"
    system, user = request["messages"][0]["content"], request["messages"][1]["content"]
    assert "[1] Patients will be randomized" in user and "[2] Approximately 120 patients" in user
    assert "Describe the design." in user and "Be concise." in system
    assert "participant" in system and "cure" in system and "past tense" in system
    assert fake_llm.headers[0].get("Authorization") == "Bearer secret-key"


def test_it_retries_a_server_error_and_then_succeeds(fake_llm: FakeLLM) -> None:
    fake_llm.replies = [
        (503, {"error": "busy"}),
        (500, {"error": "oops"}),
        answer("Patients were randomized to zanotinib 50 mg or placebo [1]."),
    ]
    draft = llm.write_section_llm(
        SECTION, passages(), style_guide=None, instructions="", config=config(fake_llm.url)
    )
    assert len(fake_llm.requests) == 3
    assert draft.paragraphs[0].text == "Patients were randomized to zanotinib 50 mg or placebo."


def test_it_gives_up_after_three_attempts_with_a_clear_error(fake_llm: FakeLLM) -> None:
    fake_llm.replies = [(502, {"error": "down"})]
    with pytest.raises(LLMUnavailable) as caught:
        llm.write_section_llm(
            SECTION, passages(), style_guide=None, instructions="", config=config(fake_llm.url)
        )
    assert len(fake_llm.requests) == 3
    assert caught.value.code == "llm_unavailable"
    assert "HTTP 502" in caught.value.message


def test_a_client_error_is_not_retried(fake_llm: FakeLLM) -> None:
    fake_llm.replies = [(401, {"error": "bad key"})]
    with pytest.raises(LLMUnavailable):
        llm.write_section_llm(
            SECTION, passages(), style_guide=None, instructions="", config=config(fake_llm.url)
        )
    assert len(fake_llm.requests) == 1


def test_a_timeout_counts_as_a_failed_attempt(fake_llm: FakeLLM) -> None:
    fake_llm.delay = 0.5
    fake_llm.replies = [answer("late [1].")]
    start = time.monotonic()
    with pytest.raises(LLMUnavailable):
        llm.write_section_llm(
            SECTION,
            passages(),
            style_guide=None,
            instructions="",
            config=config(fake_llm.url, timeout=0.1),
        )
    assert time.monotonic() - start < 5


def test_a_down_endpoint_raises_llm_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(LLMUnavailable) as caught:
        llm.write_section_llm(
            SECTION,
            passages(),
            style_guide=None,
            instructions="",
            config=config(f"http://127.0.0.1:{port}/v1"),
        )
    assert "did not answer" in caught.value.message


def test_an_unconfigured_writer_is_unavailable() -> None:
    with pytest.raises(LLMUnavailable) as caught:
        llm.require_config(None)
    assert "not configured" in caught.value.message
    with pytest.raises(LLMUnavailable):
        write([protocol()], writer="llm")  # no PipelineInput.llm: the run stops, named


def test_the_llm_configuration_comes_from_django_settings(settings: Any) -> None:
    from documents.pipeline_input import llm_config_from_settings

    settings.FOLIO_LLM_BASE_URL = None
    assert llm_config_from_settings() is None
    settings.FOLIO_LLM_BASE_URL = "http://127.0.0.1:9/v1"
    settings.FOLIO_LLM_MODEL = "m"
    settings.FOLIO_LLM_API_KEY = "secret"
    settings.FOLIO_LLM_TIMEOUT = 7
    config = llm_config_from_settings()
    assert config == llm.LLMConfig("http://127.0.0.1:9/v1", "m", api_key="secret", timeout=7.0)
    assert "secret" not in repr(config)


def test_endpoint_urls_accept_a_base_with_or_without_v1() -> None:
    assert llm.LLMConfig("http://h:1", "m").endpoint == "http://h:1/v1/chat/completions"
    assert llm.LLMConfig("http://h:1/v1/", "m").endpoint == "http://h:1/v1/chat/completions"
    assert (
        llm.LLMConfig("http://h:1/v1/chat/completions", "m").endpoint
        == "http://h:1/v1/chat/completions"
    )


def echo_passages(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A model that restates each passage with its number, then invents one sentence."""
    user = body["messages"][1]["content"]
    found = re.findall(r"^\[(\d+)\] (.+)$", user, flags=re.M)
    sentences = [f"{text.rstrip('.')} [{n}]." for n, text in found]
    sentences.append(f"The study randomized 4321 patients [{found[0][0] if found else 1}].")
    return answer(" ".join(sentences))


def test_the_llm_writer_in_the_pipeline_keeps_lists_and_drops_what_it_invents(
    fake_llm: FakeLLM,
) -> None:
    fake_llm.replies = [echo_passages]
    sources = [protocol(), sap()]
    drafts = write(sources, writer="llm", llm=config(fake_llm.url))
    found = by_number(drafts)
    assert fake_llm.requests, "the model was asked"
    inclusion = found["9.3.1"]
    assert [p.list_label for p in inclusion.paragraphs if p.style == "list"] == [
        "[1]",
        "[2]",
        "[3]",
    ]
    report = qc.quality_report(drafts, sources)
    assert report["llm_sentences_dropped"] > 0
    assert report["unsupported_numbers"] == 0
    assert report["citations_verified"] == report["citations_total"]
    assert "4321" not in " ".join(p.text for d in drafts for p in d.paragraphs)


def test_passages_of_a_sentence_are_cited_with_their_own_verified_quotes() -> None:
    locator = QuoteLocator([SOURCE])
    block = Block(
        1, "paragraph", "Patients will be randomized to zanotinib 50 mg or placebo.", page=1
    )
    cites = locator.locate(0, block, block.text)
    assert cites and cites[0].quote.endswith("placebo.")
    assert llm.supported(
        "Patients were randomized to zanotinib 50 mg.", [llm.Passage(block.text, tuple(cites))], [1]
    )
    assert not llm.supported(
        "Patients were randomized to zanotinib 75 mg.", [llm.Passage(block.text, tuple(cites))], [1]
    )
    assert not llm.supported(
        "Patients were randomized.", [llm.Passage(block.text, tuple(cites))], [2]
    )
