"""PostgreSQL's staged search (search/repository.py, newest_postgres) against the obvious
answer, on a real database: every stage (reading in order, the GIN index over a stretch of
time, the GIN index for all the rest) must give exactly the newest matches of the scope,
newest first, whichever of them a query goes through.

The stages are shrunk (Stages) so that a few thousand messages reach all of them; the
HTTP tests (tests/surfaces/chirp/test_search.py) cover permissions and the answer's shape.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from gossip.db.migrate import upgrade
from gossip.db.models import Channel, Message, User
from gossip.kit.ids import DISCORD_EPOCH_MS
from gossip.search import repository
from gossip.search.service import WORD
from tests.live import postgres_database, postgres_reachable

SMALL = repository.Stages(first_rows=60, walk_max=250, margin=1.3, max_stages=6)
# Stretches of time sized for too few matches: stages fall short and go on from there.
TIGHT = repository.Stages(first_rows=60, walk_max=250, margin=0.4, max_stages=12)
CAP = 120  # counted
TEXTS = 40  # the newest, with their text
MESSAGES = 6_000
# Word -> share of messages holding it. "filler" words make up the rest of each text.
WORDS = {"alpha": 0.6, "beta": 0.25, "gamma": 0.04, "delta": 0.01, "omega": 0.002}
QUERIES: list[list[str]] = [
    ["alpha"],
    ["beta"],
    ["gamma"],
    ["delta"],
    ["omega"],
    ["alpha", "beta"],
    ["alpha", "gamma"],
    ["beta", "gamma"],
    ["gamma", "delta"],
    ["trend"],
    ["trend", "beta"],
    ["nothing"],
]


@pytest.fixture(scope="module")
def database() -> Iterator[tuple[str, list[tuple[int, int, int, str]], list[int], list[int]]]:
    if why := postgres_reachable():
        pytest.skip(why)
    rng = random.Random(4)
    users = [1_000 + i for i in range(3)]
    channels = [2_000 + i for i in range(3)]
    rows: list[tuple[int, int, int, str]] = []
    start_ms = 1_700_000_000_000 - DISCORD_EPOCH_MS
    at = 0
    for i in range(MESSAGES):
        # Uneven pace, in bursts and lulls, so that slices of time hold from none to
        # dozens of messages: stretches sized from a recent rate must still be exact.
        at += rng.choice((1, 5, 40, 300, 2_000))
        words = [w for w, share in WORDS.items() if rng.random() < share]
        # Common lately, rare before: the recent rate overestimates the older one.
        if rng.random() < (0.5 if i > MESSAGES * 0.9 else 0.03):
            words.append("trend")
        words += [f"filler{rng.randrange(50)}" for _ in range(rng.randint(1, 6))]
        rng.shuffle(words)
        # #0 holds most messages, #2 few: a scope that is a small part of the table.
        channel = channels[0] if rng.random() < 0.7 else channels[1 + (rng.random() < 0.15)]
        message_id = ((start_ms + at) << 22) | i % 4096
        rows.append((message_id, channel, users[i % len(users)], " ".join(words).capitalize()))

    async def fill(url: str) -> None:
        engine = create_async_engine(url)
        try:
            async with AsyncSession(engine) as session, session.begin():
                session.add_all(User(id=u, username=f"u{u}") for u in users)
                session.add_all(Channel(id=c, name=f"c{c}", type=0) for c in channels)
                await session.flush()
                await session.execute(
                    insert(Message),
                    [
                        {"id": m, "channel_id": c, "author_id": a, "content": t}
                        for m, c, a, t in rows
                    ],
                )
            async with engine.connect() as conn:
                await conn.execute(text("ANALYZE messages"))
        finally:
            await engine.dispose()

    with postgres_database() as url:
        upgrade(url)
        asyncio.run(fill(url))
        yield url, rows, channels, users


def expected(
    rows: Sequence[tuple[int, int, int, str]],
    words: Sequence[str],
    channels: Sequence[int],
    author: int | None,
) -> list[int]:
    held = [
        m
        for m, c, a, t in rows
        if c in channels
        and (author is None or a == author)
        and set(words) <= {w.lower() for w in WORD.findall(t)}
    ]
    return sorted(held, reverse=True)


@pytest.mark.parametrize("stages", [SMALL, TIGHT], ids=["small", "tight"])
def test_every_stage_finds_exactly_the_newest_matches(
    database: tuple[str, list[tuple[int, int, int, str]], list[int], list[int]],
    stages: repository.Stages,
) -> None:
    url, rows, channels, users = database
    scopes: list[tuple[list[int], int | None]] = [
        (channels, None),
        (channels[:1], None),
        (channels[2:], None),
        ([channels[0], channels[2]], None),
        (channels, users[1]),
    ]
    used: set[str] = set()

    async def run() -> None:
        engine = create_async_engine(url)
        try:
            for words in QUERIES:
                for scope, author in scopes:
                    want = expected(rows, words, scope, author)
                    async with AsyncSession(engine) as session, session.begin():
                        await repository.plan_each_query(session)
                        held = await repository.messages_in(session, scope)
                        trace: list[str] = []
                        got, total = await repository.newest_postgres(
                            session, words, scope, author, CAP, TEXTS, held, stages, trace
                        )
                    assert [m for m, _ in got] == want[:TEXTS], (words, scope, author, trace)
                    assert total == min(len(want), CAP), (words, scope, author, trace)
                    contents = {m: t for m, _, _, t in rows}
                    assert all(contents[m] == t for m, t in got)
                    used.update(f"{i}:{s}" for i, s in enumerate(trace))
        finally:
            await engine.dispose()

    asyncio.run(run())
    # Each way of going back in time was taken by some query: the first read, reading on
    # in order, a stretch of time through GIN, and all the rest through GIN; and with
    # TIGHT, stages after a stretch that fell short.
    assert {"0:walk", "1:walk", "1:slices", "1:rest"} <= used
    if stages is TIGHT:
        assert {"2:slices", "3:slices"} <= used
