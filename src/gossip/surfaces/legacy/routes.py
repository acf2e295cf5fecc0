"""Spec 002's HTTP endpoints, each a thin translation to the services.

Every answer is exactly the spec's: its status codes, its field names, and `null` as the
body of each error (rendered by `render.render_error` for these paths). Where Gossip has
a case the spec's server did not (usernames are unique here), the nearest HTTP status is
used with the same `null` body; docs/legacy.md lists them.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from gossip.auth import legacy as legacy_auth
from gossip.channels import service as channels_service
from gossip.channels.service import DM, ChannelView
from gossip.dms import service as dms_service
from gossip.dms import welcome
from gossip.kit import ids
from gossip.kit.errors import AlreadyExists, NotFound, Unauthorized, ValidationFailed
from gossip.messages import service as messages_service
from gossip.surfaces.chirp.deps import RuntimeDep
from gossip.surfaces.legacy import render
from gossip.surfaces.legacy.deps import Body, CurrentActor, id_list, login_rate, text, writing
from gossip.users import service as users_service

router = APIRouter(include_in_schema=False)

PAGE = 50  # "the last 50 messages"
MAX_AVATAR = 512


def answer(status: int, body: Any) -> Response:
    return JSONResponse(body, status_code=status)


def one_to_one(views: list[ChannelView]) -> list[ChannelView]:
    """Spec 002 knows only one-to-one DMs; group DMs stay a Chirp matter."""
    return [v for v in views if v.channel.type == DM]


@router.post("/new", dependencies=[Depends(login_rate)])
async def new_session(body: Body, rt: RuntimeDep) -> Response:
    """No accountID: a new account (201). accountID and username: a login (202)."""
    account_id = text(body, "accountID")
    username = text(body, "username")
    ttl = rt.settings.legacy_token_ttl
    async with writing(rt) as session:
        if account_id:
            if username is None:
                raise Unauthorized()
            user = await legacy_auth.check_login(session, account_id, username)
            token, actor = await legacy_auth.do_open_session(session, user, ttl)
            dms = one_to_one(await dms_service.list_dms(session, actor))
            status = 202
        else:
            if not username:
                raise ValidationFailed.field("username", "is required")
            user = await legacy_auth.do_register(session, username)
            token, _ = await legacy_auth.do_open_session(session, user, ttl)
            dms, status = [], 201
    return answer(
        status, {"id": str(user.id), "dms": [str(v.channel.id) for v in dms], "token": token}
    )


def check_avatar(value: str) -> str:
    # The column holds 512 characters; NUL and lone surrogates cannot be stored.
    if len(value) > MAX_AVATAR or any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        raise ValidationFailed.field("avatarURL", "is not a usable URL")
    return value


@router.post("/update-account")
async def update_account(actor: CurrentActor, body: Body, rt: RuntimeDep) -> Response:
    """Both fields are sent every time; only what differs changes, and 406 if nothing."""
    avatar = text(body, "avatarURL")
    username = text(body, "username")
    if avatar is None or username is None:
        raise ValidationFailed("avatarURL and username are required")
    avatar = check_avatar(avatar)
    name = users_service.check_username(username)
    async with writing(rt) as session:
        current = await users_service.access_user(session, actor.user_id)
        changes = users_service.ProfileChanges(
            username=name if name != current.username else None,
            avatar=avatar if avatar != (current.avatar or "") else None,
        )
        if changes.username is None and changes.avatar is None:
            raise ValidationFailed("Nothing changed", status=406)
        user = await users_service.do_update_profile(session, actor, changes)
    return answer(
        202, {"id": str(user.id), "username": user.username, "avatarURL": user.avatar or ""}
    )


@router.post("/create-channel")
async def create_channel(actor: CurrentActor, body: Body, rt: RuntimeDep) -> Response:
    """A one-to-one DM with any user; the other side hears `channelCreate` (realtime.py)."""
    to = text(body, "to")
    kind = body.get("type")
    if not to or kind is None:
        raise ValidationFailed("to and type are required")
    if str(kind).strip() != str(DM):
        raise ValidationFailed.field("type", "only 1 (DM) is supported")
    async with writing(rt) as session:
        view, created = await dms_service.do_open_dm(session, actor, [to])
        if not created:
            raise AlreadyExists("The DM already exists")
    return answer(201, {"channel_id": str(view.channel.id)})


@router.get("/users")
async def get_users(actor: CurrentActor, request: Request, rt: RuntimeDep) -> Response:
    wanted = id_list(request, "users")
    async with rt.db.read_session() as session:
        found = await users_service.get_many(session, wanted)
    return answer(200 if found else 404, {"users": [render.user(u) for u in found]})


def _conversation(
    view: ChannelView, actor_id: int, messages: list[dict[str, Any]]
) -> dict[str, Any]:
    other = render.other_user(view, actor_id)
    return {
        "messages": messages,
        "channel": {"name": other.username if other else "", "id": str(view.channel.id)},
        "other_user": str(other.id) if other else None,
    }


def _welcome_message(view: ChannelView, username: str) -> dict[str, Any]:
    system = next(u for u in view.participants if u.id == welcome.WELCOME_USER_ID)
    return {
        "content": welcome.welcome_text(username),
        "author": render.user(system),
        "id": welcome.WELCOME_MESSAGE_ID,
        "channel_id": str(view.channel.id),
    }


@router.get("/messages")
async def get_messages(actor: CurrentActor, request: Request, rt: RuntimeDep) -> Response:
    """The last 50 messages, oldest first. `null` or `undefined` (a client with no
    channels) opens the user's welcome DM and answers 201 with its greeting."""
    raw = request.query_params.get("channel_id")
    if raw is None or not raw.strip():
        raise ValidationFailed.field("channel_id", "is required")
    if raw.strip() in ("null", "undefined"):
        async with writing(rt) as session:
            view = await welcome.do_open_welcome_dm(session, actor)
        greeting = _welcome_message(view, actor.username)
        return answer(201, _conversation(view, actor.user_id, [greeting]))
    channel_id = ids.parse_id(raw.strip())
    async with rt.db.read_session() as session:
        view = await channels_service.get_channel(session, actor, channel_id)
        if view.channel.type != DM:
            raise NotFound("Channel")
        page = await messages_service.list_messages(session, actor, view.channel.id, limit=PAGE)
    shown = [render.message(m) for m in reversed(page)]
    if welcome.is_welcome_dm(view) and len(page) < PAGE:
        # The start of the welcome DM's history: its greeting comes first.
        shown.insert(0, _welcome_message(view, actor.username))
    return answer(200, _conversation(view, actor.user_id, shown))


@router.get("/dmchannels")
async def get_dm_channels(actor: CurrentActor, request: Request, rt: RuntimeDep) -> Response:
    wanted = set(id_list(request, "channels"))
    async with rt.db.read_session() as session:
        views = one_to_one(await dms_service.list_dms(session, actor))
    found = []
    for view in views:
        other = render.other_user(view, actor.user_id)
        if view.channel.id in wanted and other is not None:
            found.append({"channel_id": str(view.channel.id), "user": render.user(other)})
    return answer(200 if found else 404, {"dmchannels": found})
