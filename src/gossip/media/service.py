"""Rules for uploaded files: storing them safely, who may see and delete them, attaching
them to messages, profiles and servers.

Storing happens in two steps so that the database's single writer (SQLite) is never held
while bytes arrive or images are decoded: `do_store` checks, probes and stores the bytes
with no transaction open; `do_upload`, `do_send_with_files` and `do_record_image` then
write the rows in the request's transaction. The adapter discards stored bytes whose rows
never committed (`discard`).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from sqlalchemy.ext.asyncio import AsyncSession

from gossip.access import repository as access_repository
from gossip.access.service import ChannelAccess, access_channel, access_server
from gossip.auth.subject import Actor
from gossip.config import Settings
from gossip.db.models import MediaFile
from gossip.events import emit
from gossip.kit import ids
from gossip.kit.errors import NotFound, PayloadTooLarge, ValidationFailed
from gossip.kit.ids import snowflake_time
from gossip.kit.permissions import Permission, has
from gossip.kit.timefmt import iso
from gossip.media import probe as probing
from gossip.media import repository
from gossip.media.storage import Storage, build_storage
from gossip.messages import service as messages_service
from gossip.messages.service import MessageView

log = logging.getLogger("gossip.media")

READ = Permission.VIEW_CHANNEL | Permission.READ_MESSAGE_HISTORY
MAX_ATTACHMENTS = 10
PROFILE_IMAGES = ("avatar", "banner", "icon")
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}


@dataclass
class MediaStore:
    """Storage and the limits that apply to everything stored in it."""

    storage: Storage
    base_url: str = ""
    max_pixels: int = 64_000_000
    max_bytes: int = 25 * 1024 * 1024
    # Decoding a large image holds tens of megabytes: at most one per core at a time.
    decoding: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(max(1, os.cpu_count() or 1))
    )

    def file_url(self, row: MediaFile | Stored) -> str:
        return f"{self.base_url}/media/{row.id}/{row.token}/{row.filename}"

    def thumbnail_url(self, row: MediaFile | Stored) -> str | None:
        if not row.has_thumbnail:
            return None
        return f"{self.base_url}/media/thumbnails/{row.id}/{row.token}.jpg"


def build(settings: Settings) -> MediaStore:
    return MediaStore(
        storage=build_storage(
            settings.data_dir,
            bucket=settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
        ),
        base_url=settings.media_base_url.rstrip("/"),
        max_pixels=settings.max_image_pixels,
        max_bytes=settings.max_upload_bytes,
    )


def file_key(media_id: int) -> str:
    return f"files/{media_id}"


def thumbnail_key(media_id: int) -> str:
    return f"thumbnails/{media_id}.jpg"


@dataclass(frozen=True, slots=True)
class Incoming:
    """A file as it arrived (already spooled to disk past 1 MiB), and its form field."""

    file: BinaryIO
    size: int
    name: str | None
    field: str


@dataclass(frozen=True, slots=True)
class Stored:
    """A file whose bytes are in storage and whose row is not written yet."""

    id: int
    token: str
    filename: str
    original_name: str
    size: int
    mime_type: str
    width: int | None
    height: int | None
    has_thumbnail: bool

    @property
    def keys(self) -> list[str]:
        keys = [file_key(self.id)]
        if self.has_thumbnail:
            keys.append(thumbnail_key(self.id))
        return keys


# --- storing -----------------------------------------------------------------------------


async def do_store(
    store: MediaStore, incoming: Incoming, *, image_for: str | None = None
) -> Stored:
    """Checks the size, sniffs the type from the bytes, decodes allowlisted images (and
    refuses broken or oversized ones), makes their thumbnail and stores everything under
    generated keys. `image_for` ("avatar", …) requires an image and names its URL."""
    if incoming.size > store.max_bytes:
        raise PayloadTooLarge(store.max_bytes)
    if incoming.size == 0:
        raise ValidationFailed.field(incoming.field, "must not be empty")
    async with store.decoding:
        try:
            probed = await asyncio.to_thread(
                probing.probe,
                incoming.file,
                max_pixels=store.max_pixels,
                image_required=image_for is not None,
            )
        except ValidationFailed as exc:
            raise ValidationFailed.field(incoming.field, exc.message) from None
    original = probing.original_name(incoming.name)
    filename = (
        f"{image_for}.{EXTENSIONS[probed.mime_type]}"
        if image_for is not None
        else probing.url_name(original)
    )
    stored = Stored(
        id=ids.new_id(),
        token=secrets.token_urlsafe(16),
        filename=filename,
        original_name=original,
        size=incoming.size,
        mime_type=probed.mime_type,
        width=probed.width,
        height=probed.height,
        has_thumbnail=probed.thumbnail is not None,
    )
    incoming.file.seek(0)
    await store.storage.put(file_key(stored.id), incoming.file, _served_type(probed.mime_type))
    if probed.thumbnail is not None:
        try:
            await store.storage.put_bytes(thumbnail_key(stored.id), probed.thumbnail, "image/jpeg")
        except BaseException:
            await discard(store, [stored])
            raise
    return stored


async def discard(store: MediaStore, stored: Sequence[Stored]) -> None:
    """Removes bytes whose rows never committed. A failure here only leaves unreachable
    bytes behind (every URL is checked against its row), so it is logged, not raised."""
    keys = [key for item in stored for key in item.keys]
    if not keys:
        return
    try:
        await store.storage.delete(keys)
    except Exception:
        log.exception("could not remove %d stored media objects", len(keys))


async def forget(store: MediaStore, keys: Sequence[str]) -> None:
    """Removes the bytes of a deleted file (after its deletion committed); logged, not
    raised, on failure: the URL already answers 404 without the row."""
    try:
        await store.storage.delete(keys)
    except Exception:
        log.exception("could not remove media objects %s", list(keys))


def _served_type(mime_type: str) -> str:
    return mime_type if mime_type in probing.INLINE_TYPES else probing.OCTET_STREAM


# --- recording ---------------------------------------------------------------------------


def _row(
    stored: Stored,
    *,
    uploader_id: int,
    purpose: str,
    channel_id: int | None = None,
    message_id: int | None = None,
) -> MediaFile:
    return MediaFile(
        id=stored.id,
        uploader_id=uploader_id,
        channel_id=channel_id,
        message_id=message_id,
        purpose=purpose,
        token=stored.token,
        filename=stored.filename,
        original_name=stored.original_name,
        size=stored.size,
        mime_type=stored.mime_type,
        width=stored.width,
        height=stored.height,
        has_thumbnail=stored.has_thumbnail,
    )


async def check_upload_channel(
    session: AsyncSession, actor: Actor, channel_id: int | None
) -> ChannelAccess:
    """Sharing a file in a channel needs ATTACH_FILES there (and seeing it: else 404)."""
    return (await access_channel(session, actor, channel_id)).require(Permission.ATTACH_FILES)


async def do_upload(
    session: AsyncSession, actor: Actor, stored: Stored, *, channel_id: int | None = None
) -> MediaFile:
    """Records a stored upload, shared in `channel_id` if given (ATTACH_FILES there)."""
    if channel_id is not None:
        await check_upload_channel(session, actor, channel_id)
    row = _row(stored, uploader_id=actor.user_id, purpose="upload", channel_id=channel_id)
    await repository.add(session, [row])
    return row


async def check_send_files(
    session: AsyncSession, actor: Actor, channel_id: int | None, *, files: int
) -> None:
    """Before storing a message's files: SEND_MESSAGES, and ATTACH_FILES for any file."""
    if files > MAX_ATTACHMENTS:
        raise ValidationFailed.field("files", f"at most {MAX_ATTACHMENTS} files per message")
    needed = Permission.SEND_MESSAGES | (Permission.ATTACH_FILES if files else 0)
    (await access_channel(session, actor, channel_id)).require(needed)


