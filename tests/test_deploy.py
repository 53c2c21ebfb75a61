"""The deployment recipe (docs/deploy.md, deploy/) holds together.

- The compose file and the image run the very command lines of the systemd units, which the
  cluster tests (tests/cluster/) run on their hosts.
- ``manage.py check --deploy`` is clean with the example environment file once its secret is
  filled in, and the placeholder secret is refused at start-up.
- gunicorn accepts its config with that environment and reads its variables, failing loudly on a
  bad one.
- The proxy example lets through the largest upload Folio accepts and waits longer than gunicorn.
- The reconciler unit's command (``manage.py reconcile --loop``) keeps running when a pass fails.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cluster import recipe

ROOT = recipe.ROOT
UNIT_OF_SERVICE = {
    "web": "folio-web.service",
    "worker": "folio-worker@.service",
    "reconciler": "folio-reconciler.service",
}


def _example_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The example environment file as a service gets it, with a real secret filled in."""
    active, _ = recipe.recipe_environment()
    env = dict(recipe.SYSTEMD_BASE_ENV)
    env.update(active)
    env.update(
        {
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
            "FOLIO_DATA_DIR": str(tmp_path / "data"),
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(extra)
    return env


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_compose_and_the_image_run_the_units_commands() -> None:
    compose = yaml.safe_load((recipe.DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    for service, unit in UNIT_OF_SERVICE.items():
        assert [services[service]["command"]] == recipe.unit_commands(unit), service
    migrate = [services[name]["command"] for name in ("migrate", "collectstatic")]
    assert migrate == recipe.unit_commands("folio-migrate.service")
    dockerfile = (recipe.DEPLOY / "Dockerfile").read_text()
    cmd = re.search(r"^CMD (\[.*\])$", dockerfile, re.MULTILINE)
    assert cmd, "the Dockerfile names its command"
    assert [json.loads(cmd.group(1))] == recipe.unit_commands("folio-web.service")
    for service in ("migrate", "web", "worker", "reconciler"):
        assert services[service]["env_file"] == "folio.env"


def test_every_unit_reads_the_environment_file_and_runs_from_the_install_dir() -> None:
    for unit in [*UNIT_OF_SERVICE.values(), "folio-migrate.service"]:
        settings = recipe.read_unit(unit)
        assert settings["EnvironmentFile"] == ["/etc/folio/folio.env"], unit
        assert settings["WorkingDirectory"] == [recipe.INSTALL_DIR], unit
        assert settings["User"] == ["folio"], unit
        for argv in recipe.unit_commands(unit):
            assert argv[0] == recipe.INSTALL_PYTHON, (unit, argv)
            local = recipe.localize(argv)
            assert local[0] == sys.executable
            files = [Path(a) for a in local[1:] if a.startswith(str(ROOT))]
            assert files and all(f.is_file() for f in files), (unit, local)


def test_check_deploy_is_clean_with_the_example_environment(tmp_path: Path) -> None:
    out = _manage(_example_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "System check identified no issues" in out.stdout, out.stdout + out.stderr


def test_the_example_secret_placeholder_is_refused_at_start_up(tmp_path: Path) -> None:
    active, _ = recipe.recipe_environment()
    out = _manage(_example_env(tmp_path, DJANGO_SECRET_KEY=active["DJANGO_SECRET_KEY"]), "check")
    assert out.returncode != 0
    assert "DJANGO_SECRET_KEY must not be an insecure development key" in out.stderr


def test_nothing_secret_is_checked_in() -> None:
    active, known = recipe.recipe_environment()
    for key in ("DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL"):
        assert "REPLACE-ME" in active[key], key
    text = recipe.ENV_EXAMPLE.read_text()
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "FOLIO_LLM_API_KEY"):
        assert key in known and key not in active, key
        assert re.search(rf"^# {key}=REPLACE-ME$", text, re.MULTILINE), key


def test_gunicorn_accepts_its_config_with_the_example_environment(tmp_path: Path) -> None:
    web = recipe.localize(recipe.unit_commands("folio-web.service")[0])
    out = subprocess.run(
        [*web, "--check-config"],
        cwd=ROOT,
        env=_example_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def _gunicorn_config(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    for name in ("FOLIO_WEB_BIND", "FOLIO_WEB_WORKERS", "FOLIO_WEB_TIMEOUT", "FOLIO_PROXY_IPS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(recipe.DEPLOY / "gunicorn.conf.py"))


def test_the_gunicorn_config_reads_its_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    default = _gunicorn_config(monkeypatch)
    assert default["bind"] == ["127.0.0.1:8000"]
    assert default["workers"] == 2 * os.cpu_count() + 1  # type: ignore[operator]
    assert default["timeout"] == 120
    assert default["wsgi_app"] == "portal.wsgi:application"
    assert default["control_socket_disable"] is True
    set_ = _gunicorn_config(
        monkeypatch,
        FOLIO_WEB_BIND="10.0.0.5:8001",
        FOLIO_WEB_WORKERS="3",
        FOLIO_WEB_TIMEOUT="60",
        FOLIO_PROXY_IPS="10.0.0.1",
    )
    assert (set_["bind"], set_["workers"], set_["timeout"], set_["forwarded_allow_ips"]) == (
        ["10.0.0.5:8001"],
        3,
        60,
        "10.0.0.1",
    )
    with pytest.raises(SystemExit, match="FOLIO_WEB_WORKERS must be a whole number"):
        _gunicorn_config(monkeypatch, FOLIO_WEB_WORKERS="many")
    with pytest.raises(SystemExit, match="FOLIO_WEB_TIMEOUT must be at least 1"):
        _gunicorn_config(monkeypatch, FOLIO_WEB_TIMEOUT="0")


def _nginx_setting(name: str) -> str:
    """The TLS server's own value of a directive (a line of its own, at the server's level)."""
    text = (recipe.DEPLOY / "nginx" / "folio.conf").read_text()
    found = re.findall(rf"^    {name}\s+([^;]+);", text, re.MULTILINE)
    assert len(found) == 1, (name, found)
    return found[0].strip()


def test_the_proxy_lets_the_largest_upload_through_and_outwaits_gunicorn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from portal import bodylimit

    active, _ = recipe.recipe_environment()
    # The portal's new-document form: every file at its limit, plus the framing (in MiB).
    files_mb = int(active["FOLIO_MAX_UPLOAD_MB"]) * int(active["FOLIO_MAX_UPLOAD_FILES"])
    largest_mb = files_mb + bodylimit.ENVELOPE // bodylimit.MB
    assert _nginx_setting("client_max_body_size") == f"{largest_mb}m"
    conf = (recipe.DEPLOY / "nginx" / "folio.conf").read_text()
    static = re.findall(r"location /static/ \{\s*alias ([^;]+);", conf)
    assert static == [active["FOLIO_STATIC_ROOT"].rstrip("/") + "/"], static
    gunicorn_timeout = _gunicorn_config(monkeypatch, FOLIO_WEB_TIMEOUT=active["FOLIO_WEB_TIMEOUT"])
    for name in ("proxy_read_timeout", "proxy_send_timeout"):
        seconds = int(_nginx_setting(name).rstrip("s"))
        assert gunicorn_timeout["timeout"] < seconds <= gunicorn_timeout["timeout"] + 30, name
    assert _nginx_setting("proxy_request_buffering") == "on"
    assert _nginx_setting("proxy_set_header X-Forwarded-Proto") == "$scheme"


def test_the_reconciler_unit_keeps_running_when_a_pass_fails(
    tmp_path: Path, redis_server: str
) -> None:
    """`manage.py reconcile --loop` with the database down: each pass fails, is logged, and the
    next one runs every FOLIO_RECONCILE_SECONDS; the process never exits on its own."""
    argv = recipe.localize(recipe.unit_commands("folio-reconciler.service")[0])
    env = _example_env(
        tmp_path,
        DATABASE_URL="postgres://folio:x@127.0.0.1:1/folio",  # nothing listens on port 1
        REDIS_URL=redis_server,
        FOLIO_RECONCILE_SECONDS="1",
        PYTHONUNBUFFERED="1",
    )
    log = tmp_path / "reconciler.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and log.read_text().count("pass failed") < 3:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.2)
        text = log.read_text()
        assert "Reconciling every 1 s" in text, text
        assert text.count("Reconciler pass failed; next pass in 1 s") >= 3, text
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def test_every_variable_of_the_example_is_read_by_folio() -> None:
    """No typo in the example: each name it gives is read by the settings or gunicorn's config."""
    _, known = recipe.recipe_environment()
    readers = (ROOT / "portal" / "settings.py").read_text() + (
        recipe.DEPLOY / "gunicorn.conf.py"
    ).read_text()
    unread = sorted(k for k in known if f'"{k}"' not in readers)
    assert not unread, unread
