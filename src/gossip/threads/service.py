"""Rules for threads: spec 004's Threads section, as Discord does them.

A thread is a `channels` row of type 11 inside a text channel (its parent), started from
one of the parent's messages, with its metadata in `threads`. It has no permission
overwrites of its own: who sees it and what they may do in it are decided by the parent
(the access layer computes a thread's permissions from the parent's overwrites), except
that posting takes SEND_MESSAGES_IN_THREADS instead of SEND_MESSAGES. Messages in a thread
go through the ordinary message routes; the messages service calls `do_before_post`.

Archiving after inactivity is lazy, so it needs no background job and is the same in every
process: each thread stores its archive deadline (last activity + autoArchiveDuration),
and from that instant the thread *is* archived to every reader (the listings test the
deadline in SQL). The first write that touches such a thread records the archival
(`_settle`). No THREAD_UPDATE is sent at the moment a thread archives by inactivity.

The clock is this module's `utcnow`, which tests move forward.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gossip.access.service import ChannelAccess, access_channel
from gossip.auth.subject import Actor
from gossip.channels.service import TEXT, check_name
from gossip.db.models import Channel, Thread, ThreadMember
from gossip.events import Audience, emit
from gossip.kit import ids
from gossip.kit.errors import AlreadyExists, Forbidden, NotFound, ValidationFailed
from gossip.kit.permissions import Permission, has
from gossip.kit.timefmt import utcnow
from gossip.messages import repository as messages_repository
from gossip.threads import PUBLIC_THREAD, is_thread, payloads, repository

AUTO_ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)  # minutes: an hour, a day, 3 days, a week
DEFAULT_AUTO_ARCHIVE = 1440
MAX_PAGE = 100


# --- archiving -------------------------------------------------------------------------


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def archived_now(row: Thread, now: datetime) -> bool:
    return row.archived or _aware(row.archive_deadline) <= now


def archived_at(row: Thread, now: datetime) -> datetime:
    """Discord's archive_timestamp: when `archived` last changed, which for a thread that
    archived by inactivity is its deadline."""
    if not row.archived and _aware(row.archive_deadline) <= now:
        return _aware(row.archive_deadline)
    return _aware(row.archive_timestamp)


def _settle(row: Thread, now: datetime) -> None:
    """Records an archival by inactivity, so a change applies to what readers already see
    (a longer autoArchiveDuration must not silently reopen an archived thread)."""
    if not row.archived and _aware(row.archive_deadline) <= now:
        row.archived = True
        row.archive_timestamp = _aware(row.archive_deadline)


def _minutes(value: int) -> timedelta:
    return timedelta(minutes=value)


def _now() -> datetime:
    """The clock, to the millisecond: archive times are shown and paged by (`before`) in
    milliseconds, so stored ones must not hide finer digits that a cursor cannot name."""
    moment = utcnow()
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


# --- views -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThreadView:
    channel: Channel
    thread: Thread
    now: datetime
    message_count: int = 0
    member_count: int = 0

    def payload(self, viewer_id: int | None = None) -> dict[str, Any]:
        return payloads.thread(
            self.channel,
            self.thread,
            archived=archived_now(self.thread, self.now),
            archive_timestamp=archived_at(self.thread, self.now),
            message_count=self.message_count,
            member_count=self.member_count,
        )


@dataclass(frozen=True, slots=True)
class ThreadListing:
    threads: Sequence[ThreadView]
    # The caller's own memberships among `threads` (Discord's `members`).
    members: Sequence[ThreadMember]
    has_more: bool

    def payload(self) -> dict[str, Any]:
        return {
            "threads": [v.payload() for v in self.threads],
            "members": [payloads.own_member(m) for m in self.members],
            "hasMore": self.has_more,
        }


async def _views(
    session: AsyncSession, rows: Sequence[tuple[Channel, Thread]], now: datetime
) -> list[ThreadView]:
    """Views with their counts: two grouped queries whatever the number of threads."""
    if not rows:
        return []
    thread_ids = [channel.id for channel, _ in rows]
    server_id = rows[0][0].server_id
    assert server_id is not None  # threads live in servers
    messages = await repository.message_counts(session, thread_ids)
    members = await repository.member_counts(session, server_id, thread_ids)
    return [
        ThreadView(channel, row, now, messages.get(channel.id, 0), members.get(channel.id, 0))
        for channel, row in rows
    ]


async def _view(session: AsyncSession, channel: Channel, row: Thread, now: datetime) -> ThreadView:
    return (await _views(session, [(channel, row)], now))[0]


async def view_of(session: AsyncSession, channel: Channel) -> ThreadView:
    """The thread behind a channel row the caller was already allowed to see."""
    row = await repository.get(session, channel.id)
    if row is None:
        raise NotFound("Thread")
    return await _view(session, channel, row, _now())


# --- input -----------------------------------------------------------------------------


def check_duration(value: int, field: str = "autoArchiveDuration") -> int:
    if value not in AUTO_ARCHIVE_DURATIONS:
        raise ValidationFailed.field(field, "must be 60, 1440, 4320 or 10080 (minutes)")
    return value


def check_limit(value: int) -> int:
    if not 1 <= value <= MAX_PAGE:
        raise ValidationFailed.field("limit", f"must be 1-{MAX_PAGE}")
    return value


# --- access ----------------------------------------------------------------------------


async def is_thread_id(session: AsyncSession, channel_id: int) -> bool:
    """Whether the ID names a thread, for routes shared with channels to pick a service.
    Says nothing to the caller: the service picked still answers 404 for what they cannot
    see, in the same words."""
    return await repository.is_thread(session, channel_id)


async def access_thread(
    session: AsyncSession,
    actor: Actor,
    thread_id: int,
    *,
    for_update: bool = False,
    what: str = "Thread",
) -> tuple[ChannelAccess, Thread]:
    """The thread if the actor can see its parent channel; anything else is a 404 naming
    `what` (the channel routes say "Channel" for a thread as for anything else).
    `for_update` locks the metadata row first: every write to a thread takes that lock
    before touching its channel row, so two writers never wait on each other in a circle."""
    try:
        found = await access_channel(session, actor, thread_id)
    except NotFound:
        raise NotFound(what) from None
    row = await repository.get(session, thread_id, for_update=for_update)
    if not is_thread(found.channel) or row is None:
        raise NotFound(what)
    return found, row


def _audience(channel: Channel) -> Audience:
    """Thread events reach those who can see the parent channel, as the thread itself."""
    return Audience(server_id=channel.server_id, channel_id=channel.parent_id)


async def _emit_members(
    session: AsyncSession,
    channel: Channel,
    *,
    added: Sequence[ThreadMember] = (),
    removed: Sequence[int] = (),
) -> None:
    assert channel.server_id is not None
    counts = await repository.member_counts(session, channel.server_id, [channel.id])
    data = {
        "id": str(channel.id),
        "serverId": str(channel.server_id),
        "memberCount": counts.get(channel.id, 0),
        "addedMembers": [payloads.own_member(m) for m in added],
        "removedMemberIds": [str(u) for u in removed],
    }
    emit(session, "THREAD_MEMBERS_UPDATE", data, _audience(channel))


# --- reading ---------------------------------------------------------------------------


async def list_active(
    session: AsyncSession, actor: Actor, channel_id: int, *, before: int | None, limit: int
) -> ThreadListing:
    """The channel's unarchived threads, newest first. Seeing the channel is enough."""
    limit = check_limit(limit)
    found = await access_channel(session, actor, channel_id)
    now = _now()
    rows = await repository.active_in(
        session, found.channel.id, now, before=before, limit=limit + 1
    )
    return await _listing(session, actor, rows, now, limit)


