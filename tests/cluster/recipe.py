"""Folio's deployment recipe (``deploy/``) read as data: unit command lines and environments.

The cluster harness starts nothing that is not an ``ExecStart=`` line of a unit in
``deploy/systemd/`` (``/opt/folio`` read as this checkout, ``/opt/folio/.venv/bin/python`` as this
interpreter, ``%i`` as the instance), with the unit's ``Environment=`` lines, and gives a service
no variable that ``deploy/folio.env.example`` does not name (active or commented out), apart from
test-only knobs passed separately and the ``PATH`` systemd gives every service.
tests/test_deploy.py holds the compose file and the proxy example to the same commands and limits.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = DEPLOY / "systemd"
ENV_EXAMPLE = DEPLOY / "folio.env.example"
# Where the recipe installs Folio, and its interpreter.
INSTALL_DIR = "/opt/folio"
INSTALL_PYTHON = f"{INSTALL_DIR}/.venv/bin/python"
# What systemd gives every service besides its EnvironmentFile= and Environment= lines.
SYSTEMD_BASE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}


def read_unit(name: str) -> dict[str, list[str]]:
    """The ``[Service]`` settings of ``deploy/systemd/<name>``: key -> values, in order."""
    values: dict[str, list[str]] = {}
    section = ""
    pending = ""
    for raw in (UNITS / name).read_text().splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if section == "Service" and "=" in line:
            key, value = line.split("=", 1)
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def _specifiers(text: str, instance: str) -> str:
    return text.replace("%i", instance).replace("%I", instance).replace("%%", "%")


def localize(argv: list[str]) -> list[str]:
    """A command of the recipe, with the install paths read as this checkout and interpreter."""
    out = []
    for arg in argv:
        if arg == INSTALL_PYTHON:
            arg = sys.executable
        elif arg == INSTALL_DIR or arg.startswith(INSTALL_DIR + "/"):
            arg = str(ROOT) + arg[len(INSTALL_DIR) :]
        out.append(arg)
    return out


def unit_commands(name: str, instance: str = "") -> list[list[str]]:
    """The ``ExecStart=`` command lines of a unit (as written, install paths unchanged)."""
    commands = []
    for line in read_unit(name).get("ExecStart", []):
        line = line.lstrip("-@:+!")  # systemd's command prefixes
        commands.append(shlex.split(_specifiers(line, instance)))
    return commands


def unit_environment(name: str) -> dict[str, str]:
    """The ``Environment=`` assignments of a unit."""
    env: dict[str, str] = {}
    for line in read_unit(name).get("Environment", []):
        for assignment in shlex.split(line):
            key, _, value = assignment.partition("=")
            env[key] = value
    return env


def recipe_environment() -> tuple[dict[str, str], set[str]]:
    """``deploy/folio.env.example``: (the active assignments, every variable it names)."""
    active: dict[str, str] = {}
    known: set[str] = set()
    for raw in ENV_EXAMPLE.read_text().splitlines():
        line = raw.strip()
        commented = line.startswith("#")
        body = line.lstrip("#").strip()
        if "=" not in body:
            continue
        key, value = body.split("=", 1)
        if not key or not key.replace("_", "").isalnum() or not key.isupper() or " " in key:
            continue
        known.add(key)
        if not commented:
            active[key] = value
    return active, known


def host_environment(
    overrides: dict[str, str], *, unit: str, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The whole environment of one service: systemd's base, the env file, the unit's lines.

    ``overrides`` fill in the env file; each must be a variable the example names (so the
    example stays complete). ``extra`` is for test-only knobs and is kept apart on purpose.
    """
    active, known = recipe_environment()
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"not named in {ENV_EXAMPLE.name}: {', '.join(unknown)}")
    env = dict(SYSTEMD_BASE_ENV)
    env.update(active)
    env.update(overrides)
    env.update(unit_environment(unit))
    env.update(extra or {})
    return env
