"""The HTTP/1.1 client the delivery worker POSTs with: keep-alive pools per origin.

A webhook POST needs little of a general HTTP client: no redirects, cookies, proxies,
compression or HTTP/2; one request with a body, one status back. It does need what
general clients make awkward: every new connection goes to an address netguard has just
checked, with the URL's name kept for `Host`, TLS SNI and certificate checks. So this is a
small client of its own on asyncio (and uvloop) with httptools' C parser (llhttp, which
uvicorn parses requests with) reading the answers. It costs ~0.04 ms of CPU a request
against httpx's ~1.2 ms (docs/decisions.md, docs/performance.md).

- **Pools per origin** (scheme, host, port), at most `per_origin` connections each; a
  POST waits for a free one. Idle connections are kept for `keepalive` seconds.
- **The address check is per connection**: a connection is opened to an address that
  netguard resolved and checked just before, and stays pinned to it, so reusing it
  cannot reach anything else whatever DNS says later. Names are resolved again for every
  new connection (no DNS cache of our own).
- **The timeout** covers connecting, sending and reading the answer, not the wait for a
  free connection of the origin (others' POSTs, each bounded by the timeout).
- A reused connection that the server closed while it was idle (a keep-alive race) is
  retried once on a fresh connection; the receiver may then see the request twice, which
  at-least-once delivery allows (the same `webhook-id` both times).
- At most `max_response_bytes` of an answer's body are read; past that the connection is
  closed rather than drained.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import httptools

from gossip.hooks import netguard

# Characters left as they are when a path or query is made ASCII (RFC 3986 pchar + "/?").
_SAFE = "/?:@!$&'()*+,;=-._~%"


class SendError(Exception):
    """The request failed on the wire (closed connection, unreadable answer)."""


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str  # the name (or literal address) of the URL
    port: int


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A URL taken apart once: where to connect and the request line's pieces."""

    origin: Origin
    target: bytes  # path and query, ASCII
    host_header: bytes


