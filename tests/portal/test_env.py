"""The environment helpers fail loudly, and settings refuse values they cannot use."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from portal.env import ImproperEnvironment, env_bool, env_int, env_list, secret_key_from

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), (" Yes ", True), ("on", True), ("0", False), ("off", False)],
)
def test_env_bool_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("FOLIO_X", raw)
    assert env_bool("FOLIO_X") is expected


def test_env_bool_uses_the_default_when_unset_or_empty(monkeypatch):
    monkeypatch.delenv("FOLIO_X", raising=False)
    assert env_bool("FOLIO_X", True) is True
    monkeypatch.setenv("FOLIO_X", "  ")
    assert env_bool("FOLIO_X", False) is False


def test_env_bool_refuses_anything_else_naming_the_variable(monkeypatch):
    monkeypatch.setenv("FOLIO_X", "maybe")
    with pytest.raises(ImproperEnvironment, match="FOLIO_X"):
        env_bool("FOLIO_X")


def test_env_int_parses_and_defaults(monkeypatch):
    monkeypatch.setenv("FOLIO_N", " 42 ")
    assert env_int("FOLIO_N", 1) == 42
    monkeypatch.delenv("FOLIO_N")
    assert env_int("FOLIO_N", 7) == 7


def test_env_int_refuses_a_non_integer(monkeypatch):
    monkeypatch.setenv("FOLIO_N", "12MB")
    with pytest.raises(ImproperEnvironment, match="FOLIO_N must be an integer"):
        env_int("FOLIO_N", 1)


def test_env_int_refuses_a_value_below_the_minimum(monkeypatch):
    monkeypatch.setenv("FOLIO_N", "0")
    with pytest.raises(ImproperEnvironment, match="at least 1"):
        env_int("FOLIO_N", 5, minimum=1)


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch):
    monkeypatch.setenv("FOLIO_L", " a.example, ,b.example ")
    assert env_list("FOLIO_L") == ["a.example", "b.example"]


def test_the_secret_key_is_generated_once_with_mode_600_and_reused(tmp_path):
    first = secret_key_from(tmp_path)
    path = tmp_path / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 50
    assert secret_key_from(tmp_path) == first


def _import_settings(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {"PATH": os.environ.get("PATH", ""), "FOLIO_DATA_DIR": str(tmp_path), **env}
    return subprocess.run(
        [sys.executable, "-c", "import portal.settings as s; print(s.SECRET_KEY[:12])"],
        cwd=PROJECT_ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_settings_refuse_a_bad_boolean_naming_the_variable(tmp_path):
    result = _import_settings(tmp_path, DJANGO_DEBUG="perhaps")
    assert result.returncode != 0
    assert "DJANGO_DEBUG must be a boolean" in result.stderr


def test_settings_refuse_a_bad_limit_naming_the_variable(tmp_path):
    result = _import_settings(tmp_path, FOLIO_MAX_UPLOAD_MB="fifty")
    assert result.returncode != 0
    assert "FOLIO_MAX_UPLOAD_MB must be an integer" in result.stderr


def test_production_settings_refuse_an_insecure_development_key(tmp_path):
    result = _import_settings(tmp_path, DJANGO_SECRET_KEY="django-insecure-abc")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_settings_keep_the_generated_key_across_processes(tmp_path):
    first = _import_settings(tmp_path)
    second = _import_settings(tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