def attachment(store: MediaStore, stored: Stored) -> dict[str, Any]:
    """A message's attachment object, as spec 004 shows it."""
    url = store.file_url(stored)
    return {
        "id": str(stored.id),
        "filename": stored.filename,
        "size": stored.size,
        "url": url,
        # No separate media proxy: Gossip serves both, with the same safety headers.
        "proxyUrl": url,
        "width": stored.width,
        "height": stored.height,
        "contentType": stored.mime_type,
    }


async def do_send_with_files(
    session: AsyncSession,
    store: MediaStore,
    actor: Actor,
    channel_id: int,
    *,
    content: str,
    tts: bool,
    stored: Sequence[Stored],
) -> MessageView:
    """Sends a message with these files as its attachments (in MESSAGE_CREATE too)."""
    if len(stored) > MAX_ATTACHMENTS:
        raise ValidationFailed.field("files", f"at most {MAX_ATTACHMENTS} files per message")
    view = await messages_service.do_send_message(
        session,
        actor,
        channel_id,
        content=content,
        tts=tts,
        attachments=[attachment(store, s) for s in stored],
    )
    message = view.message
    await repository.add(
        session,
        [
            _row(
                s,
                uploader_id=actor.user_id,
                purpose="attachment",
                channel_id=message.channel_id,
                message_id=message.id,
            )
            for s in stored
        ],
    )
    return view