def parse(url: str, *, allow_private: bool) -> Endpoint:
    """Netguard's shape check, then the parts a request needs; or netguard.Refused."""
    scheme, host, port = netguard.split(url, allow_private=allow_private)
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        ascii_host = host if host.isascii() else host.encode("idna").decode("ascii")
    except UnicodeError:
        raise netguard.Refused(f"not a valid host name: {host}") from None
    shown = f"[{ascii_host}]" if ":" in ascii_host else ascii_host
    netloc = shown if parts.port is None else f"{shown}:{port}"
    return Endpoint(
        origin=Origin(scheme, host, port),
        target=quote(target, safe=_SAFE).encode("ascii"),
        host_header=netloc.encode("ascii"),
    )


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time, driven from callbacks."""

    def __init__(self, origin: Origin, max_response_bytes: int) -> None:
        self.origin = origin
        self.max_response_bytes = max_response_bytes
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[int] | None = None
        self.status = 0
        self.answered = False  # a status line and headers came for the current request
        self.heard = False  # any byte came for the current request
        self.body_read = 0
        self.reusable = False
        self.closed = False
        self.requests = 0
        self.idle_since = 0.0

    # --- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.waiter is None or self.waiter.done():
            self.close()  # bytes nobody asked for: the connection's state is unknown
            return
        self.heard = True
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as error:
            self._finish(SendError(f"unreadable answer: {type(error).__name__} {error}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.answered:
            # A body delimited by the end of the connection ends here.
            self._finish(self.status)
        else:
            self._finish(SendError("connection closed before an answer"))

    # --- httptools callbacks ------------------------------------------------------------

    def on_headers_complete(self) -> None:
        if self.waiter is None or self.waiter.done():
            self.close()  # a second answer to one request: never reuse this connection
            return
        self.status = self.parser.get_status_code()
        self.answered = self.status >= 200  # a 1xx is followed by the real answer

    def on_body(self, body: bytes) -> None:
        self.body_read += len(body)
        if self.body_read > self.max_response_bytes:
            self._finish(self.status)
            self.close()

    def on_message_complete(self) -> None:
        if not self.answered:
            return
        self.reusable = self.parser.should_keep_alive()
        self._finish(self.status)

    # --- used by the pool ---------------------------------------------------------------

    def _finish(self, result: int | Exception) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if isinstance(result, Exception):
            waiter.set_exception(result)
        else:
            waiter.set_result(result)

    async def request(self, head: bytes, body: bytes) -> int:
        """Send one request and wait for its status; the caller times this out."""
        assert self.transport is not None
        if self.closed:
            raise SendError("connection closed before an answer")
        self.waiter = asyncio.get_running_loop().create_future()
        self.status, self.answered, self.heard, self.body_read = 0, False, False, 0
        self.reusable = False
        self.requests += 1
        self.transport.write(head + body)
        return await self.waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class _Pool:
    def __init__(self, per_origin: int) -> None:
        self.slots = asyncio.Semaphore(per_origin)
        self.idle: list[_Connection] = []
        self.users = 0  # POSTs holding or waiting for a slot


class Sender:
    """POSTs over pooled connections to checked addresses. One per worker."""

    def __init__(
        self,
        *,
        allow_private: bool,
        timeout: float,
        per_origin: int,
        keepalive: float = 5.0,
        max_response_bytes: int = 64 * 1024,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.allow_private = allow_private
        self.timeout = timeout
        self.per_origin = per_origin
        self.keepalive = keepalive
        self.max_response_bytes = max_response_bytes
        self.ssl_context = ssl_context or ssl.create_default_context()
        self._pools: dict[Origin, _Pool] = {}
        self._endpoints: dict[str, Endpoint] = {}
        self.connections_opened = 0
        self._pruned_at = 0.0

    def endpoint(self, url: str) -> Endpoint:
        found = self._endpoints.get(url)
        if found is None:
            found = parse(url, allow_private=self.allow_private)
            if len(self._endpoints) > 10_000:  # URLs change rarely; never grow without end
                self._endpoints.clear()
            self._endpoints[url] = found
        return found

    async def post(self, url: str, headers: Iterable[tuple[str, str]], body: bytes) -> int:
        """The status of the answer; or netguard.Refused, SendError, OSError, TimeoutError."""
        endpoint = self.endpoint(url)
        head = b"".join(
            [
                b"POST %s HTTP/1.1\r\nhost: %s\r\n" % (endpoint.target, endpoint.host_header),
                *(f"{name}: {value}\r\n".encode() for name, value in headers),
                b"content-length: %d\r\n\r\n" % len(body),
            ]
        )
        pool = self._pools.get(endpoint.origin)
        if pool is None:
            pool = self._pools[endpoint.origin] = _Pool(self.per_origin)
        pool.users += 1
        try:
            async with pool.slots, asyncio.timeout(self.timeout):
                connection = self._reuse(pool)
                if connection is not None:
                    try:
                        return await self._send(pool, connection, head, body)
                    except SendError:
                        if connection.heard:
                            raise
                        # Closed by the server while idle, or as we wrote, without a word:
                        # once more on a new connection.
                connection = await self._connect(endpoint.origin)
                return await self._send(pool, connection, head, body)
        finally:
            pool.users -= 1

    def _reuse(self, pool: _Pool) -> _Connection | None:
        now = time.monotonic()
        while pool.idle:
            connection = pool.idle.pop()
            if not connection.closed and now - connection.idle_since < self.keepalive:
                return connection
            connection.close()
        return None

    async def _send(self, pool: _Pool, connection: _Connection, head: bytes, body: bytes) -> int:
        try:
            status = await connection.request(head, body)
        except BaseException:
            connection.close()  # cancelled or failed mid-request: its state is unknown
            raise
        if connection.reusable and not connection.closed:
            connection.idle_since = time.monotonic()
            pool.idle.append(connection)
        else:
            connection.close()
        return status

    async def _connect(self, origin: Origin) -> _Connection:
        # Resolve and check now, then connect to what was checked (netguard.py's rule).
        addresses = await netguard.checked_addresses(
            origin.host, origin.port, allow_private=self.allow_private
        )
        tls = origin.scheme == "https"
        loop = asyncio.get_running_loop()
        failure: OSError | None = None
        for address in addresses:
            try:
                _, connection = await loop.create_connection(
                    lambda: _Connection(origin, self.max_response_bytes),
                    host=str(address),
                    port=origin.port,
                    ssl=self.ssl_context if tls else None,
                    server_hostname=origin.host if tls else None,
                )
            except OSError as error:
                failure = error
                continue
            self.connections_opened += 1
            return connection
        assert failure is not None
        raise failure

    def prune(self) -> None:
        """Closes connections idle past the keep-alive time (at most once a second)."""
        now = time.monotonic()
        if now - self._pruned_at < 1.0:
            return
        self._pruned_at = now
        for origin, pool in list(self._pools.items()):
            keep = [c for c in pool.idle if not c.closed and now - c.idle_since < self.keepalive]
            for connection in pool.idle:
                if connection not in keep:
                    connection.close()
            pool.idle[:] = keep
            if not keep and not pool.users:
                del self._pools[origin]

    async def close(self) -> None:
        for pool in self._pools.values():
            for connection in pool.idle:
                connection.close()
            pool.idle.clear()
        self._pools.clear()
        await asyncio.sleep(0)  # let the transports' close callbacks run
