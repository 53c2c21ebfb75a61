"""Fixtures every test may use: the queue server, personas, an authenticated API client, a worker.

- ``redis_server`` (session, autouse) starts an embedded valkey-server without persistence unless
  ``REDIS_URL`` is set, and points django-rq at it. The suite never touches the machine's Redis
  on 6379 unless ``REDIS_URL`` says so.
- ``clean_queue`` empties the queue before a test; ``rq_worker`` returns ``drain()``, which runs
  every queued job in-process with an RQ ``SimpleWorker`` (so jobs see the test database).
- Personas: ``org`` with ``member`` and ``manager``; ``other_org`` with ``outsider``. Each
  password is ``"pw-" + username``.
- ``api_client(user)`` is a DRF ``APIClient`` holding a real access token for ``user``.
- ``corpus_dir`` is ``../shared/corpus``; tests marked ``corpus`` skip when it is absent, tests
  marked ``browser`` skip when no ``chromium`` is installed.
- ``--reliability-report PATH`` writes a Markdown summary of the run (``make reliability``).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIR = PROJECT_ROOT.parent / "shared" / "corpus"
CORPUS_MISSING = (
    f"{CORPUS_DIR} not found: corpus tests need the shared folder beside the project "
    "(../shared/corpus)"
)
CHROMIUM_MISSING = (
    "chromium not found: browser tests need Debian's chromium "
    "(`apt-get install chromium`; .ci/run installs it)"
)


# --- Collection: skips that say why, and the reliability report ---------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--reliability-report",
        metavar="PATH",
        default=None,
        help="write a Markdown summary of the selected tests' outcomes to PATH",
    )


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    no_chromium = chromium_path() is None
    no_corpus = not CORPUS_DIR.is_dir()
    for item in items:
        if no_chromium and item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.skip(reason=CHROMIUM_MISSING))
        if no_corpus and item.get_closest_marker("corpus"):
            item.add_marker(pytest.mark.skip(reason=CORPUS_MISSING))


_REPORT_ROWS: list[tuple[str, str, str, float]] = []


def _first_doc_line(item: pytest.Item) -> str:
    doc = getattr(getattr(item, "function", None), "__doc__", None) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if item.config.getoption("--reliability-report") and (
        report.when == "call" or (report.when == "setup" and report.outcome != "passed")
    ):
        _REPORT_ROWS.append((item.nodeid, report.outcome, _first_doc_line(item), report.duration))
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = session.config.getoption("--reliability-report")
    if not target:
        return
    counts: dict[str, int] = {}
    for _, outcome, _, _ in _REPORT_ROWS:
        counts[outcome] = counts.get(outcome, 0) + 1
    lines = [
        "# Reliability",
        "",
        "Bad-input, fault and attack cases (tests marked `reliability`), as last run by "
        f"`make reliability` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}). "
        "Generated: edit the tests (and tests/reliability/scope.md), not this file.",
        "",
        "Outcomes: "
        + (", ".join(f"{n} {o}" for o, n in sorted(counts.items())) or "no tests selected"),
        "",
        "| test | case | outcome | seconds |",
        "|---|---|---|---|",
    ]
    for nodeid, outcome, doc, duration in _REPORT_ROWS:
        case = doc.replace("|", "\\|")
        lines.append(f"| `{nodeid}` | {case} | {outcome} | {duration:.2f} |")
    path = Path(target)
    if not path.is_absolute():
        path = Path(session.config.rootpath) / path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


# --- The queue ----------------------------------------------------------------------------------


_EMBEDDED: dict[str, str] = {}


@pytest.fixture(scope="session", autouse=True)
def redis_server() -> Iterator[str]:
    """The queue's URL for the whole session: ``REDIS_URL``, else an embedded valkey-server."""
    from django.conf import settings

    from portal import embedded_redis
    from portal.settings import redis_queue_config

    server: embedded_redis.EmbeddedRedis | None = None
    url = os.environ.get("REDIS_URL", "").strip()
    if not url:
        server = embedded_redis.for_tests()
        url = server.start()
        os.environ["REDIS_URL"] = url
        _EMBEDDED["url"] = url
    # Mutate in place: django_rq reads this very dict (django_rq.settings.QUEUES).
    settings.RQ_QUEUES["default"].update(redis_queue_config(url))
    try:
        yield url
    finally:
        if server is not None:
            server.stop()
            os.environ.pop("REDIS_URL", None)
            _EMBEDDED.clear()