async def check_server_images(session: AsyncSession, actor: Actor, server_id: int | None) -> None:
    """Before storing a server's icon or banner: MANAGE_GUILD there."""
    (await access_server(session, actor, server_id)).require(Permission.MANAGE_GUILD)


async def do_record_image(
    session: AsyncSession, store: MediaStore, actor: Actor, stored: Stored, purpose: str
) -> str:
    """Records an avatar, banner or icon the actor uploaded; its URL, for the profile or
    server field it fills."""
    if purpose not in PROFILE_IMAGES:
        raise ValueError(purpose)
    await repository.add(session, [_row(stored, uploader_id=actor.user_id, purpose=purpose)])
    return store.file_url(stored)


# --- reading -----------------------------------------------------------------------------


async def _locate(
    session: AsyncSession, actor: Actor, media_id: int | None
) -> tuple[MediaFile, ChannelAccess | None]:
    """The file if the actor may see it: they uploaded it, or it was shared in a channel
    they can see (and, attached to a message, whose history they can read). Else 404."""
    row = await repository.get(session, media_id) if media_id else None
    if row is None:
        raise NotFound("Media")
    found: ChannelAccess | None = None
    if row.channel_id is not None:
        try:
            found = await access_channel(session, actor, row.channel_id)
        except NotFound:
            found = None
        if found is not None and row.message_id is not None and not has(found.permissions, READ):
            found = None
    if row.uploader_id != actor.user_id and found is None:
        raise NotFound("Media")
    return row, found


async def access_media(session: AsyncSession, actor: Actor, media_id: int | None) -> MediaFile:
    return (await _locate(session, actor, media_id))[0]


def info(store: MediaStore, row: MediaFile) -> dict[str, Any]:
    """Spec 004's media object (the upload and info shapes together)."""
    created = iso(snowflake_time(row.id))
    return {
        "id": str(row.id),
        "filename": row.filename,
        "originalName": row.original_name,
        "size": row.size,
        "mimeType": row.mime_type,
        "url": store.file_url(row),
        "thumbnailUrl": store.thumbnail_url(row),
        "width": row.width,
        "height": row.height,
        "uploadedBy": str(row.uploader_id),
        "uploadedAt": created,
        "createdAt": created,
        "channelId": None if row.channel_id is None else str(row.channel_id),
        "messageId": None if row.message_id is None else str(row.message_id),
    }


async def access_file(session: AsyncSession, media_id: int | None, token: str) -> MediaFile:
    """The file a URL names: its ID and its token (compared in constant time). Else 404."""
    row = await repository.get(session, media_id) if media_id else None
    if row is None or not hmac.compare_digest(row.token.encode(), token.encode()):
        raise NotFound("File")
    return row


def served_type(row: MediaFile) -> str:
    """What a browser is told the bytes are: their own type only for allowlisted images,
    audio and video; an octet-stream for everything else."""
    return _served_type(row.mime_type)


def is_inline(row: MediaFile) -> bool:
    return row.mime_type in probing.INLINE_TYPES


# --- deleting ----------------------------------------------------------------------------


async def do_delete_media(session: AsyncSession, actor: Actor, media_id: int | None) -> list[str]:
    """The uploader, or MANAGE_MESSAGES in the channel it was shared in. A file attached to
    a message leaves the message too (MESSAGE_UPDATE). Returns the storage keys to remove
    once the deletion has committed."""
    row, found = await _locate(session, actor, media_id)
    if row.uploader_id != actor.user_id:
        assert found is not None  # _locate let the actor see it through the channel
        found.require(Permission.MANAGE_MESSAGES)
    if row.message_id is not None:
        await _detach(session, actor, row)
    await repository.remove(session, row.id)
    keys = [file_key(row.id)]
    if row.has_thumbnail:
        keys.append(thumbnail_key(row.id))
    return keys


async def _detach(session: AsyncSession, actor: Actor, row: MediaFile) -> None:
    message = await repository.message(session, row.message_id) if row.message_id else None
    channel = await access_repository.channel(session, message.channel_id) if message else None
    if message is None or channel is None:
        return
    kept = [a for a in message.attachments or () if a.get("id") != str(row.id)]
    message.attachments = kept or None
    await session.flush()
    view = (await messages_service.hydrate(session, actor.user_id, [message]))[0]
    emit(
        session,
        "MESSAGE_UPDATE",
        view.event_payload(),
        await messages_service.audience(session, channel),
    )
