"""Search benchmark: `GET /api/search/messages` over a server of a million messages.

One run starts the server as users do (`gossip serve` in a subprocess, on a fresh temporary
data directory or a fresh PostgreSQL database), then:

1. sets up through the public API: an owner and a reader, one server, #general and
   `--channels - 1` more channels, one of which the reader cannot see (an overwrite denies
   @everyone VIEW_CHANNEL), so every search goes through the permission filter;
2. stops the server and writes `--messages` rows straight into `messages` with
   bench/messages.py's bulk seeding (sqlite3 executemany, or COPY through asyncpg); the
   database's own triggers index them as they arrive, as they would any message. The text
   is drawn from a Zipf-distributed vocabulary (a hundred common English words, then
   made-up words), 4-16 words a message, so some words are in most messages and some in a
   few dozen;
3. starts it again and checks each kind of query once against counts kept while seeding;
4. measures, from `--clients` keep-alive connections for `--duration` seconds each, every
   query kind with and without `channelId` (#general), cycling through 20 different words
   of that kind;
5. measures `GET /api/channels/{#general}/messages?limit=25` the same way: the baseline,
   an indexed read of the same size on the same data in the same run.

It prints one JSON line on stdout (progress goes to stderr). Nothing is asserted: compare
`search_p99_ms` with 50 ms.

    python -m bench.search                      # the full million, SQLite
    python -m bench.search --messages 50000 --duration 1    # quick
    python -m bench.search --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import itertools
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench import loadgen
from bench.messages import (
    HOST,
    Api,
    BenchError,
    Measured,
    Process,
    free_port,
    gossip_argv,
    gossip_env,
    log,
    measure,
    ms,
    postgres_database,
    seed_ids,
    seed_postgres,
    seed_sqlite,
    seeded_id,
    set_up,
)
from gossip.kit.permissions import Permission

COMMON = [
    "the",
    "you",
    "and",
    "to",
    "a",
    "i",
    "it",
    "is",
    "of",
    "that",
    "in",
    "for",
    "on",
    "we",
    "this",
    "with",
    "be",
    "have",
    "are",
    "not",
    "but",
    "so",
    "what",
    "can",
    "just",
    "like",
    "do",
    "at",
    "if",
    "get",
    "know",
    "all",
    "my",
    "was",
    "your",
    "me",
    "one",
    "will",
    "about",
    "there",
    "up",
    "out",
    "no",
    "think",
    "yeah",
    "how",
    "they",
    "when",
    "time",
    "good",
    "now",
    "some",
    "would",
    "or",
    "he",
    "from",
    "should",
    "go",
    "people",
    "see",
    "here",
    "more",
    "make",
    "also",
    "any",
    "then",
    "need",
    "work",
    "thanks",
    "new",
    "want",
    "really",
    "way",
    "day",
    "still",
    "because",
    "well",
    "same",
    "back",
    "right",
    "ok",
    "game",
    "server",
    "which",
    "only",
    "use",
    "try",
    "over",
    "too",
    "got",
    "lol",
    "much",
    "even",
]
VOCABULARY = 30_000
ZIPF_S = 1.0
COUNT_CAP = 1_000  # gossip.search.service.COUNT_CAP
WORDS_PER_KIND = 20


def made_up_words() -> Iterator[str]:
    """Pronounceable, distinct, and never one of COMMON: bako, bakomi, ..."""
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    seen = set(COMMON)
    for length in (2, 3):
        for parts in itertools.product(syllables, repeat=length):
            word = "".join(parts)
            if word not in seen:
                seen.add(word)
                yield word


def vocabulary() -> list[str]:
    return [*COMMON, *itertools.islice(made_up_words(), VOCABULARY - len(COMMON))]


# Query kinds: the ranks (1 = most frequent) of the words of each query, WORDS_PER_KIND
# queries a kind. With s = 1 over 30,000 words, rank 1 is in ~60% of messages, rank 1000
# in ~0.1% (a thousand of a million), rank 20,000 in a few dozen.
KINDS: dict[str, list[tuple[int, ...]]] = {
    "common": [(r,) for r in range(1, WORDS_PER_KIND + 1)],
    "common_pair": [(r, r + 1) for r in range(1, WORDS_PER_KIND * 2, 2)],
    "mid": [(r,) for r in range(1000, 1000 + WORDS_PER_KIND)],
    "rare": [(r,) for r in range(20_000, 20_000 + WORDS_PER_KIND)],
    "rare_pair": [(r, r + 5000) for r in range(300, 300 + WORDS_PER_KIND)],
    "absent": [],  # words not in the vocabulary: nothing matches
}


@dataclass
class World:
    owner: str
    reader: str
    user_ids: list[int]
    server_id: int
    general: int
    channels: list[int]  # every channel, #general first
    hidden: int  # the one the reader cannot see
    # (kind, query words) -> matching messages the reader may read, everywhere / in #general
    expected: dict[tuple[str, tuple[str, ...]], list[int]] = field(default_factory=dict)


def set_up_world(api: Api, channels: int) -> World:
    setup = set_up(api, 2)
    if len(setup.tokens) < 2:
        raise BenchError("the reader could not join the server")
    owner, reader = setup.tokens
    ids = [setup.channel_id]
    for i in range(1, channels):
        made = api.data("POST", f"/servers/{setup.server_id}/channels", owner, {"name": f"r{i}"})
        ids.append(int(made["id"]))
    hidden = ids[-1]
    api.data(
        "PUT",
        f"/channels/{hidden}/permissions/{setup.server_id}",
        owner,
        {"type": 0, "allow": "0", "deny": str(int(Permission.VIEW_CHANNEL))},
    )
    return World(owner, reader, setup.user_ids, setup.server_id, ids[0], ids, hidden)


def queries(vocab: Sequence[str]) -> dict[str, list[tuple[str, ...]]]:
    found = {
        kind: [tuple(vocab[r - 1] for r in ranks) for ranks in rs] for kind, rs in KINDS.items()
    }
    found["absent"] = [(f"zzqx{i}",) for i in range(WORDS_PER_KIND)]
    return found


def generate(
    world: World, start_ms: int, count: int, seed: int, checked: dict[str, tuple[str, ...]]
) -> Iterator[tuple[Any, ...]]:
    """The seeded rows; counts, as it goes, what the checked queries must find."""
    rng = random.Random(seed)
    vocab = vocabulary()
    cumulative = list(itertools.accumulate(1 / (k**ZIPF_S) for k in range(1, len(vocab) + 1)))
    total = cumulative[-1]
    # #general holds 40%, the others share the rest (the hidden one too).
    weights = [0.4] + [0.6 / (len(world.channels) - 1)] * (len(world.channels) - 1)
    channel_cumulative = list(itertools.accumulate(weights))
    for kind, words in checked.items():
        world.expected[(kind, words)] = [0, 0]
    n_authors = len(world.user_ids)
    for i in range(count):
        length = rng.randint(4, 16)
        words = [vocab[bisect.bisect(cumulative, rng.random() * total)] for _ in range(length)]
        channel = world.channels[
            min(bisect.bisect(channel_cumulative, rng.random()), len(world.channels) - 1)
        ]
        if channel != world.hidden:
            present = set(words)
            for kind, wanted in checked.items():
                if present.issuperset(wanted):
                    counts = world.expected[(kind, wanted)]
                    counts[0] += 1
                    if channel == world.general:
                        counts[1] += 1
        yield (
            seeded_id(start_ms, i),
            channel,
            world.user_ids[i % n_authors],
            " ".join(words).capitalize() + rng.choice((".", "!", "?", "", " :)")),
            0,
            False,
            False,
            False,
        )


def search_path(words: Sequence[str], channel_id: int | None) -> str:
    params: dict[str, Any] = {"query": " ".join(words)}
    if channel_id is not None:
        params["channelId"] = channel_id
    return "/api/search/messages?" + urlencode(params)


def check(api: Api, world: World, checked: dict[str, tuple[str, ...]]) -> None:
    """Each kind once, as the reader: the counts seeding kept, and nothing hidden."""
    for kind, words in checked.items():
        everywhere, in_general = world.expected[(kind, words)]
        for channel_id, want in ((None, everywhere), (world.general, in_general)):
            data = api.data("GET", search_path(words, channel_id)[len("/api") :], world.reader)
            got = data["totalResults"]
            if got != min(want, COUNT_CAP):
                raise BenchError(f"{kind} {words} in {channel_id}: {got} results, not {want}")
            for hit in data["results"]:
                if int(hit["message"]["channelId"]) == world.hidden:
                    raise BenchError(f"{kind} {words} found a message of the hidden channel")
                if channel_id is not None and int(hit["message"]["channelId"]) != channel_id:
                    raise BenchError(f"{kind} {words} found a message of another channel")
        log(f"{kind} {' '.join(words)!r}: {everywhere} everywhere, {in_general} in #general")


def explain(world: World, url: str, checked: dict[str, tuple[str, ...]]) -> None:
    """Logs, for each checked query, as the reader (every channel but the hidden one) and
    in #general: on SQLite the plan and time of search's two statements; on PostgreSQL
    the stages search went through (repository.newest_postgres) and their time."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    from gossip.search import repository

    postgres = url.startswith("postgresql")
    readable = [c for c in world.channels if c != world.hidden]

    async def stages() -> None:
        engine = create_async_engine(url)
        try:
            for kind, words in checked.items():
                for scope, channels in (("all", readable), ("channel", [world.general])):
                    async with AsyncSession(engine) as session, session.begin():
                        await repository.plan_each_query(session)
                        held = await repository.messages_in(session, channels)
                        trace: list[str] = []
                        started = time.perf_counter()
                        _, found = await repository.newest_postgres(
                            session, words, channels, None, COUNT_CAP, 250, held, trace=trace
                        )
                        took = (time.perf_counter() - started) * 1000
                    log(f"{kind} {scope}: {found} found in {took:.1f} ms by {trace}")
        finally:
            await engine.dispose()

    if postgres:
        asyncio.run(stages())
        return

    async def go() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                for kind, words in checked.items():
                    for scope, channels in (("all", readable), ("channel", [world.general])):
                        values = repository.params(words, channels, None)
                        values |= {"limit": 250, "cap": 1000}
                        for name, sql in (
                            ("newest", repository.newest_sql(None)),
                            ("count", repository.count_sql(None)),
                        ):
                            started = time.perf_counter()
                            await conn.execute(text(sql), values)
                            took = (time.perf_counter() - started) * 1000
                            plan = await conn.execute(text("EXPLAIN QUERY PLAN " + sql), values)
                            lines = [str(r[-1]) for r in plan]
                            log(f"{kind} {scope} {name} {took:.1f} ms: " + " | ".join(lines))
        finally:
            await engine.dispose()

    asyncio.run(go())


