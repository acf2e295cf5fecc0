"""`/api` routes for voice signaling: joining and leaving voice channels, and who is in one.

Gossip carries no audio: a join answers a token for the media server named by
`GOSSIP_VOICE_ENDPOINT` (docs/voice.md).
"""

from __future__ import annotations

from fastapi import APIRouter

from gossip.kit.permissions import Permission
from gossip.surfaces.chirp.deps import CurrentActor, Reader, RuntimeDep, Writer, path_id
from gossip.surfaces.chirp.envelope import JSON, Envelope, error_responses, ok
from gossip.surfaces.chirp.rules import access
from gossip.surfaces.chirp.schemas import Out
from gossip.voice import service as voice_service
from gossip.voice.tokens import voice_config

router = APIRouter(prefix="/voice/channels/{channel_id}", tags=["voice"])


class VoiceJoinOut(Out):
    token: str
    endpoint: str | None
    ssrc: int
    sessionId: str
    channelId: str


class VoiceUserOut(Out):
    id: str
    username: str
    avatar: str | None


class VoiceStateOut(Out):
    serverId: str
    channelId: str | None
    userId: str
    user: VoiceUserOut
    ssrc: int | None
    joinedAt: str | None


@router.post(
    "/join",
    openapi_extra=access("channel", Permission.CONNECT),
    description="Joins a voice channel (type 2), leaving any other. `token` is a JWT "
    "(HS256, about a minute) for the media server at `endpoint` (null when none is "
    "configured); `ssrc` is unique in the channel. 403 also when the channel is at its "
    "userLimit.",
    response_model=Envelope[VoiceJoinOut],
    responses=error_responses(400, 401, 403, 404, 429),
)
async def join_voice(
    channel_id: str, actor: CurrentActor, session: Writer, runtime: RuntimeDep
) -> JSON:
    data = await voice_service.do_join(
        session, actor, path_id(channel_id, "Channel"), voice_config(runtime.settings)
    )
    return ok(data, message="Joined the voice channel")


@router.post(
    "/leave",
    openapi_extra=access("channel"),
    description="Leaves the voice channel; a no-op when not in it.",
    response_model=Envelope[None],
    responses=error_responses(400, 401, 403, 404, 429),
)
async def leave_voice(channel_id: str, actor: CurrentActor, session: Writer) -> JSON:
    await voice_service.do_leave(session, actor, path_id(channel_id, "Channel"))
    return ok(None, message="Left the voice channel")


@router.get(
    "/states",
    openapi_extra=access("channel"),
    description="Who is connected to the voice channel, in the order they joined.",
    response_model=Envelope[list[VoiceStateOut]],
    responses=error_responses(400, 401, 403, 404, 429),
)
async def list_voice_states(channel_id: str, actor: CurrentActor, session: Reader) -> JSON:
    return ok(await voice_service.list_states(session, actor, path_id(channel_id, "Channel")))
