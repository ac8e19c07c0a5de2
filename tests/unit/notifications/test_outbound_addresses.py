"""Which addresses a user-chosen URL may reach (shared.outbound), judged without any network."""
from __future__ import annotations

import ipaddress
import socket

import pytest

from shared.outbound import (
    AddressNotAllowed,
    NameNotFound,
    OutboundGuard,
    Unreachable,
    UnsafeUrl,
    kind_of,
    parse_networks,
    parse_url,
    system_resolver,
)


@pytest.mark.parametrize(("address", "kind"), [
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
    ("10.0.0.1", "private"), ("172.16.0.1", "private"), ("172.31.255.254", "private"), ("192.168.0.1", "private"),
    ("169.254.169.254", "cloud metadata service"), ("fd00:ec2::254", "cloud metadata service"),
    ("100.100.100.200", "cloud metadata service"), ("169.254.1.1", "link-local"), ("fe80::1", "link-local"),
    ("100.64.0.1", "shared address space (CGNAT)"), ("100.127.255.254", "shared address space (CGNAT)"),
    ("224.0.0.251", "multicast"), ("239.1.2.3", "multicast"), ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"), ("255.255.255.255", "broadcast"), ("240.0.0.1", "private"),
    ("fd12:3456::1", "unique-local"), ("fc00::1", "unique-local"), ("fec0::1", "site-local"),
    ("::ffff:127.0.0.1", "loopback (as an IPv6 address)"), ("::ffff:10.0.0.1", "private (as an IPv6 address)"),
    ("::127.0.0.1", "loopback (as an IPv6 address)"),  # IPv4-compatible (deprecated)
    ("64:ff9b::7f00:1", "loopback (as an IPv6 address)"),  # NAT64
    ("2002:a9fe:a9fe::", "cloud metadata service (as an IPv6 address)"),  # 6to4
    ("192.0.2.1", "private"), ("198.18.0.1", "private"), ("2001:db8::1", "private"),  # documentation, benchmarks
])
def test_addresses_that_are_not_public_are_named_by_kind(address: str, kind: str) -> None:
    assert kind_of(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:2800:220:1::1", "::ffff:93.184.215.14",
                                     "64:ff9b::808:808"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert kind_of(ipaddress.ip_address(address)) is None
    assert OutboundGuard().refusal(ipaddress.ip_address(address)) is None


def test_the_allow_list_opens_chosen_networks_but_never_the_metadata_service() -> None:
    guard = OutboundGuard(parse_networks("127.0.0.0/8, 10.20.0.0/16,169.254.0.0/16"))
    assert guard.refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert guard.refusal(ipaddress.ip_address("::ffff:127.0.0.1")) is None
    assert guard.refusal(ipaddress.ip_address("10.20.3.4")) is None
    assert guard.refusal(ipaddress.ip_address("10.21.3.4")) == "private"
    assert guard.refusal(ipaddress.ip_address("::1")) == "loopback"  # 127.0.0.0/8 says nothing about IPv6
    assert guard.refusal(ipaddress.ip_address("169.254.169.254")) == "cloud metadata service"
    with pytest.raises(ValueError, match="'10.0.0.0/33' is not a CIDR network"):
        parse_networks("10.0.0.0/33")
    assert parse_networks("") == ()


def test_a_name_with_one_inside_address_among_public_ones_is_refused() -> None:
    guard = OutboundGuard(resolver=lambda host, port: ["93.184.215.14", "10.0.0.5"])
    with pytest.raises(AddressNotAllowed, match="address not allowed: private"):
        guard.check("https://mixed.example.org/hook")


def test_a_missing_name_is_refused_and_a_silent_resolver_is_not_taken_for_an_answer() -> None:
    def resolver(error: int):
        def resolve(host: str, port: int) -> list[str]:
            raise socket.gaierror(error, "resolver says no")
        return resolve

    with pytest.raises(NameNotFound, match="the host name does not resolve"):
        OutboundGuard(resolver=resolver(socket.EAI_NONAME)).check("https://gone.example.org/")
    with pytest.raises(Unreachable, match="could not be resolved just now"):
        OutboundGuard(resolver=resolver(socket.EAI_AGAIN)).check("https://slow.example.org/")
    with pytest.raises(NameNotFound):
        OutboundGuard(resolver=lambda host, port: []).check("https://empty.example.org/")


def test_the_system_resolver_takes_localhost_for_loopback() -> None:
    assert {ipaddress.ip_address(a).is_loopback for a in system_resolver("localhost", 80)} == {True}
    with pytest.raises(AddressNotAllowed, match="loopback"):
        OutboundGuard().check("http://localhost:8080/hook")


@pytest.mark.parametrize(("url", "why"), [
    ("ftp://example.org/", "only http and https URLs are allowed"),
    ("javascript:alert(1)", "only http and https URLs are allowed"),
    ("https://user@example.org/", "a user name or password in the URL is not allowed"),
    ("https://user:pw@example.org/", "a user name or password in the URL is not allowed"),
    ("https://example.org@10.0.0.1/", "a user name or password in the URL is not allowed"),
    ("https:///path", "the URL names no host"),
    ("https://exa mple.org/", "the URL must not contain spaces or control characters"),
    ("https://example.org/\r\nX-Injected: 1", "the URL must not contain spaces or control characters"),
    ("https://example.org:99999/", "not a valid URL (host or port)"),
    ("https://[::1/", "not a valid URL (host or port)"),
    ("https://exa_mple.org/", "not a valid host name"),
    ("https://2130706433/", "not a valid host name: an IP address must be written as one"),
    ("https://0x7f000001/", "not a valid host name: an IP address must be written as one"),
    ("https://127.1/", "not a valid host name: an IP address must be written as one"),
])
def test_urls_of_the_wrong_shape_are_refused_with_a_reason(url: str, why: str) -> None:
    with pytest.raises(UnsafeUrl) as refused:
        parse_url(url)
    assert refused.value.reason == why


def test_a_url_keeps_its_name_port_and_target_for_the_request() -> None:
    url = parse_url("HTTPS://Hooks.Example.ORG./a/b?c=d#frag")
    assert (url.scheme, url.host, url.port, url.target, url.host_header) == (
        "https", "hooks.example.org", 443, "/a/b?c=d", "hooks.example.org")
    assert parse_url("http://[::1]:8080").host_header == "[::1]:8080"
    assert parse_url("http://bücher.example/").host == "xn--bcher-kva.example"
