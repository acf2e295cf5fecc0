"""Spec 002's welcome channel: a DM with a system user, opened for a user with no friends.

Spec 002 answers `channel_id=null` with "the default welcome channel", created for the
user, whose one message (ID "0") greets them. Here that channel is a real one-to-one DM
between the user and a system account, so its ID is stable and it lists like any other
DM; the greeting is not stored (no snowflake is "0"), it is shown at the start of the
channel's history.

The system account has the fixed ID 1 (no snowflake is that small, so it cannot clash),
is a bot without email or password (nobody can log in as it), and is created the first
time it is needed.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.auth.subject import Actor
from gossip.channels.service import ChannelView
from gossip.db.models import User
from gossip.dms import service as dms_service
from gossip.users import repository as users

WELCOME_USER_ID = 1
WELCOME_NAME = "Welcome"
# Used only if a person took "Welcome" before the system account first existed; "#" is
# refused in usernames, so nobody can hold this one.
FALLBACK_NAME = "Welcome#1"
WELCOME_MESSAGE_ID = "0"


def welcome_text(username: str) -> str:
    return (
        f"Hello! Welcome {username}!!! It appears that you currently have no friends, though "
        "you can add some to hang out with by clicking that plus button at the top and "
        "entering their id!"
    )


async def _create(session: AsyncSession, name: str) -> bool:
    user = User(
        id=WELCOME_USER_ID,
        username=name,
        email=None,
        password_hash=None,
        status="online",
        flags=0,
        bot=True,
        is_admin=False,
        disabled=False,
    )
    try:
        # A savepoint: losing a race to another process keeps our transaction usable.
        async with session.begin_nested():
            session.add(user)
            await session.flush()
    except IntegrityError:
        return False
    return True


async def welcome_user(session: AsyncSession) -> User:
    """The system account, created on first use."""
    found = await users.get(session, WELCOME_USER_ID)
    if found is not None:
        return found
    name = FALLBACK_NAME if await users.username_taken(session, WELCOME_NAME) else WELCOME_NAME
    if not await _create(session, name):
        # Either another process created it meanwhile, or the name was taken meanwhile.
        found = await users.get(session, WELCOME_USER_ID)
        if found is None:
            await _create(session, FALLBACK_NAME)
    found = await users.get(session, WELCOME_USER_ID)
    assert found is not None
    return found


async def do_open_welcome_dm(session: AsyncSession, actor: Actor) -> ChannelView:
    """The actor's DM with the system account: the existing one, or a new one."""
    system = await welcome_user(session)
    view, _ = await dms_service.do_open_dm(session, actor, [str(system.id)])
    return view


def is_welcome_dm(view: ChannelView) -> bool:
    return any(user.id == WELCOME_USER_ID for user in view.participants)
