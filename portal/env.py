"""Small typed helpers that read the environment and fail loudly on a bad value.

Settings are read once at start-up; a wrong value should stop the process with a message that
names the variable, never fall back silently.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


class ImproperEnvironment(ValueError):
    """An environment variable holds a value that cannot be used."""


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperEnvironment(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        value = default
    else:
        try:
            value = int(raw.strip())
        except ValueError as exc:
            raise ImproperEnvironment(f"{name} must be an integer, got {raw!r}") from exc
    if minimum is not None and value < minimum:
        raise ImproperEnvironment(f"{name} must be at least {minimum}, got {value}")
    return value


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


def env_int_list(name: str, default: str = "", *, minimum: int = 0) -> list[int]:
    """A comma-separated list of integers (each at least ``minimum``)."""
    out = []
    for part in env_list(name, default):
        try:
            value = int(part)
        except ValueError as exc:
            raise ImproperEnvironment(
                f"{name} must be comma-separated integers, got {part!r}"
            ) from exc
        if value < minimum:
            raise ImproperEnvironment(f"{name}: each value must be at least {minimum}, got {value}")
        out.append(value)
    return out


def secret_key_from(data_dir: Path) -> str:
    """Return the signing key kept in ``data_dir``, creating it (mode 600) on first use."""
    private_dir(data_dir)
    path = data_dir / "secret_key"
    if path.exists():
        private_file(path)
        return path.read_text().strip()
    key = secrets.token_urlsafe(50)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def private_dir(path: Path) -> Path:
    """Create ``path`` if needed and make it ``0700`` (owner only), whatever the umask.

    A directory the process does not own (a mount point) keeps its mode: the files inside are
    still created private (see ``private_file``).
    """
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        if path.stat().st_mode & 0o777 != 0o700:
            path.chmod(0o700)
    except PermissionError:
        pass
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty if it does not exist, and make it ``0600`` (owner only)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)
    try:
        if path.stat().st_mode & 0o777 != 0o600:
            path.chmod(0o600)
    except PermissionError:
        pass
    return path