def run(args: argparse.Namespace, work: Path, database_url: str | None) -> dict[str, Any]:
    data_dir = work / "data"
    port = free_port()
    load_before = os.getloadavg()[0]
    env = gossip_env(data_dir, port, database_url)
    figures: dict[str, Any] = {"bench": "search"}

    log(f"starting gossip serve on {HOST}:{port} ({'postgresql' if database_url else 'sqlite'})")
    server = Process("gossip", gossip_argv(), env, port, work)
    try:
        server.wait_ready()
        api = Api(port)
        try:
            world = set_up_world(api, args.channels)
        finally:
            api.close()
    finally:
        server.stop()

    vocab = vocabulary()
    kinds = queries(vocab)
    checked = {kind: words[0] for kind, words in kinds.items()}
    log(f"seeding {args.messages:,} messages over {len(world.channels)} channels")
    start_ms, count = seed_ids(args.messages)
    rows = generate(world, start_ms, count, args.seed, checked)
    started = time.perf_counter()
    if database_url:
        asyncio.run(
            seed_postgres(database_url, world.general, world.user_ids, start_ms, count, rows)
        )
    else:
        seed_sqlite(data_dir / "gossip.db", world.general, world.user_ids, start_ms, count, rows)
    figures["seed_s"] = round(time.perf_counter() - started, 1)
    log(f"seeded and indexed in {figures['seed_s']}s")

    server = Process("gossip", gossip_argv(), env, port, work)
    rounds: list[Measured] = []
    try:
        server.wait_ready()
        api = Api(port)
        try:
            check(api, world, checked)
        finally:
            api.close()
        if args.explain:
            explain(world, database_url or f"sqlite+aiosqlite:///{data_dir}/gossip.db", checked)
        for kind, words_list in kinds.items():
            for scope, channel_id in (("all", None), ("channel", world.general)):
                paths = [search_path(w, channel_id) for w in words_list]
                requests = [
                    loadgen.build_request("GET", p, port=port, token=world.reader) for p in paths
                ]
                # Each client starts at its own place in the list of queries.
                per_client = [requests[i:] + requests[:i] for i in range(args.clients)]
                log(f"searching {kind} words, {scope}, from {args.clients} client(s)")
                got = measure(server, per_client, args.warmup, args.duration)
                rounds.append(got)
                name = f"{kind}_{scope}"
                figures[f"{name}_p50_ms"] = ms(got.result.percentile_ms(50))
                figures[f"{name}_p99_ms"] = ms(got.result.percentile_ms(99))
                bad = got.result.completed - got.ok(200) + got.result.errors
                if bad:
                    figures[f"{name}_errors"] = bad
        log("reading #general's latest 25 messages: the baseline")
        path = f"/api/channels/{world.general}/messages?limit=25"
        requests = [[loadgen.build_request("GET", path, port=port, token=world.reader)]]
        base = measure(server, requests * args.clients, args.warmup, args.duration)
    finally:
        server.stop()

    pooled = Measured.merge(rounds)
    search_p99 = pooled.result.percentile_ms(99)
    base_p99 = base.result.percentile_ms(99)
    figures.update(
        search_p50_ms=ms(pooled.result.percentile_ms(50)),
        search_p99_ms=ms(search_p99),
        search_rps=round(pooled.result.rps(200), 1),
        search_errors=pooled.result.completed - pooled.ok(200) + pooled.result.errors,
        read_p50_ms=ms(base.result.percentile_ms(50)),
        read_p99_ms=ms(base_p99),
        search_p99_vs_read_p99=round(search_p99 / base_p99, 2) if base_p99 else None,
        messages=args.messages,
        channels=len(world.channels),
        matches={kind: world.expected[(kind, words)][0] for kind, words in checked.items()},
        clients=args.clients,
        duration_s=args.duration,
        server_cpu_search=round(pooled.server_cpu, 2),
        python=platform.python_version(),
        database="postgresql" if database_url else "sqlite",
        cpus=os.cpu_count(),
        loadavg_1m_before=round(load_before, 2),
        loadavg_1m_after=round(os.getloadavg()[0], 2),
    )
    first = ["bench", "search_p50_ms", "search_p99_ms", "read_p99_ms", "search_p99_vs_read_p99"]
    return {k: figures[k] for k in first} | {k: v for k, v in figures.items() if k not in first}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.search", description="Gossip message search benchmark"
    )
    parser.add_argument("--messages", type=int, default=1_000_000, help="rows seeded")
    parser.add_argument("--channels", type=int, default=10, help="channels in the server")
    parser.add_argument("--clients", type=int, default=1, help="concurrent searchers")
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds before measuring")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per query kind")
    parser.add_argument("--seed", type=int, default=1, help="for the generated text")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server (postgresql+asyncpg://user@127.0.0.1:5432/db): the bench"
        " creates a fresh database there and drops it afterwards; default SQLite",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the data dir and logs, and the PostgreSQL database",
    )
    parser.add_argument(
        "--explain", action="store_true", help="log each statement's plan and time first"
    )
    args = parser.parse_args(argv)
    if args.messages < 1000 or args.channels < 2 or args.clients < 1:
        parser.error("--messages must be at least 1000, --channels 2, --clients 1")
    if args.database_url and not args.database_url.startswith("postgresql"):
        parser.error("--database-url must be a postgresql:// or postgresql+asyncpg:// URL")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="gossip-bench-search-"))
    try:
        with contextlib.ExitStack() as stack:
            url = (
                stack.enter_context(postgres_database(args.database_url, keep=args.keep))
                if args.database_url
                else None
            )
            figures = run(args, work, url)
    except BenchError as error:
        log(f"failed: {error}")
        log(f"logs in {work}")
        return 1
    if args.keep:
        log(f"data and logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