async def list_archived(
    session: AsyncSession,
    actor: Actor,
    channel_id: int,
    *,
    before: datetime | None,
    limit: int,
) -> ThreadListing:
    """The channel's archived threads, most recently archived first; `before` is an
    archive time (Discord's cursor). Needs READ_MESSAGE_HISTORY, as in Discord."""
    limit = check_limit(limit)
    found = (await access_channel(session, actor, channel_id)).require(
        Permission.READ_MESSAGE_HISTORY
    )
    now = _now()
    rows = await repository.archived_in(
        session, found.channel.id, now, before=before, limit=limit + 1
    )
    return await _listing(session, actor, rows, now, limit)


async def _listing(
    session: AsyncSession,
    actor: Actor,
    rows: Sequence[tuple[Channel, Thread]],
    now: datetime,
    limit: int,
) -> ThreadListing:
    page = rows[:limit]
    views = await _views(session, page, now)
    mine = await repository.memberships(session, actor.user_id, [c.id for c, _ in page])
    return ThreadListing(views, mine, has_more=len(rows) > limit)


async def list_members(
    session: AsyncSession, actor: Actor, thread_id: int, *, after: int | None, limit: int
) -> list[ThreadMember]:
    """Members still in the server, by user ID; `after` a user ID."""
    limit = check_limit(limit)
    found, _ = await access_thread(session, actor, thread_id)
    assert found.channel.server_id is not None
    return await repository.members(
        session, found.channel.server_id, found.channel.id, after=after, limit=limit
    )


