"""`/api` routes for threads: starting one from a message, its members, and listing a
channel's active and archived threads.

Messages in a thread use the message routes with the thread's ID; `GET`, `PATCH` and
`DELETE /api/channels/{threadId}` are answered by the channel routes, which hand threads
to the threads service.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from gossip.kit.errors import ValidationFailed
from gossip.kit.ids import MAX_SNOWFLAKE
from gossip.kit.permissions import Permission
from gossip.surfaces.chirp.deps import CurrentActor, Reader, Writer, path_id
from gossip.surfaces.chirp.envelope import JSON, Envelope, error_responses, ok
from gossip.surfaces.chirp.rules import access
from gossip.surfaces.chirp.schemas import NO_NUL, Body, Out
from gossip.threads import payloads
from gossip.threads import service as threads_service

router = APIRouter(prefix="/channels/{channel_id}", tags=["threads"])

Duration = Literal[60, 1440, 4320, 10080]
IdCursor = Annotated[str | None, Query(pattern=r"^[0-9]{1,19}$", description="An ID")]
TimeCursor = Annotated[
    str | None,
    Query(max_length=40, pattern=NO_NUL, description="An ISO 8601 archive time"),
]
Limit = Annotated[int, Query(ge=1, le=threads_service.MAX_PAGE)]


def _id_cursor(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    number = int(value)
    if number > MAX_SNOWFLAKE:
        raise ValidationFailed.field(name, "is not an ID")
    return number


def _time_cursor(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        # Stored times are UTC (naive on SQLite): compare in UTC.
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise ValidationFailed.field("before", "must be an ISO 8601 time") from None


class ThreadCreateIn(Body):
    name: str = Field(min_length=1, max_length=100)
    autoArchiveDuration: Duration = threads_service.DEFAULT_AUTO_ARCHIVE


class ThreadMetadataOut(Out):
    archived: bool
    autoArchiveDuration: int
    archiveTimestamp: str
    locked: bool
    createTimestamp: str


class ThreadOut(Out):
    id: str
    type: int
    name: str
    serverId: str
    parentId: str
    ownerId: str
    lastMessageId: str | None
    messageCount: int
    memberCount: int
    startMessageId: str | None
    createdAt: str
    threadMetadata: ThreadMetadataOut


class ThreadMemberOut(Out):
    userId: str
    joinTimestamp: str
    flags: int


class OwnThreadMemberOut(ThreadMemberOut):
    id: str


class ThreadListOut(Out):
    threads: list[ThreadOut]
    members: list[OwnThreadMemberOut]
    hasMore: bool


@router.post(
    "/messages/{message_id}/threads",
    openapi_extra=access("channel", Permission.CREATE_PUBLIC_THREADS),
    status_code=201,
    response_model=Envelope[ThreadOut],
    responses=error_responses(400, 401, 403, 404, 409, 413, 429),
)
async def create_thread(
    channel_id: str, message_id: str, body: ThreadCreateIn, actor: CurrentActor, session: Writer
) -> JSON:
    """Starts a public thread (type 11) from a message of a text channel; one per message
    (409). The creator is its first member."""
    view = await threads_service.do_create_thread(
        session,
        actor,
        path_id(channel_id, "Channel"),
        path_id(message_id, "Message"),
        name=body.name,
        auto_archive_duration=body.autoArchiveDuration,
    )
    return ok(view.payload(), status=201, message="Thread created")


@router.get(
    "/threads/active",
    openapi_extra=access("channel"),
    response_model=Envelope[ThreadListOut],
    responses=error_responses(400, 401, 403, 404, 429),
)
async def list_active_threads(
    channel_id: str,
    actor: CurrentActor,
    session: Reader,
    before: IdCursor = None,
    limit: Limit = threads_service.MAX_PAGE,
) -> JSON:
    """The channel's unarchived threads, newest first; `before` a thread ID. `members`
    holds the caller's own membership of each listed thread they joined."""
    listing = await threads_service.list_active(
        session,
        actor,
        path_id(channel_id, "Channel"),
        before=_id_cursor(before, "before"),
        limit=limit,
    )
    return ok(listing.payload())


@router.get(
    "/threads/archived",
    openapi_extra=access("channel", Permission.READ_MESSAGE_HISTORY),
    response_model=Envelope[ThreadListOut],
    responses=error_responses(400, 401, 403, 404, 429),
)
async def list_archived_threads(
    channel_id: str,
    actor: CurrentActor,
    session: Reader,
    before: TimeCursor = None,
    limit: Limit = 50,
) -> JSON:
    """The channel's archived threads, most recently archived first; `before` an archive
    time (ISO 8601), as Discord pages them."""
    listing = await threads_service.list_archived(
        session,
        actor,
        path_id(channel_id, "Channel"),
        before=_time_cursor(before),
        limit=limit,
    )
    return ok(listing.payload())


@router.get(
    "/thread-members",
    openapi_extra=access("channel"),
    response_model=Envelope[list[ThreadMemberOut]],
    responses=error_responses(400, 401, 403, 404, 429),
)
async def list_thread_members(
    channel_id: str,
    actor: CurrentActor,
    session: Reader,
    after: IdCursor = None,
    limit: Limit = threads_service.MAX_PAGE,
) -> JSON:
    """Members of the thread (the path names the thread) who are still in the server,
    by user ID; `after` a user ID."""
    members = await threads_service.list_members(
        session,
        actor,
        path_id(channel_id, "Thread"),
        after=_id_cursor(after, "after"),
        limit=limit,
    )
    return ok([payloads.member(m) for m in members])


@router.put(
    "/thread-members/@me",
    openapi_extra=access("channel"),
    response_model=Envelope[None],
    responses=error_responses(400, 401, 403, 404, 429),
)
async def join_thread(channel_id: str, actor: CurrentActor, session: Writer) -> JSON:
    """Idempotent; an archived thread cannot be joined (400)."""
    await threads_service.do_join(session, actor, path_id(channel_id, "Thread"))
    return ok(None, message="Joined the thread")


@router.delete(
    "/thread-members/@me",
    openapi_extra=access("channel"),
    response_model=Envelope[None],
    responses=error_responses(400, 401, 403, 404, 429),
)
async def leave_thread(channel_id: str, actor: CurrentActor, session: Writer) -> JSON:
    """Idempotent; an archived thread cannot be left (400)."""
    await threads_service.do_leave(session, actor, path_id(channel_id, "Thread"))
    return ok(None, message="Left the thread")
