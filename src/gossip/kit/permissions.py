"""Discord-compatible permission bits and the permission resolution algorithm.

Gossip speaks a Discord-shaped API, so bit values must match Discord's exactly:
clients compute the same bitfields locally. Resolution follows Discord's documented
"Permission Overwrites" and "Implicit Permissions" rules
(https://discord.com/developers/docs/topics/permissions).

Pure and synchronous: callers load roles/overwrites and pass ints in. Bitfields
come back as plain ``int`` (not ``Permission``) so they serialise predictably.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import reduce
from operator import or_


class Permission(enum.IntFlag):
    """Bitwise permission flags, named and numbered exactly as Discord documents them."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_AUDIT_LOG = 1 << 7
    PRIORITY_SPEAKER = 1 << 8
    STREAM = 1 << 9
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    SEND_TTS_MESSAGES = 1 << 12
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    VIEW_GUILD_INSIGHTS = 1 << 19
    CONNECT = 1 << 20
    SPEAK = 1 << 21
    MUTE_MEMBERS = 1 << 22
    DEAFEN_MEMBERS = 1 << 23
    MOVE_MEMBERS = 1 << 24
    USE_VAD = 1 << 25
    CHANGE_NICKNAME = 1 << 26
    MANAGE_NICKNAMES = 1 << 27
    MANAGE_ROLES = 1 << 28
    MANAGE_WEBHOOKS = 1 << 29
    MANAGE_GUILD_EXPRESSIONS = 1 << 30
    USE_APPLICATION_COMMANDS = 1 << 31
    REQUEST_TO_SPEAK = 1 << 32
    MANAGE_EVENTS = 1 << 33
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    USE_EXTERNAL_STICKERS = 1 << 37
    SEND_MESSAGES_IN_THREADS = 1 << 38
    USE_EMBEDDED_ACTIVITIES = 1 << 39
    MODERATE_MEMBERS = 1 << 40
    VIEW_CREATOR_MONETIZATION_ANALYTICS = 1 << 41
    USE_SOUNDBOARD = 1 << 42
    CREATE_GUILD_EXPRESSIONS = 1 << 43
    CREATE_EVENTS = 1 << 44
    USE_EXTERNAL_SOUNDS = 1 << 45
    SEND_VOICE_MESSAGES = 1 << 46
    # Bits 47 and 48 are not publicly documented by Discord; leaving them out
    # makes parse_permissions reject them instead of silently storing them.
    SEND_POLLS = 1 << 49
    USE_EXTERNAL_APPS = 1 << 50


# The Chirp spec still uses Discord's pre-rename names. They are plain aliases
# rather than enum members so iterating Permission never yields duplicates.
READ_MESSAGES = Permission.VIEW_CHANNEL
MANAGE_SERVER = Permission.MANAGE_GUILD

ALL_PERMISSIONS: int = reduce(or_, (int(p) for p in Permission), 0)

# Discord's historic @everyone default, as shown in the Chirp spec: invites,
# reactions, stream, view/send/TTS/embed/attach/history/mention-everyone,
# external emojis, connect/speak/VAD and change-nickname.
DEFAULT_EVERYONE_PERMISSIONS: int = 104324673

# Overwrite.type values, as on the wire.
OVERWRITE_ROLE = 0
OVERWRITE_MEMBER = 1

# ASCII-only: str.isdigit() would also accept e.g. "²" or Arabic-Indic digits.
_DECIMAL = re.compile(r"[0-9]+")
# 2**64 - 1 has 20 digits; longer input is garbage or an int() DoS attempt.
_MAX_WIRE_LEN = 20

# Discord's implicit rule: without SEND_MESSAGES these are meaningless.
# Plain ints for the bit tests below: `int & IntFlag` builds an enum member each time,
# which was a third of a permission decision's cost (the message send decides one per send).
_ADMINISTRATOR = int(Permission.ADMINISTRATOR)
_VIEW_CHANNEL = int(Permission.VIEW_CHANNEL)
_SEND_MESSAGES = int(Permission.SEND_MESSAGES)

_SEND_DEPENDENT = int(
    Permission.SEND_TTS_MESSAGES
    | Permission.MENTION_EVERYONE
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
)