# --- changing --------------------------------------------------------------------------


async def do_create_thread(
    session: AsyncSession,
    actor: Actor,
    channel_id: int,
    message_id: int,
    *,
    name: str,
    auto_archive_duration: int = DEFAULT_AUTO_ARCHIVE,
) -> ThreadView:
    """Starts a public thread from a message of a text channel. Needs CREATE_PUBLIC_THREADS
    there; one thread per message (409). The creator is its first member. Emits
    THREAD_CREATE and THREAD_MEMBERS_UPDATE."""
    found = await access_channel(session, actor, channel_id)
    parent = found.channel
    if parent.server_id is None or parent.type != TEXT:
        raise ValidationFailed("Threads can only be started from messages in text channels")
    found.require(Permission.CREATE_PUBLIC_THREADS)
    name = check_name(name)
    duration = check_duration(auto_archive_duration)
    message = await messages_repository.in_channel(session, parent.id, message_id)
    if message is None:
        raise NotFound("Message")
    if await repository.by_start_message(session, message.id) is not None:
        # A race past this check loses on the unique index: 409 all the same.
        raise AlreadyExists("A thread has already been started from this message")
    now = _now()
    channel = Channel(
        id=ids.new_id(),
        server_id=parent.server_id,
        type=PUBLIC_THREAD,
        name=name,
        parent_id=parent.id,
        owner_id=actor.user_id,
        position=0,
        nsfw=parent.nsfw,
    )
    row = Thread(
        channel_id=channel.id,
        start_message_id=message.id,
        auto_archive_duration=duration,
        archived=False,
        locked=False,
        archive_timestamp=now,
        archive_deadline=now + _minutes(duration),
    )
    await repository.add(session, channel, row)
    creator = await repository.add_member(session, channel.id, actor.user_id, now)
    view = ThreadView(channel, row, now, message_count=0, member_count=1)
    emit(session, "THREAD_CREATE", view.payload(), _audience(channel))
    await _emit_members(session, channel, added=[creator] if creator else [])
    return view


async def do_before_post(session: AsyncSession, actor: Actor, found: ChannelAccess) -> None:
    """Called by the messages service before it stores a message in a thread (the poster
    holds SEND_MESSAGES_IN_THREADS by then). A locked thread takes messages only from
    MANAGE_THREADS; an archived one reopens (THREAD_UPDATE, before the message's
    MESSAGE_CREATE); the poster becomes a member; the inactivity clock restarts."""
    row = await repository.get(session, found.channel.id, for_update=True)
    if row is None:
        raise NotFound("Thread")
    if row.locked and not has(found.permissions, Permission.MANAGE_THREADS):
        raise Forbidden("This thread is locked")
    now = _now()
    reopened = archived_now(row, now)
    if reopened:
        row.archived = False
        row.archive_timestamp = now
    row.archive_deadline = now + _minutes(row.auto_archive_duration)
    await session.flush()
    if reopened:
        view = await _view(session, found.channel, row, now)
        emit(session, "THREAD_UPDATE", view.payload(), _audience(found.channel))
    joined = await repository.add_member(session, found.channel.id, actor.user_id, now)
    if joined is not None:
        await _emit_members(session, found.channel, added=[joined])


@dataclass(frozen=True, slots=True)
class ThreadChanges:
    """`PATCH /api/channels/{threadId}`: None leaves a field as it is."""

    name: str | None = None
    archived: bool | None = None
    locked: bool | None = None
    auto_archive_duration: int | None = None


