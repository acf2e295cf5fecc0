"""The wire shape of threads and thread members: what `/api` returns and THREAD_* carry.

Discord's thread channel object in the Chirp spelling (camelCase, IDs as strings, times
as ISO 8601), plus `startMessageId`, the message the thread was started from.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gossip.db.models import Channel, Thread, ThreadMember
from gossip.kit.ids import snowflake_time
from gossip.kit.timefmt import iso


def _id(value: int | None) -> str | None:
    return None if value is None else str(value)


def thread(
    channel: Channel,
    row: Thread,
    *,
    archived: bool,
    archive_timestamp: datetime,
    message_count: int,
    member_count: int,
) -> dict[str, Any]:
    created = iso(snowflake_time(channel.id))
    return {
        "id": str(channel.id),
        "type": channel.type,
        "name": channel.name,
        "serverId": _id(channel.server_id),
        "parentId": _id(channel.parent_id),
        "ownerId": _id(channel.owner_id),
        "lastMessageId": _id(channel.last_message_id),
        "messageCount": message_count,
        "memberCount": member_count,
        "startMessageId": _id(row.start_message_id),
        "createdAt": created,
        "threadMetadata": {
            "archived": archived,
            "autoArchiveDuration": row.auto_archive_duration,
            "archiveTimestamp": iso(archive_timestamp),
            "locked": row.locked,
            "createTimestamp": created,
        },
    }


def member(row: ThreadMember) -> dict[str, Any]:
    """Spec 004's thread member."""
    return {"userId": str(row.user_id), "joinTimestamp": iso(row.joined_at), "flags": row.flags}


def own_member(row: ThreadMember) -> dict[str, Any]:
    """A thread member among many threads' (listings, events): which thread it is of, too."""
    return {"id": str(row.channel_id), **member(row)}
