"""The cluster harness's own rules, checked without making hosts (these run everywhere).

- Hosts get only the recipe's variables: a variable the example environment file does not name
  is refused, so the example stays complete.
- Commands come from the units, with the install paths read as this checkout.
- Where hosts cannot be made, the cluster tests skip with a reason that says why.
"""

from __future__ import annotations

import sys

import pytest

from tests.cluster import hosts, recipe


def test_a_host_gets_the_example_environment_and_the_units_own_lines() -> None:
    env = recipe.host_environment(
        {"DATABASE_URL": "postgres://folio:pw@10.0.0.1:5432/folio"},
        unit="folio-worker@.service",
        extra={"FOLIO_TEST_SLOW_STEP_SECONDS": "1"},
    )
    active, _ = recipe.recipe_environment()
    assert env["DATABASE_URL"] == "postgres://folio:pw@10.0.0.1:5432/folio"
    assert env["FOLIO_STORAGE"] == active["FOLIO_STORAGE"] == "s3"
    assert env["PYTHONUNBUFFERED"] == "1"  # Environment= of the unit
    assert env["PATH"] == recipe.SYSTEMD_BASE_ENV["PATH"]
    assert env["FOLIO_TEST_SLOW_STEP_SECONDS"] == "1"
    assert "HOME" not in env and "VIRTUAL_ENV" not in env


def test_a_variable_the_example_does_not_name_is_refused() -> None:
    with pytest.raises(ValueError, match="FOLIO_NOT_A_SETTING"):
        recipe.host_environment({"FOLIO_NOT_A_SETTING": "1"}, unit="folio-web.service")


def test_commands_come_from_the_units_with_local_paths() -> None:
    (worker,) = recipe.unit_commands("folio-worker@.service", "3")
    assert worker[:4] == [recipe.INSTALL_PYTHON, "/opt/folio/manage.py", "rqworker", "default"]
    local = recipe.localize(worker)
    assert local[0] == sys.executable
    assert local[1] == str(recipe.ROOT / "manage.py")
    assert len(recipe.unit_commands("folio-migrate.service")) == 2


def test_without_root_the_cluster_tests_say_why_they_skip(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hosts.os, "geteuid", lambda: 1000)
    reason = hosts.unavailable_reason()
    assert reason and "need root" in reason


def test_without_ip_the_cluster_tests_say_why_they_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hosts.os, "geteuid", lambda: 0)
    real_which = hosts.shutil.which
    monkeypatch.setattr(hosts.shutil, "which", lambda n: None if n == "ip" else real_which(n))
    reason = hosts.unavailable_reason()
    assert reason and "`ip`" in reason
