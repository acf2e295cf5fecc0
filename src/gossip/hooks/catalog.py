"""Which events a webhook can ask for, and how namespaces work (spec 000).

Events Gossip itself produces live in the reserved namespace `gossip` and are written
without a prefix: spec 001's list, and the chat events, named after the gateway events
they mirror. Events a developer publishes through spec 000 live in their key's namespace
and are written `namespace:name`; "*" asks for everything the key may receive.
"""

from __future__ import annotations

import re

from gossip.kit.errors import Forbidden, ValidationFailed

RESERVED_NAMESPACE = "gossip"
WILDCARD = "*"

# Spec 001's event types. Gossip has no buzzes, sips or follows yet: those are accepted
# and will flow once those features exist; message.received flows now (a DM from someone
# else), otp.delivered once the OTP endpoint does.
SPEC_EVENTS = (
    "buzz.created",
    "buzz.reaction",
    "buzz.comment",
    "sip.created",
    "follow.created",
    "message.received",
    "otp.delivered",
)

# Gateway event -> webhook event. Typing, presence, voice state and the user's own
# settings are left out: they are ephemeral or private to a session.
CHAT_EVENTS: dict[str, str] = {
    "MESSAGE_CREATE": "message.created",
    "MESSAGE_UPDATE": "message.updated",
    "MESSAGE_DELETE": "message.deleted",
    "MESSAGE_DELETE_BULK": "message.deleted_bulk",
    "MESSAGE_REACTION_ADD": "reaction.added",
    "MESSAGE_REACTION_REMOVE": "reaction.removed",
    "CHANNEL_CREATE": "channel.created",
    "CHANNEL_UPDATE": "channel.updated",
    "CHANNEL_DELETE": "channel.deleted",
    "CHANNEL_PINS_UPDATE": "channel.pins_updated",
    "THREAD_CREATE": "thread.created",
    "THREAD_UPDATE": "thread.updated",
    "THREAD_DELETE": "thread.deleted",
    "SERVER_CREATE": "server.created",
    "SERVER_UPDATE": "server.updated",
    "SERVER_DELETE": "server.deleted",
    "MEMBER_ADD": "member.joined",
    "MEMBER_UPDATE": "member.updated",
    "MEMBER_REMOVE": "member.left",
    "ROLE_CREATE": "role.created",
    "ROLE_UPDATE": "role.updated",
    "ROLE_DELETE": "role.deleted",
    "BAN_ADD": "ban.added",
    "BAN_REMOVE": "ban.removed",
    "INVITE_CREATE": "invite.created",
    "INVITE_DELETE": "invite.deleted",
}

GOSSIP_EVENTS = frozenset((*SPEC_EVENTS, *CHAT_EVENTS.values()))

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")
_NAMESPACE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,31}$")


def namespace_of(username: str) -> str:
    """A key's namespace: its owner's username, lower-cased, reduced to the safe letters."""
    cleaned = re.sub(r"[^a-z0-9_\-]", "-", username.lower()).strip("-") or "user"
    return cleaned[:32]


def for_publishing(event_type: str, namespace: str) -> str:
    """The full name of an event a key publishes: always in its own namespace."""
    prefix, sep, name = event_type.lower().rpartition(":")
    if not _NAME.match(name):
        raise ValidationFailed.field(
            "event_type", "letters, digits, '.', '_' or '-', at most 64 characters"
        )
    if sep and prefix == RESERVED_NAMESPACE:
        raise Forbidden("The gossip namespace is reserved")
    if sep and prefix != namespace:
        raise Forbidden(f"This key publishes in its own namespace, {namespace!r}")
    return f"{namespace}:{name}"


def for_subscribing(event_type: str, namespace: str, *, bare_is_own: bool) -> str:
    """What a key may ask to receive: Gossip's events, or its own namespace's. A bare name
    that is not Gossip's is the key's own (spec 000's register) or a typo (`bare_is_own`
    false: spec 001's list is closed)."""
    raw = event_type.strip().lower()
    if raw == WILDCARD:
        return WILDCARD
    prefix, sep, name = raw.rpartition(":")
    if sep and prefix == RESERVED_NAMESPACE:
        raw, sep, prefix = name, "", ""
    if not sep:
        if raw in GOSSIP_EVENTS:
            return raw
        if not bare_is_own:
            raise ValidationFailed.field("events", f"unknown event type {event_type[:80]!r}")
        prefix = namespace
        name = raw
    if not _NAMESPACE.match(prefix) or not _NAME.match(name):
        raise ValidationFailed.field("events", f"unknown event type {event_type[:80]!r}")
    if prefix != namespace:
        raise Forbidden(f"This key receives only its own namespace, {namespace!r}")
    return f"{prefix}:{name}"