def parse_permissions(value: object) -> int:
    """Validate a permission bitfield from a request (decimal string or int)."""
    # bool is an int subclass; True silently meaning CREATE_INSTANT_INVITE
    # would be a nasty surprise, so refuse it explicitly.
    if isinstance(value, bool):
        raise ValueError("permissions must be a decimal string or integer, not a boolean")
    if isinstance(value, int):
        result = int(value)
        if result < 0:
            raise ValueError("permissions must not be negative")
    elif isinstance(value, str):
        if len(value) > _MAX_WIRE_LEN:
            raise ValueError(f"permissions string must be at most {_MAX_WIRE_LEN} characters")
        if not _DECIMAL.fullmatch(value):
            raise ValueError("permissions string must contain only decimal digits")
        result = int(value)
    else:
        raise ValueError("permissions must be a decimal string or integer")
    unknown = result & ~ALL_PERMISSIONS
    if unknown:
        raise ValueError(f"permissions contain unknown bits: {unknown}")
    return result


def base_permissions(*, is_owner: bool, everyone: int, role_permissions: Iterable[int]) -> int:
    """Guild-level permissions of a member (Discord's compute_base_permissions)."""
    if is_owner:
        return ALL_PERMISSIONS
    perms = reduce(or_, (int(r) for r in role_permissions), int(everyone))
    if perms & _ADMINISTRATOR:
        return ALL_PERMISSIONS
    return perms


@dataclass(frozen=True, slots=True)
class Overwrite:
    """A channel permission overwrite for one role or one member."""

    target_id: int
    type: int  # OVERWRITE_ROLE (0) or OVERWRITE_MEMBER (1)
    allow: int
    deny: int


def channel_permissions(
    base: int,
    *,
    everyone_id: int,
    member_id: int,
    member_role_ids: Collection[int],
    overwrites: Iterable[Overwrite],
) -> int:
    """Apply a channel's overwrites to ``base`` in Discord's documented order."""
    base = int(base)
    # Administrators bypass overwrites entirely, including the implicit rules.
    if base & _ADMINISTRATOR:
        return ALL_PERMISSIONS

    everyone_ow: Overwrite | None = None
    member_ow: Overwrite | None = None
    role_allow = 0
    role_deny = 0
    for ow in overwrites:
        if ow.type == OVERWRITE_ROLE:
            if ow.target_id == everyone_id:
                everyone_ow = ow
            # everyone_id is skipped even if the caller lists it as a member
            # role: folding it into the role stage would let its allow beat
            # another role's deny, which Discord never does.
            elif ow.target_id in member_role_ids:
                role_allow |= int(ow.allow)
                role_deny |= int(ow.deny)
        elif ow.type == OVERWRITE_MEMBER and ow.target_id == member_id:
            member_ow = ow

    perms = base
    # Within each stage deny goes first, so an allow at the same level wins.
    if everyone_ow is not None:
        perms = (perms & ~int(everyone_ow.deny)) | int(everyone_ow.allow)
    # All of the member's roles are combined before applying, so role
    # position doesn't matter: any role allowing a bit beats any role denying it.
    perms = (perms & ~role_deny) | role_allow
    if member_ow is not None:
        perms = (perms & ~int(member_ow.deny)) | int(member_ow.allow)

    # Discord's documented implicit permissions: a member who cannot see a
    # channel can do nothing in it, and one who cannot send messages cannot
    # use the sub-features of sending (TTS, @everyone, embeds, attachments),
    # even if those bits are explicitly allowed.
    if not perms & _VIEW_CHANNEL:
        return 0
    if not perms & _SEND_MESSAGES:
        perms &= ~_SEND_DEPENDENT
    return perms


def has(perms: int, needed: int) -> bool:
    """True if every bit of ``needed`` is set in ``perms`` (vacuously true for 0)."""
    needed = int(needed)
    return int(perms) & needed == needed


def to_wire(perms: int) -> str:
    """Serialise a bitfield as the decimal string the API uses (API v8+)."""
    # int() first: str() of an IntFlag member is not guaranteed to be numeric
    # across Python versions.
    return str(int(perms))
