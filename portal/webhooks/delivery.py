"""One HTTP POST of a webhook event: signed, to the address ``urlcheck`` approved, with a timeout.

The signature (docs/api.md, "Webhooks") is ``X-Folio-Signature: t=<unix seconds>,v1=<hex>``, the hex
being HMAC-SHA256 of ``"<t>.<raw body>"`` keyed with the webhook's secret; a receiver recomputes it
and should refuse a ``t`` older than a few minutes (replays). The connection goes to the very IP
address that was checked (for https the certificate is still verified against the host name),
redirects are not followed, and only the first kilobytes of the answer are read."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import socket
import ssl
import time
from dataclasses import dataclass

from portal.webhooks.urlcheck import Target

SIGNATURE_HEADER = "X-Folio-Signature"
MAX_ANSWER_BYTES = 2048
USER_AGENT = "Folio-Webhooks/1"


def signature(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    excerpt: str
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed address, the certificate checked against the URL's host name."""

    def __init__(self, target: Target, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=context)
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(target: Target, *, body: bytes, secret: str, event: str, timeout: float) -> Answer:
    started = time.monotonic()
    timestamp = int(time.time())
    if target.scheme == "https":
        conn: http.client.HTTPConnection = _PinnedHTTPSConnection(
            target, timeout, ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(target.address, target.port, timeout=timeout)
    default_port = 443 if target.scheme == "https" else 80
    host = target.host if ":" not in target.host else f"[{target.host}]"
    headers = {
        "Host": host if target.port == default_port else f"{host}:{target.port}",
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Folio-Event": event,
        SIGNATURE_HEADER: signature(secret, body, timestamp),
    }
    try:
        conn.request("POST", target.path, body=body, headers=headers)
        response = conn.getresponse()
        excerpt = response.read(MAX_ANSWER_BYTES).decode("utf-8", errors="replace")
        status: int | None = response.status
        error = "" if 200 <= response.status < 300 else f"the receiver answered {response.status}"
    except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
        status, excerpt = None, ""
        error = f"{type(exc).__name__}: {exc}"[:500]
    finally:
        conn.close()
    return Answer(status, excerpt, error, int((time.monotonic() - started) * 1000))
