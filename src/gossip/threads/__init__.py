"""Threads: channels started from a message, which live inside a text channel.

This module holds only what other domains need to tell a thread apart (the access layer,
messages, the gateway), so importing it pulls in nothing else.
"""

from __future__ import annotations

from typing import Protocol

from gossip.kit.permissions import Permission

# Discord's announcement, public and private thread types. Gossip creates public ones (11);
# the others are recognised so that a thread is never mistaken for a channel.
ANNOUNCEMENT_THREAD, PUBLIC_THREAD, PRIVATE_THREAD = 10, 11, 12
THREAD_TYPES = (ANNOUNCEMENT_THREAD, PUBLIC_THREAD, PRIVATE_THREAD)


class _Typed(Protocol):
    """A channel row or `access.service.ChannelGrant`: anything that knows its type."""

    @property
    def type(self) -> int: ...


def is_thread(channel: _Typed) -> bool:
    return channel.type in THREAD_TYPES


def send_permission(channel: _Typed) -> Permission:
    """What posting in the channel takes: in a thread SEND_MESSAGES_IN_THREADS, not
    SEND_MESSAGES (Discord), so a channel can be read-only while its threads are open."""
    return Permission.SEND_MESSAGES_IN_THREADS if is_thread(channel) else Permission.SEND_MESSAGES
