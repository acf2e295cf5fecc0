"""Where webhooks may point (SSRF): address classes, resolution, and send-time checks."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from gossip.hooks import netguard
from gossip.kit.errors import ValidationFailed


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.251",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:10.0.0.1",
        "::ffff:127.0.0.1",
    ],
)
def test_non_public_addresses(address: str) -> None:
    assert not netguard.is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses(address: str) -> None:
    assert netguard.is_public(ipaddress.ip_address(address))


def test_send_time_refuses_a_name_that_resolves_to_loopback() -> None:
    # "localhost" is resolved (as any name would be) and every answer is checked.
    with pytest.raises(netguard.Refused, match="non-public"):
        asyncio.run(netguard.target("https://localhost:8443/x", allow_private=False))


def test_send_time_pins_the_checked_address() -> None:
    found = asyncio.run(netguard.target("http://localhost:8080/a?b=1", allow_private=True))
    assert found.address in ("127.0.0.1", "::1")
    assert found.host == "localhost:8080" and found.server_name == "localhost"
    assert found.url.endswith(":8080/a?b=1") and "localhost" not in found.url


def test_unresolvable_names_are_refused() -> None:
    with pytest.raises(netguard.Refused, match="cannot resolve"):
        asyncio.run(netguard.target("https://no-such-host.invalid/x", allow_private=False))


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/x",
        "ftp://example.com/x",
        "https://user:pw@example.com/x",
        "https:///x",
        "https://example.com:99999/x",
        "https://exa mple.com/x",
    ],
)
def test_shapes_refused(url: str) -> None:
    with pytest.raises(ValidationFailed):
        netguard.check_shape(url, allow_private=False)


def test_http_is_for_development_only() -> None:
    assert netguard.check_shape("http://127.0.0.1:9/x", allow_private=True)[0] == "http"
