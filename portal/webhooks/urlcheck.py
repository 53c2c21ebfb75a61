"""Is a webhook URL one Folio may call? (docs/api.md, "Webhooks"; docs/security.md)

A webhook makes the server send requests to an address a user typed, so the address is checked
like untrusted input, twice: when the webhook is registered, and again at every delivery (a
host's DNS answer can change in between). The URL must be ``http`` or ``https``, carry no user
name or password, and its host must resolve; every address it resolves to must be a public one
— not loopback, private (RFC 1918, unique-local), link-local (cloud metadata at
169.254.169.254), shared, multicast, reserved or unspecified — unless the operator sets
``FOLIO_WEBHOOK_ALLOW_PRIVATE=1`` (a receiver on the same network). The delivery then connects
to the very address checked here, never resolving the name a second time.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2000


class UrlRefused(Exception):
    """The URL may not be called; ``reason`` says why, in a sentence."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written in the URL (the Host header and the TLS server name)
    port: int
    path: str  # path and query
    address: str  # the IP address to connect to


_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT, not on the internet


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    ):
        return False
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return False
    return ip.is_global


def check_url(url: str, *, allow_private: bool) -> Target:
    """The target to connect to, or ``UrlRefused`` naming the problem."""
    if not isinstance(url, str) or not url.strip():
        raise UrlRefused("the URL is empty.")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused(f"the URL is longer than {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(f"the URL cannot be read ({exc}).") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UrlRefused("only http and https URLs can receive webhooks.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UrlRefused("the URL must not carry a user name or password.")
    host = parts.hostname or ""
    if not host:
        raise UrlRefused("the URL has no host.")
    port = port or (443 if scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise UrlRefused(f"the host {host!r} does not resolve.") from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise UrlRefused(f"the host {host!r} does not resolve.")
    if not allow_private:
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            if not _public(ip):
                raise UrlRefused(
                    f"the host {host!r} resolves to {address}, a loopback, private or "
                    "link-local address; webhooks may only call public addresses "
                    "(the operator can allow others with FOLIO_WEBHOOK_ALLOW_PRIVATE=1)."
                )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme=scheme, host=host, port=port, path=path, address=addresses[0])
