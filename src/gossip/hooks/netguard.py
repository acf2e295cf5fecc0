"""Where a webhook may point: refuse URLs that reach into the server's own network (SSRF).

Checked at registration and again before every new connection the worker opens, since a
DNS answer can change: every address the host resolves to must be public (not loopback,
private, link-local, multicast, reserved or unspecified), and the connection then goes to
an address that was checked (the name still goes in the Host header and TLS SNI), so a
second, different DNS answer cannot slip in between check and connect. A kept-alive
connection stays pinned to its checked address, so the POSTs reusing it need no new check
(hooks/sender.py). `allow_private` (GOSSIP_WEBHOOK_ALLOW_PRIVATE) lifts
the rule, and the https requirement, for development and tests.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from gossip.kit.errors import ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """The URL may not be called; the message says why."""


@dataclass(frozen=True, slots=True)
class Target:
    url: str  # with the checked address in place of the host name
    host: str  # the original host[:port], for the Host header
    server_name: str  # the original host name, for TLS SNI and certificate checks
    address: str


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def check_shape(url: str, *, allow_private: bool) -> tuple[str, str, int]:
    """Scheme, host and port of a URL fit to register, or ValidationFailed."""
    if len(url) > 2048:
        raise ValidationFailed.field("url", "at most 2048 characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValidationFailed.field("url", "not a valid URL") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise ValidationFailed.field("url", "must be an https:// URL")
    host = parts.hostname
    if not host or parts.username is not None or parts.password is not None:
        raise ValidationFailed.field("url", "must name a host, without credentials")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise ValidationFailed.field("url", "not a valid URL")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


async def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise Refused(f"cannot resolve {host}: {error}") from None
    found: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise Refused(f"cannot resolve {host}")
    return found


def split(url: str, *, allow_private: bool) -> tuple[str, str, int]:
    """`check_shape` for send time: Refused instead of ValidationFailed."""
    try:
        return check_shape(url, allow_private=allow_private)
    except ValidationFailed as error:
        raise Refused(error.details[0]["message"] if error.details else error.message) from None


async def checked_addresses(host: str, port: int, *, allow_private: bool) -> list[IPAddress]:
    """Every address `host` resolves to, once all of them are checked; or Refused. Connect
    to one of these, never to the name (which may resolve differently next time)."""
    addresses = await resolve(host, port)
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise Refused(f"{host} resolves to a non-public address ({address})")
    return addresses


async def target(url: str, *, allow_private: bool) -> Target:
    """The address to POST to, after checking every address the host has; or Refused."""
    _, host, port = split(url, allow_private=allow_private)
    addresses = await checked_addresses(host, port, allow_private=allow_private)
    chosen = addresses[0]
    shown = f"[{chosen}]" if chosen.version == 6 else str(chosen)
    parts = urlsplit(url)
    netloc = f"{shown}:{port}"
    pinned = parts._replace(netloc=netloc).geturl()
    return Target(
        url=pinned,
        host=parts.netloc.rpartition("@")[2],
        server_name=host,
        address=str(chosen),
    )


async def check_url(url: str, *, allow_private: bool) -> str:
    """For registration: the URL if it may be used, else ValidationFailed (400)."""
    check_shape(url, allow_private=allow_private)
    try:
        await target(url, allow_private=allow_private)
    except Refused as error:
        raise ValidationFailed.field("url", str(error)) from None
    return url
