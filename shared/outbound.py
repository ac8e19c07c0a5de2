"""Requests to addresses users choose (webhooks), made safe against server-side request forgery.

A user-supplied URL must never make a careerloop process talk to itself, its neighbours or the
cloud's metadata service. Three steps, all here:

1. `parse_url` checks the shape: http or https only, no `user:password@`, a host that is an IP
   literal or a DNS name (a numeric last label such as `2130706433` or `0x7f.1` is refused: the
   resolver would read it as an IPv4 address in disguise).
2. `OutboundGuard.addresses` resolves the host *once* and checks every address it resolves to.
   Refused: unspecified, loopback, private (RFC 1918), link-local (169.254/16, fe80::/10), shared
   CGNAT space (100.64/10), multicast, broadcast, reserved, unique-local (fc00::/7), site-local,
   anything else not globally routable, and the cloud metadata services. IPv6 forms that carry an
   IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`,
   6to4 `2002::/16`) are judged by that IPv4 address. `WEBHOOK_ALLOWED_NETWORKS` (CIDRs) lets
   chosen networks through, e.g. a campus-internal receiver; the metadata addresses never.
3. `OutboundGuard.post` connects to exactly the address that was checked (urllib3 connection
   pool opened on the IP), while the request keeps the name: `Host` header, TLS SNI
   (`server_hostname`) and certificate verification against the name (`assert_hostname`). There
   is no second lookup, so a name that changes its answer between check and connect (DNS
   rebinding) cannot slip through. Redirects are never followed and proxies from the environment
   are not used (a proxy would make the connection, not us).

Refusals (`UnsafeUrl`) carry a fixed text (`address not allowed: loopback`), as do transport
failures (`Unreachable`): nothing a peer answered ever ends up in a reason.
"""
from __future__ import annotations

import ipaddress
import re
import socket
import ssl
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

if TYPE_CHECKING:
    from shared.config import Settings

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Iterable[str]]  # (host, port) -> IP addresses as text

# AWS/GCP/Azure/OpenStack, AWS ECS task metadata, AWS over IPv6, Alibaba Cloud, Oracle Cloud
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "192.0.0.192"))
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_BROADCAST = ipaddress.ip_address("255.255.255.255")
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class UnsafeUrl(ValueError):
    """The URL may not be requested; `reason` says why in fixed words (safe to show and record)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AddressNotAllowed(UnsafeUrl):
    """The host is, or resolves to, an address requests may not reach."""


class NameNotFound(UnsafeUrl):
    """The host name does not exist (the resolver said so, rather than failing to answer)."""


class Unreachable(Exception):
    """The request could not be made or was not answered (transient); `reason` is a fixed text."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Url:
    scheme: str  # "http" | "https"
    host: str  # a DNS name (lower case, IDNA) or an IP address literal without brackets
    port: int
    target: str  # path and query, as sent on the request line

    @property
    def literal(self) -> IPAddress | None:
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == (443 if self.scheme == "https" else 80) else f"{host}:{self.port}"


