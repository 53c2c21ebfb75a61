"""Fixtures of the cluster suite: shared services for the session, fresh hosts for each test.

``cluster_services`` (session) makes the bridge, PostgreSQL, valkey and moto once, or skips every
cluster test with the reason hosts cannot be made here (not root, no ``ip``, no ``initdb``...).
``cluster`` (per test) hands that cluster to the test and removes every host the test made
afterwards, whatever happened, printing the hosts' logs when the test failed. At the end of the
session everything of this run is removed (and swept by its ``fcl<pid>`` prefix).

The bounds are the recipe's own variables, set short (``TIMING``) so a lost attempt is noticed
within seconds: ``FOLIO_STALE_JOB_SECONDS`` + ``FOLIO_RECONCILE_SECONDS`` (docs/limits.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster import harness

TIMING = {
    "FOLIO_STALE_JOB_SECONDS": "5",
    "FOLIO_RECONCILE_SECONDS": "1",
    "FOLIO_WORKER_MONITOR_SECONDS": "1",
    "FOLIO_LOG_LEVEL": "INFO",
}


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def cluster_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Cluster]:
    reason = harness.unavailable_reason()
    if reason:
        pytest.skip(reason)
    cluster = harness.Cluster(tmp_path_factory.mktemp("cluster"), recipe=TIMING)
    try:
        cluster.start_services()
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def cluster(
    cluster_services: harness.Cluster, request: pytest.FixtureRequest
) -> Iterator[harness.Cluster]:
    saved = dict(cluster_services.recipe)
    try:
        yield cluster_services
    finally:
        cluster_services.recipe = saved
        if request.node.stash.get(_FAILED, False):
            for host in cluster_services.network.hosts:
                for proc in host.procs:
                    print(f"\n===== {host.name}: {Path(proc.log).name} =====\n{proc.output(6000)}")
        cluster_services.remove_hosts()


@pytest.fixture
def source(cluster: harness.Cluster) -> bytes:
    """The small protocol .docx every cluster test generates from."""
    return harness.protocol_docx()