async def do_update_thread(
    session: AsyncSession, actor: Actor, thread_id: int, changes: ThreadChanges
) -> ThreadView:
    """Discord's rules: `locked` needs MANAGE_THREADS; reopening (`archived: false`) needs
    SEND_MESSAGES_IN_THREADS, or MANAGE_THREADS if the thread stays locked; archiving,
    renaming and autoArchiveDuration need MANAGE_THREADS or being the thread's creator. An
    archived thread changes nothing but `archived` and `locked` until it is reopened (400).
    Emits THREAD_UPDATE."""
    found, row = await access_thread(session, actor, thread_id, for_update=True, what="Channel")
    channel = found.channel
    now = _now()
    _settle(row, now)
    name = None if changes.name is None else check_name(changes.name)
    wanted = changes.auto_archive_duration
    duration = None if wanted is None else check_duration(wanted)
    moderator = has(found.permissions, Permission.MANAGE_THREADS)
    locked = row.locked if changes.locked is None else changes.locked
    reopening = changes.archived is False and row.archived
    archiving = changes.archived is True and not row.archived
    if changes.locked is not None and not moderator:
        raise Forbidden("Locking and unlocking a thread needs MANAGE_THREADS")
    if changes.archived is False:
        if locked and not moderator:
            raise Forbidden("This thread is locked: only MANAGE_THREADS can reopen it")
        found.require(Permission.SEND_MESSAGES_IN_THREADS)
    creator = channel.owner_id == actor.user_id
    if (archiving or name is not None or duration is not None) and not (moderator or creator):
        raise Forbidden("Only the thread's creator or MANAGE_THREADS can change this")
    if changes == ThreadChanges() and not (moderator or creator):
        raise Forbidden("Only the thread's creator or MANAGE_THREADS can change this")
    if row.archived and not reopening and (name is not None or duration is not None):
        raise ValidationFailed("The thread is archived: reopen it (archived: false) to change it")

    if name is not None:
        channel.name = name
    old, new = row.auto_archive_duration, duration or row.auto_archive_duration
    if reopening:
        row.archived = False
        row.archive_timestamp = now
        row.archive_deadline = now + _minutes(new)
    elif not row.archived and new != old:
        # The last activity stays; only the wait after it changes.
        row.archive_deadline = _aware(row.archive_deadline) - _minutes(old) + _minutes(new)
    row.auto_archive_duration = new
    if archiving:
        row.archived = True
        row.archive_timestamp = now
    row.locked = locked
    await session.flush()
    view = await _view(session, channel, row, now)
    emit(session, "THREAD_UPDATE", view.payload(), _audience(channel))
    return view


async def do_delete_thread(session: AsyncSession, actor: Actor, thread_id: int) -> None:
    """Needs MANAGE_THREADS. Its messages and members go with it. Emits THREAD_DELETE."""
    found, _ = await access_thread(session, actor, thread_id, for_update=True, what="Channel")
    found.require(Permission.MANAGE_THREADS)
    channel = found.channel
    data = {
        "id": str(channel.id),
        "serverId": str(channel.server_id),
        "parentId": str(channel.parent_id),
        "type": channel.type,
    }
    await repository.remove(session, channel.id)
    emit(session, "THREAD_DELETE", data, _audience(channel))


async def do_join(session: AsyncSession, actor: Actor, thread_id: int) -> None:
    """Seeing the thread is enough; an archived thread cannot be joined (400, Discord).
    Idempotent. Emits THREAD_MEMBERS_UPDATE when it adds the member."""
    found, row = await access_thread(session, actor, thread_id)
    now = _now()
    if archived_now(row, now):
        raise ValidationFailed("The thread is archived")
    joined = await repository.add_member(session, found.channel.id, actor.user_id, now)
    if joined is not None:
        await _emit_members(session, found.channel, added=[joined])


async def do_leave(session: AsyncSession, actor: Actor, thread_id: int) -> None:
    """Idempotent; an archived thread cannot be left (400, Discord). Emits
    THREAD_MEMBERS_UPDATE when it removes the member."""
    found, row = await access_thread(session, actor, thread_id)
    if archived_now(row, _now()):
        raise ValidationFailed("The thread is archived")
    if await repository.remove_member(session, found.channel.id, actor.user_id):
        await _emit_members(session, found.channel, removed=[actor.user_id])