def parse_url(url: str) -> Url:
    """The parts of an http(s) URL fit to be requested, or UnsafeUrl saying what is wrong."""
    if not url or any(c.isspace() or not c.isprintable() for c in url):
        raise UnsafeUrl("the URL must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeUrl("not a valid URL (host or port)") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeUrl("only http and https URLs are allowed")
    if "@" in parts.netloc:
        raise UnsafeUrl("a user name or password in the URL is not allowed")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeUrl("the URL names no host")
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        if ":" in host:
            raise UnsafeUrl("not a valid IP address in brackets") from None
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise UnsafeUrl("not a valid host name") from None
        labels = host.split(".")
        if not all(_LABEL.match(label) for label in labels) or len(host) > 253:
            raise UnsafeUrl("not a valid host name") from None
        if re.fullmatch(r"[0-9]+|0x[0-9a-f]*", labels[-1]):
            raise UnsafeUrl("not a valid host name: an IP address must be written as one") from None
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Url(scheme, host, port or (443 if scheme == "https" else 80), target)


def parse_networks(value: str) -> tuple[Network, ...]:
    """`10.20.0.0/16, 2001:db8::/32` -> networks (an address alone is a network of one)."""
    networks = []
    for entry in (e.strip() for e in value.split(",")):
        if entry:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(f"WEBHOOK_ALLOWED_NETWORKS: {entry!r} is not a CIDR network") from None
    return tuple(networks)


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system's resolver gives for `host` (getaddrinfo), in its order."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in found))


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, NAT64, 6to4), if any."""
    if address.version == 4:
        return None
    assert isinstance(address, ipaddress.IPv6Address)
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def kind_of(address: IPAddress) -> str | None:
    """Why an address is not for user-chosen requests ("loopback", ...), or None if it is public."""
    inner = embedded_ipv4(address)
    if inner is not None:
        kind = kind_of(inner)
        return f"{kind} (as an IPv6 address)" if kind else None
    if address in METADATA_ADDRESSES:
        return "cloud metadata service"
    checks: tuple[tuple[str, bool], ...] = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("shared address space (CGNAT)", address in _SHARED),
        ("multicast", address.is_multicast),
        ("broadcast", address == _BROADCAST),
        ("unique-local", address in _UNIQUE_LOCAL),
        ("site-local", getattr(address, "is_site_local", False)),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("not globally routable", not address.is_global),
    )
    return next((kind for kind, applies in checks if applies), None)


class OutboundGuard:
    """OutboundGuard(allowed_networks=(), resolver=system_resolver): which addresses a user's URL
    may reach, and the one way to send a request to it (`post`)."""

    def __init__(self, allowed_networks: Iterable[Network] = (), resolver: Resolver = system_resolver) -> None:
        self.allowed_networks = tuple(allowed_networks)
        self.resolver = resolver

    @classmethod
    def from_settings(cls, settings: Settings, resolver: Resolver = system_resolver) -> OutboundGuard:
        return cls(parse_networks(settings.get("WEBHOOK_ALLOWED_NETWORKS")), resolver)

    def refusal(self, address: IPAddress) -> str | None:
        """None when requests may reach `address`; otherwise the reason, e.g. "loopback"."""
        kind = kind_of(address)
        if kind is None:
            return None
        inner = embedded_ipv4(address)
        if "metadata" not in kind and any(a in n for a in (address, inner) if a is not None
                                          for n in self.allowed_networks if n.version == a.version):
            return None
        return kind

    def addresses(self, url: Url) -> list[IPAddress]:
        """The addresses of the URL's host, resolved once; UnsafeUrl unless every one is allowed
        (a name with one bad address among good ones is refused: its owner controls which we'd get)."""
        found = [url.literal] if url.literal is not None else self._resolve(url)
        for address in found:
            why = self.refusal(address)
            if why:
                raise AddressNotAllowed(f"address not allowed: {why}")
        return found

    def _resolve(self, url: Url) -> list[IPAddress]:
        try:
            found = [ipaddress.ip_address(a) for a in self.resolver(url.host, url.port)]
        except socket.gaierror as error:
            if error.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
                raise NameNotFound("the host name does not resolve") from None
            raise Unreachable("the host name could not be resolved just now") from None
        except (OSError, UnicodeError, ValueError):
            raise Unreachable("the host name could not be resolved just now") from None
        if not found:
            raise NameNotFound("the host name does not resolve")
        return found

    def check(self, url: str) -> Url:
        """Parse and check a URL now (at registration): UnsafeUrl unless it may be requested,
        Unreachable when the resolver could not answer."""
        parsed = parse_url(url)
        self.addresses(parsed)
        return parsed

    def post(self, url: str, body: bytes, headers: Mapping[str, str], *, timeout: float,
             ssl_context: ssl.SSLContext | None = None) -> tuple[int, dict[str, str]]:
        """POST to the URL through an address checked just now; (status, lower-case headers).

        The answer's body is never read. Raises UnsafeUrl (refused), NameNotFound (one of those,
        though a name may come back) or Unreachable."""
        parsed = parse_url(url)
        addresses = self.addresses(parsed)
        failure = Unreachable("could not connect to the endpoint")
        # In the resolver's order; only a connection failing at once (refused, no route) moves on,
        # so `timeout` still bounds the connecting.
        for address in addresses:
            try:
                return self._post_to(address, parsed, body, headers, timeout, ssl_context)
            except _NotConnected as error:
                failure = Unreachable(error.reason)
        raise failure

    def _post_to(self, address: IPAddress, url: Url, body: bytes, headers: Mapping[str, str], timeout: float,
                 ssl_context: ssl.SSLContext | None) -> tuple[int, dict[str, str]]:
        bounded = urllib3.Timeout(connect=timeout, read=timeout)
        if url.scheme == "https":
            pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
                str(address), url.port, server_hostname=None if url.literal else url.host,
                assert_hostname=url.host, cert_reqs="CERT_REQUIRED",
                ssl_context=ssl_context or ssl.create_default_context(), timeout=bounded, retries=False, maxsize=1)
        else:
            pool = urllib3.HTTPConnectionPool(str(address), url.port, timeout=bounded, retries=False, maxsize=1)
        try:
            response = pool.urlopen("POST", url.target, body=body, headers={**headers, "Host": url.host_header},
                                    redirect=False, retries=False, preload_content=False, assert_same_host=False)
            status, answered = response.status, {k.lower(): v for k, v in response.headers.items()}
            response.close()  # the body stays unread: a receiver cannot make us download anything
            return status, answered
        except MaxRetryError as error:  # retries=False raises the cause itself; this is a safety net
            raise _translate(error.reason or error, timeout) from None
        except HTTPError as error:
            raise _translate(error, timeout) from None
        finally:
            pool.close()


class _NotConnected(Unreachable):
    """This address refused the connection at once: the next one may be tried."""


def _translate(error: BaseException, timeout: float) -> Unreachable:
    if isinstance(error, NewConnectionError):  # (a subclass of ConnectTimeoutError in urllib3 2)
        refused = isinstance(error.__context__, ConnectionRefusedError) or "refused" in str(error)
        return _NotConnected("connection refused" if refused else "could not connect to the endpoint")
    if isinstance(error, ConnectTimeoutError):
        return Unreachable(f"could not connect to the endpoint within {timeout:g} s")  # no time left for more
    if isinstance(error, SSLError):
        return Unreachable("TLS failed: the endpoint's certificate is not trusted or not for its host name")
    if isinstance(error, ReadTimeoutError):
        return Unreachable(f"no answer from the endpoint within {timeout:g} s")
    if isinstance(error, ProtocolError):
        return Unreachable("the endpoint dropped the connection")
    return Unreachable("the request to the endpoint failed")
