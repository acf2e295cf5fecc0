"""`/api/search/messages`: full-text search over the messages the caller may read."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from gossip.kit.errors import ValidationFailed
from gossip.kit.ids import MAX_SNOWFLAKE
from gossip.search import service as search_service
from gossip.surfaces.chirp.deps import CurrentActor, Reader
from gossip.surfaces.chirp.envelope import JSON, Envelope, error_responses, ok
from gossip.surfaces.chirp.messages import MessageOut
from gossip.surfaces.chirp.rules import access
from gossip.surfaces.chirp.schemas import NO_NUL, Out

router = APIRouter(prefix="/search", tags=["search"])

IdParam = Annotated[str | None, Query(pattern=r"^[0-9]{1,19}$", description="An ID")]


def _id(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    number = int(value)
    if not 0 < number <= MAX_SNOWFLAKE:
        raise ValidationFailed.field(name, "is not an ID")
    return number


class SearchChannelOut(Out):
    id: str
    name: str | None
    type: int


class SearchContextOut(Out):
    before: list[MessageOut]
    after: list[MessageOut]


class SearchHitOut(Out):
    message: MessageOut
    channel: SearchChannelOut
    score: float
    context: SearchContextOut


class SearchAnalyticsOut(Out):
    totalMessages: int
    matchingMessages: int


class SearchOut(Out):
    results: list[SearchHitOut]
    totalResults: int
    analytics: SearchAnalyticsOut


@router.get(
    "/messages",
    openapi_extra=access("user"),
    response_model=Envelope[SearchOut],
    responses=error_responses(400, 401, 403, 404, 429),
)
async def search_messages(
    actor: CurrentActor,
    session: Reader,
    query: Annotated[
        str,
        Query(
            min_length=1,
            max_length=search_service.MAX_QUERY,
            pattern=NO_NUL,
            description="Words to find, all of them (case-insensitive, whole words)",
        ),
    ],
    channelId: IdParam = None,
    serverId: IdParam = None,
    userId: Annotated[
        str | None, Query(pattern=r"^[0-9]{1,19}$", description="Only messages by this user")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=search_service.MAX_LIMIT)] = search_service.MAX_LIMIT,
    contextSize: Annotated[int, Query(ge=0, le=search_service.MAX_CONTEXT)] = 0,
) -> JSON:
    """Messages holding every word of `query`, in the channels, threads and DMs the caller
    may read (VIEW_CHANNEL and READ_MESSAGE_HISTORY after overwrites), best first. A
    `channelId` or `serverId` the caller cannot see is a 404."""
    result = await search_service.search_messages(
        session,
        actor,
        query,
        channel_id=_id(channelId, "channelId"),
        server_id=_id(serverId, "serverId"),
        user_id=_id(userId, "userId"),
        limit=limit,
        context=contextSize,
    )
    data: dict[str, Any] = search_service.payload(result)
    return ok(data)
