"""Rules for direct messages: one-to-one DMs (type 1) and group DMs (type 3).

A one-to-one DM between two users exists at most once (`Channel.dm_key` is unique), so
opening it again returns the same channel. A group DM is new every time, like Discord's.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from gossip.auth.subject import Actor
from gossip.channels.service import DM, GROUP_DM, ChannelView, check_name
from gossip.db.models import Channel, User
from gossip.dms import repository
from gossip.events import Audience, emit
from gossip.kit import ids
from gossip.kit.errors import ValidationFailed
from gossip.users import repository as users

MAX_GROUP_RECIPIENTS = 9  # ten people with the owner, as in Discord


def dm_key(a: int, b: int) -> str:
    return f"{min(a, b)}:{max(a, b)}"


def check_recipients(actor: Actor, raw: Sequence[str]) -> list[int]:
    """Recipient IDs, in order, without duplicates. Each problem names its list index."""
    found: list[int] = []
    for index, value in enumerate(raw):
        user_id = ids.parse_id(value)
        if user_id is None:
            raise ValidationFailed.field(f"recipients.{index}", "is not a user ID")
        if user_id == actor.user_id:
            raise ValidationFailed.field(f"recipients.{index}", "cannot be yourself")
        if user_id not in found:
            found.append(user_id)
    if not 1 <= len(found) <= MAX_GROUP_RECIPIENTS:
        raise ValidationFailed.field(
            "recipients", f"must name 1-{MAX_GROUP_RECIPIENTS} other users"
        )
    return found


async def list_dms(session: AsyncSession, actor: Actor) -> list[ChannelView]:
    """The actor's DMs, most recently active first: two queries."""
    channels = await repository.channels_of(session, actor.user_id)
    people = await repository.participants(session, [c.id for c in channels])
    return [ChannelView(c, participants=people.get(c.id, [])) for c in channels]


async def do_open_dm(
    session: AsyncSession, actor: Actor, recipients: Sequence[str], name: str | None = None
) -> tuple[ChannelView, bool]:
    """The DM with one recipient (the existing one if any), or a new group DM owned by the
    actor with 2-9. Unknown recipients are a 400 naming `recipients.<index>`, like any other
    bad element of the list. Returns the channel and whether it was created; a created DM
    emits CHANNEL_CREATE to each participant, with the recipients as they see them."""
    wanted = check_recipients(actor, recipients)
    group_name = check_name(name) if name is not None and len(wanted) > 1 else None
    known = {u.id: u for u in await users.get_many(session, [actor.user_id, *wanted])}
    for index, value in enumerate(recipients):
        user_id = ids.parse_id(value)
        if user_id not in known:
            raise ValidationFailed.field(f"recipients.{index}", "is not a known user")
    people = [known[actor.user_id], *(known[u] for u in wanted)]

    if len(wanted) == 1:
        key = dm_key(actor.user_id, wanted[0])
        existing = await repository.by_key(session, key)
        if existing is None:
            channel = Channel(id=ids.new_id(), server_id=None, type=DM, dm_key=key)
            if await repository.add(session, channel, [p.id for p in people]):
                return _created(session, actor, channel, people), True
            existing = await repository.by_key(session, key)
            assert existing is not None  # the unique key that stopped us names it
        return ChannelView(existing, participants=people), False

    channel = Channel(
        id=ids.new_id(), server_id=None, type=GROUP_DM, name=group_name, owner_id=actor.user_id
    )
    await repository.add(session, channel, [p.id for p in people])
    return _created(session, actor, channel, people), True


def _created(
    session: AsyncSession, actor: Actor, channel: Channel, people: Sequence[User]
) -> ChannelView:
    view = ChannelView(channel, participants=people)
    for person in people:
        emit(
            session,
            "CHANNEL_CREATE",
            view.payload(person.id),
            Audience(channel_id=channel.id, user_ids=(person.id,)),
            actor_id=actor.user_id,
        )
    return view
