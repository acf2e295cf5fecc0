"""Message search: full text over every message the caller may read, and nothing else.

Where it looks is decided first, by the access rules every other route uses: the one
channel asked for (seen as access_channel sees it, then VIEW_CHANNEL +
READ_MESSAGE_HISTORY), or every channel and thread of the server asked for, or of all the
caller's servers, where they hold both after overwrites, plus the DMs and group DMs they
are in (access.service.visible_channels, one statement). The SQL then never leaves those
channels, and context messages come from the hit's own channel, so they obey the same
rule.

Ranking: the newest CANDIDATES messages holding every word are scored for relevance (BM25's
term-frequency and length part, computed here from their text, so both engines score
alike) and the best `limit` of them returned, newest first among equal scores. Bounding
the candidates bounds the cost of a common word in a million messages; the price is that
an old message can only win over newer ones among the newest matches.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from gossip.access.service import VisibleChannel, visible_channels
from gossip.auth.subject import Actor
from gossip.kit.errors import NotFound, ValidationFailed
from gossip.kit.permissions import has
from gossip.messages import repository as messages_repository
from gossip.messages.service import READ, MessageView, hydrate, hydrate_with_authors
from gossip.search import repository

MAX_QUERY = 200  # characters
MAX_WORDS = 16
MAX_LIMIT = 25
MAX_CONTEXT = 5
CANDIDATES = 250  # newest matches scored per search
COUNT_CAP = 1_000  # totalResults counts this far at most
# BM25's usual constants; AVERAGE_WORDS stands for the corpus' mean message length (chat
# messages are short), which would otherwise cost a count of the whole index.
K1, B, AVERAGE_WORDS = 1.2, 0.75, 12.0
# A word as both indexes cut text: letters and digits (FTS5's unicode61 and PostgreSQL's
# parser both split at everything else).
WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class Hit:
    view: MessageView
    channel: VisibleChannel
    score: float
    before: list[MessageView] = field(default_factory=list)
    after: list[MessageView] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SearchResult:
    hits: list[Hit]
    total: int  # matching messages the caller may read, up to COUNT_CAP
    searched: int  # messages in the channels searched


def relevance(content: str, words: Sequence[str]) -> float:
    """BM25 without IDF, averaged over the query's words and brought to [0, 1) as
    r / (r + 1): more occurrences in a shorter message score higher. IDF is left out
    because every candidate holds every word: it would only scale all of them alike
    for one word, and knowing it costs a count of every message holding each word."""
    # A list and list.count for the query's few words: 250 of these run per search, and
    # building a Counter of every word cost 40% more (bench/search.py's texts).
    # Lowering the whole text first is the same for ASCII and cheaper; elsewhere lowering
    # can change where words split (a dotted capital I becomes i and a combining mark).
    if content.isascii():
        tokens = WORD.findall(content.lower())
    else:
        tokens = [w.lower() for w in WORD.findall(content)]
    length = len(tokens)
    if not length:
        return 0.0
    norm = K1 * (1 - B + B * length / AVERAGE_WORDS)
    raw = 0.0
    for word in words:
        tf = tokens.count(word)
        raw += tf * (K1 + 1) / (tf + norm)
    raw /= len(words)
    return raw / (raw + 1)


def words_of(query: str) -> list[str]:
    if len(query) > MAX_QUERY:
        raise ValidationFailed.field("query", f"must be at most {MAX_QUERY} characters")
    words = list(dict.fromkeys(w.lower() for w in WORD.findall(query)))
    if not words:
        raise ValidationFailed.field("query", "must contain at least one word")
    if len(words) > MAX_WORDS:
        raise ValidationFailed.field("query", f"must have at most {MAX_WORDS} words")
    return words


async def _scope(
    session: AsyncSession, actor: Actor, channel_id: int | None, server_id: int | None
) -> list[VisibleChannel]:
    """The channels to search: all of them readable by the actor, in one statement. A
    channel or server the actor cannot see is a 404, as everywhere in /api; a channel they
    see but may not read is a 403, as reading it would be."""
    if channel_id is not None:
        visible = await visible_channels(session, actor, channel_id=channel_id)
        if not visible:
            raise NotFound("Channel")
        found = visible[0].require(READ)
        if server_id is not None and found.server_id != server_id:
            raise NotFound("Channel")
        return [found]
    visible = await visible_channels(session, actor, server_id=server_id)
    return [c for c in visible if has(c.permissions, READ)]


async def search_messages(
    session: AsyncSession,
    actor: Actor,
    query: str,
    *,
    channel_id: int | None = None,
    server_id: int | None = None,
    user_id: int | None = None,
    limit: int = MAX_LIMIT,
    context: int = 0,
) -> SearchResult:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed.field("limit", f"must be 1-{MAX_LIMIT}")
    if not 0 <= context <= MAX_CONTEXT:
        raise ValidationFailed.field("contextSize", f"must be 0-{MAX_CONTEXT}")
    words = words_of(query)
    channels = {c.id: c for c in await _scope(session, actor, channel_id, server_id)}
    if not channels:
        return SearchResult([], 0, 0)
    scope = list(channels)
    # The triggers' counters, read with the channels: no count of the messages here.
    searched = sum(c.message_count for c in channels.values())
    await repository.plan_each_query(session)
    candidates, total = await repository.newest_and_total(
        session, words, scope, user_id, CANDIDATES, COUNT_CAP, searched
    )
    found = [(i, relevance(content, words)) for i, content in candidates]
    best = sorted(found, key=lambda hit: (-hit[1], -hit[0]))[:limit]
    if not best:
        return SearchResult([], total, searched)
    rows, users = await messages_repository.by_id_with_authors(session, [i for i, _ in best])
    ordered = [rows[i] for i, _ in best]
    around: dict[int, tuple[list[MessageView], list[MessageView]]] = {}
    if context:
        spans = []
        for message in ordered:
            older = await messages_repository.page(
                session, message.channel_id, limit=context, before=message.id
            )
            newer = await messages_repository.page(
                session, message.channel_id, limit=context, after=message.id
            )
            # Both pages come newest first; context reads in time order.
            spans.append((message.id, older[::-1], newer[::-1]))
        # One hydration (authors, reactions) for every hit's context, not one per hit.
        views = iter(await hydrate(session, actor.user_id, [m for _, o, n in spans for m in o + n]))
        for message_id, older, newer in spans:
            around[message_id] = (
                [next(views) for _ in older],
                [next(views) for _ in newer],
            )
    # Authors come with the hits; only users they mention are read apart (if any).
    views = await hydrate_with_authors(session, actor.user_id, ordered, users)
    hits = []
    for (message_id, score), view in zip(best, views, strict=True):
        before, after = around.get(message_id, ([], []))
        hits.append(
            Hit(
                view=view,
                channel=channels[view.message.channel_id],
                score=round(score, 6),
                before=before,
                after=after,
            )
        )
    return SearchResult(hits, total, searched)


def channel_brief(channel: VisibleChannel) -> dict[str, object]:
    return {"id": str(channel.id), "name": channel.name, "type": channel.type}


def hit_payload(hit: Hit) -> dict[str, object]:
    return {
        "message": hit.view.payload(),
        "channel": channel_brief(hit.channel),
        "score": hit.score,
        "context": {
            "before": [v.payload() for v in hit.before],
            "after": [v.payload() for v in hit.after],
        },
    }


def payload(result: SearchResult) -> dict[str, object]:
    return {
        "results": [hit_payload(h) for h in result.hits],
        "totalResults": result.total,
        "analytics": {"totalMessages": result.searched, "matchingMessages": result.total},
    }


__all__: Sequence[str] = ["SearchResult", "payload", "search_messages", "words_of"]
