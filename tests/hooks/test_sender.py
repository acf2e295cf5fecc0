"""The worker's HTTP client (hooks/sender.py) against real local servers: keep-alive reuse,
the per-origin bound, the timeout, the address check per connection, answers framed every
way HTTP/1.1 allows, a connection the server dropped while idle, and TLS with SNI."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trustme

from gossip.hooks import netguard
from gossip.hooks.sender import Sender, SendError
from tests.hooks.receiver import Receiver, running

HEADERS = [("content-type", "application/json"), ("webhook-id", "msg_1")]


def sender(**options: Any) -> Sender:
    defaults: dict[str, Any] = {"allow_private": True, "timeout": 2.0, "per_origin": 4}
    return Sender(**{**defaults, **options})


def test_posts_reuse_one_kept_alive_connection() -> None:
    async def main(receiver: Receiver) -> list[int]:
        client = sender()
        try:
            return [
                await client.post(receiver.url("/k?x=1"), HEADERS, b'{"n":%d}' % n)
                for n in range(5)
            ]
        finally:
            assert client.connections_opened == 1
            await client.close()

    with running() as receiver:
        assert asyncio.run(main(receiver)) == [200] * 5
        got = receiver.at("/k?x=1")
        assert [r.body for r in got] == [b'{"n":%d}' % n for n in range(5)]
        assert got[0].headers["webhook-id"] == "msg_1"
        assert got[0].headers["host"] == f"127.0.0.1:{receiver.port}"


def test_statuses_come_back_as_answered() -> None:
    async def main(receiver: Receiver) -> list[int]:
        client = sender()
        try:
            return [await client.post(receiver.url("/s"), HEADERS, b"{}") for _ in range(3)]
        finally:
            await client.close()

    with running() as receiver:
        receiver.script("/s", 500, 410, 204)
        assert asyncio.run(main(receiver)) == [500, 410, 204]


def test_at_most_per_origin_connections_at_once() -> None:
    async def main(receiver: Receiver) -> list[int]:
        client = sender(per_origin=2)
        try:
            return await asyncio.gather(
                *(client.post(receiver.url("/bound"), HEADERS, b"{}") for _ in range(6))
            )
        finally:
            assert client.connections_opened == 2
            await client.close()

    with running(Receiver(delay=0.1)) as receiver:
        assert asyncio.run(main(receiver)) == [200] * 6


def test_a_slow_answer_times_out() -> None:
    async def main(receiver: Receiver) -> None:
        client = sender(timeout=0.2)
        try:
            with pytest.raises(TimeoutError):
                await client.post(receiver.url("/slow"), HEADERS, b"{}")
        finally:
            await client.close()

    with running(Receiver(delay=1.0)) as receiver:
        asyncio.run(main(receiver))


def test_private_addresses_are_refused_when_connecting() -> None:
    async def main(receiver: Receiver) -> None:
        client = sender(allow_private=False)
        try:
            with pytest.raises(netguard.Refused, match="non-public"):
                await client.post(f"https://localhost:{receiver.port}/x", HEADERS, b"{}")
            with pytest.raises(netguard.Refused, match="https"):
                await client.post(receiver.url("/x"), HEADERS, b"{}")
            assert client.connections_opened == 0
        finally:
            await client.close()

    with running() as receiver:
        asyncio.run(main(receiver))
        assert receiver.received == []


def test_refused_and_closed_ports_raise_os_errors() -> None:
    async def main() -> None:
        client = sender()
        try:
            with pytest.raises(OSError):
                await client.post("http://127.0.0.1:9/x", HEADERS, b"{}")
        finally:
            await client.close()

    asyncio.run(main())


# --- raw servers, for the framings and failures a well-behaved server never shows -------


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


async def serve(handler: Handler) -> tuple[asyncio.Server, int, list[int]]:
    """A server calling `handler(reader, writer, n)` for its n-th connection; the list
    counts requests per connection."""
    per_connection: list[int] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        per_connection.append(0)
        try:
            await handler(reader, writer, len(per_connection) - 1)
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], per_connection


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head + await reader.readexactly(length)


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n",
    ],
    ids=["chunked", "interim-1xx"],
)
def test_framed_answers_keep_the_connection(answer: bytes) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        while True:
            try:
                await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            writer.write(answer)

    async def main() -> None:
        server, port, _ = await serve(handler)
        client = sender()
        try:
            statuses = [await client.post(f"http://127.0.0.1:{port}/", HEADERS, b"{}")]
            statuses.append(await client.post(f"http://127.0.0.1:{port}/", HEADERS, b"{}"))
            assert statuses == [statuses[0]] * 2 and statuses[0] in (200, 202)
            assert client.connections_opened == 1
        finally:
            await client.close()
            server.close()

    asyncio.run(main())


def test_an_answer_ended_by_closing_and_a_large_one() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        if n == 0:  # no length: the body ends with the connection
            writer.write(b"HTTP/1.1 201 Created\r\n\r\nsome body")
        else:  # far more than the client reads
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n" + b"x" * 1_000_000)
            await writer.drain()
        await writer.drain()

    async def main() -> None:
        server, port, _ = await serve(handler)
        client = sender()
        try:
            assert await client.post(f"http://127.0.0.1:{port}/", HEADERS, b"{}") == 201
            assert await client.post(f"http://127.0.0.1:{port}/", HEADERS, b"{}") == 200
            assert client.connections_opened == 2  # neither connection could be reused
        finally:
            await client.close()
            server.close()

    asyncio.run(main())


def test_a_connection_dropped_while_idle_is_retried_once_on_a_new_one() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()
        if n == 0:
            # The first connection dies on its second request without a word, as a
            # server's keep-alive timeout racing the client's next request looks.
            await read_request(reader)

    async def main() -> None:
        server, port, _ = await serve(handler)
        client = sender()
        try:
            assert await client.post(f"http://127.0.0.1:{port}/", HEADERS, b"{}") == 200
            assert await client.post(f"http://127.0.0.1:{port}/", HEADERS, b"{}") == 200
            assert client.connections_opened == 2
        finally:
            await client.close()
            server.close()

    asyncio.run(main())


def test_garbage_is_a_send_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await read_request(reader)
        writer.write(b"SMTP ready\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    async def main() -> None:
        server, port, _ = await serve(handler)
        client = sender()
        try:
            with pytest.raises(SendError):
                await client.post(f"http://127.0.0.1:{port}/", HEADERS, b"{}")
        finally:
            await client.close()
            server.close()

    asyncio.run(main())


# --- TLS ---------------------------------------------------------------------------------


def test_tls_sends_the_name_for_sni_and_verifies_the_certificate_for_it() -> None:
    ca = trustme.CA()
    names: list[str | None] = []

    def server_context(name: str) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(name).configure_cert(context)
        context.sni_callback = lambda _sock, sni, _ctx: names.append(sni)  # type: ignore[assignment,misc,func-returns-value]
        return context

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        # A certificate for the name only (no IP in it): the POST connects to the checked
        # address, so it passes only if SNI and the check use the URL's name.
        right = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=server_context("localhost"))
        wrong = await asyncio.start_server(
            handler, "127.0.0.1", 0, ssl=server_context("elsewhere.example")
        )
        trusting = ssl.create_default_context()
        ca.configure_trust(trusting)
        client = sender(ssl_context=trusting)
        strict = sender()  # the system's trust store does not know the test CA
        try:
            port = right.sockets[0].getsockname()[1]
            assert await client.post(f"https://localhost:{port}/tls", HEADERS, b"{}") == 200
            assert names == ["localhost"]
            with pytest.raises(ssl.SSLCertVerificationError):
                await strict.post(f"https://localhost:{port}/tls", HEADERS, b"{}")
            port = wrong.sockets[0].getsockname()[1]
            with pytest.raises(ssl.SSLCertVerificationError):
                await client.post(f"https://localhost:{port}/tls", HEADERS, b"{}")
        finally:
            await client.close()
            await strict.close()
            right.close()
            wrong.close()

    asyncio.run(main())


def test_two_answers_to_one_request_end_the_connection() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        while True:
            try:
                await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n" * 2)

    async def main() -> None:
        server, port, _ = await serve(handler)
        client = sender()
        try:
            assert await client.post(f"http://127.0.0.1:{port}/", HEADERS, b"{}") == 200
            assert await client.post(f"http://127.0.0.1:{port}/", HEADERS, b"{}") == 200
            # The stray second answer must not be taken for the second request's.
            assert client.connections_opened == 2
        finally:
            await client.close()
            server.close()

    asyncio.run(main())