@pytest.fixture
def clean_queue(redis_server: str) -> Iterator[Any]:
    """Empty the default queue and its registries; yields the queue.

    The session's embedded server is flushed whole. On a server named by ``REDIS_URL`` only RQ's
    keys (``rq:*``) are deleted, so a shared Redis keeps everything else.
    """
    import django_rq

    queue = django_rq.get_queue("default")
    connection = queue.connection
    if _EMBEDDED.get("url") == redis_server:
        connection.flushdb()
    else:
        keys = list(connection.scan_iter(match="rq:*", count=1000))
        if keys:
            connection.delete(*keys)
    yield queue


@pytest.fixture
def rq_worker(redis_server: str) -> Callable[[], bool]:
    """``drain()`` runs every job queued on ``default`` in this process, then returns."""
    import django_rq
    from rq import SimpleWorker

    def drain() -> bool:
        queue = django_rq.get_queue("default")
        worker = SimpleWorker([queue], connection=queue.connection, serializer=queue.serializer)
        return bool(worker.work(burst=True))

    return drain


# --- Personas -----------------------------------------------------------------------------------


def _persona(organization: Any, username: str, role: str) -> Any:
    from portal.management.commands.create_org_user import org_user_ensure

    user, _ = org_user_ensure(
        organization_name=organization.name,
        username=username,
        password=f"pw-{username}",
        role=role,
        validate=False,
    )
    return user


@pytest.fixture
def org(db: None) -> Any:
    from portal.models import Organization

    return Organization.objects.create(name="Acme Pharma")


@pytest.fixture
def other_org(db: None) -> Any:
    from portal.models import Organization

    return Organization.objects.create(name="Globex Biologics")


@pytest.fixture
def member(org: Any) -> Any:
    return _persona(org, "member", "member")


@pytest.fixture
def manager(org: Any) -> Any:
    return _persona(org, "manager", "manager")


@pytest.fixture
def outsider(other_org: Any) -> Any:
    return _persona(other_org, "outsider", "member")


@pytest.fixture
def api_client(db: None) -> Callable[[Any], Any]:
    """``api_client(user)`` -> an ``APIClient`` with ``Authorization: Bearer <access>``.

    The token comes from ``POST /api/v1/auth/token`` with the persona's password, so the real
    login path is exercised; the login limits are reset first so many clients per test are fine.
    """
    from django.core.cache import cache
    from rest_framework.test import APIClient

    from portal.models import RateCounter

    def make(user: Any, password: str | None = None) -> APIClient:
        client = APIClient()
        cache.clear()
        RateCounter.objects.all().delete()  # the login limits count in the database
        response = client.post(
            "/api/v1/auth/token",
            {"username": user.get_username(), "password": password or f"pw-{user.get_username()}"},
            format="json",
        )
        if response.status_code == 200:
            access = response.json()["access"]
        else:
            access = _access_token_for(user)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
        client.user = user  # type: ignore[attr-defined]
        return client

    return make


def _access_token_for(user: Any) -> str:
    from rest_framework_simplejwt.tokens import RefreshToken

    from portal.models import Membership

    refresh = RefreshToken.for_user(user)
    membership = Membership.objects.filter(user=user).first()
    if membership is not None:
        refresh["org"] = str(membership.organization_id)
        refresh["role"] = membership.role
    from portal.tokens import token_version

    refresh["ver"] = token_version(user)
    return str(refresh.access_token)


# --- Files beside the project -------------------------------------------------------------------


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not CORPUS_DIR.is_dir():
        pytest.skip(CORPUS_MISSING)
    return CORPUS_DIR
