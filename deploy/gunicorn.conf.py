"""Gunicorn settings of Folio's web process (docs/deploy.md).

Used, unchanged, by ``deploy/systemd/folio-web.service``, by ``deploy/compose.yaml`` and by the
cluster tests (``tests/cluster/``), which start gunicorn with exactly the unit's command line:

    python -m gunicorn --config /opt/folio/deploy/gunicorn.conf.py

Every value that differs between machines comes from the environment file
(``deploy/folio.env.example``); a bad value stops gunicorn with a message naming the variable.

- ``FOLIO_WEB_BIND`` (``127.0.0.1:8000``): where gunicorn listens, behind the TLS proxy. Use the
  machine's private address when the proxy runs on another machine, never a public one.
- ``FOLIO_WEB_WORKERS`` (2 x cores + 1): sync worker processes. Requests never extract or
  generate (the RQ workers do), so they are short; the proxy buffers uploads, so a slow client
  never holds a worker.
- ``FOLIO_WEB_TIMEOUT`` (120): seconds a request may take before its worker is restarted. The
  longest request is an upload of ``FOLIO_MAX_UPLOAD_FILES`` x ``FOLIO_MAX_UPLOAD_MB`` streamed to
  storage; the proxy's ``proxy_read_timeout`` must be a little longer (deploy/nginx/folio.conf).
- ``FOLIO_PROXY_IPS`` (``127.0.0.1``): addresses of the proxy, whose ``X-Forwarded-*`` headers
  gunicorn trusts (Django trusts ``X-Forwarded-Proto`` only with ``FOLIO_BEHIND_TLS_PROXY=1``).
"""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise SystemExit(f"{name} must be at least 1, got {value}")
    return value


wsgi_app = "portal.wsgi:application"
bind = [os.environ.get("FOLIO_WEB_BIND", "").strip() or "127.0.0.1:8000"]
workers = _positive_int("FOLIO_WEB_WORKERS", 2 * multiprocessing.cpu_count() + 1)
worker_class = "sync"
timeout = _positive_int("FOLIO_WEB_TIMEOUT", 120)
# systemd's TimeoutStopSec (folio-web.service) leaves room for this.
graceful_timeout = 30
keepalive = 5
# Recycle a worker now and then, so a slow leak can never grow without bound.
max_requests = 1000
max_requests_jitter = 100
forwarded_allow_ips = os.environ.get("FOLIO_PROXY_IPS", "").strip() or "127.0.0.1"
# Heartbeat files in memory: a busy disk never makes the arbiter kill a healthy worker.
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None
proc_name = "folio-web"
# No control socket (gunicorn >= 25 makes one in $XDG_RUNTIME_DIR or $HOME/.gunicorn): systemd or
# the container runtime manages the process (reload: SIGHUP), and two instances on one machine
# would otherwise fight over the same path.
control_socket_disable = True
# Logs to stdout/stderr: journald (systemd) or the container runtime keeps them.
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
loglevel = (os.environ.get("FOLIO_LOG_LEVEL", "").strip() or "info").lower()
