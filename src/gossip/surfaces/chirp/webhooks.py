"""`/api` routes for incoming webhooks: managing them, and executing one with its token."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from gossip.kit.errors import ValidationFailed
from gossip.kit.permissions import Permission
from gossip.surfaces.chirp.channels import SnowflakeIn
from gossip.surfaces.chirp.deps import (
    CurrentActor,
    Reader,
    Writer,
    check_rate,
    client_ip,
    path_id,
)
from gossip.surfaces.chirp.envelope import JSON, Envelope, error_responses, ok
from gossip.surfaces.chirp.messages import EmbedIn, MessageOut
from gossip.surfaces.chirp.rules import access
from gossip.surfaces.chirp.schemas import Body, Out
from gossip.webhooks import service as webhooks_service
from gossip.webhooks.service import UNSET, WebhookChanges

router = APIRouter(tags=["webhooks"])


class WebhookCreateIn(Body):
    name: str = Field(min_length=2, max_length=32)
    # A URL for now; uploads arrive with the media work.
    avatar: str | None = Field(default=None, max_length=512)


class WebhookUpdateIn(Body):
    """Only the given fields change; `avatar: null` clears it; `channelId` moves the
    webhook to another text channel of the same server."""

    name: str | None = Field(default=None, min_length=2, max_length=32)
    avatar: str | None = Field(default=None, max_length=512)
    channelId: SnowflakeIn | None = None


class WebhookExecuteIn(Body):
    """Content, embeds or both; `username` and `avatarUrl` replace the webhook's own name
    and avatar on this message only."""

    content: str | None = Field(default=None, max_length=2000)
    username: str | None = Field(default=None, min_length=1, max_length=80)
    avatarUrl: str | None = Field(default=None, max_length=512)
    embeds: list[EmbedIn] = Field(default_factory=list, max_length=10)
    tts: bool = False


class WebhookOut(Out):
    id: str
    name: str
    avatar: str | None
    channelId: str
    serverId: str
    token: str
    createdAt: str


class WebhookMessageOut(MessageOut):
    webhookId: str


async def execute_rate(request: Request) -> None:
    # Public: count every attempt per address first; the webhook's own bucket is counted
    # once the token is known good, so strangers cannot use up a webhook's allowance.
    await check_rate(request, "general", f"ip:{client_ip(request)}")


@router.post(
    "/channels/{channel_id}/webhooks",
    openapi_extra=access("channel", Permission.MANAGE_WEBHOOKS),
    status_code=201,
    response_model=Envelope[WebhookOut],
    responses=error_responses(400, 401, 403, 404, 413, 429),
)
async def create_webhook(
    channel_id: str, body: WebhookCreateIn, actor: CurrentActor, session: Writer
) -> JSON:
    """In a server's text channel; at most 15 per channel."""
    data = await webhooks_service.do_create_webhook(
        session, actor, path_id(channel_id, "Channel"), name=body.name, avatar=body.avatar
    )
    return ok(data, status=201, message="Webhook created")


@router.get(
    "/channels/{channel_id}/webhooks",
    openapi_extra=access("channel", Permission.MANAGE_WEBHOOKS),
    response_model=Envelope[list[WebhookOut]],
    responses=error_responses(401, 403, 404, 429),
)
async def list_webhooks(channel_id: str, actor: CurrentActor, session: Reader) -> JSON:
    return ok(await webhooks_service.list_webhooks(session, actor, path_id(channel_id, "Channel")))


@router.get(
    "/webhooks/{webhook_id}",
    openapi_extra=access("channel", Permission.MANAGE_WEBHOOKS),
    description="Needs MANAGE_WEBHOOKS in the webhook's channel; 404 if you cannot see it.",
    response_model=Envelope[WebhookOut],
    responses=error_responses(401, 403, 404, 429),
)
async def get_webhook(webhook_id: str, actor: CurrentActor, session: Reader) -> JSON:
    return ok(await webhooks_service.access_webhook(session, actor, path_id(webhook_id, "Webhook")))


@router.patch(
    "/webhooks/{webhook_id}",
    openapi_extra=access("channel", Permission.MANAGE_WEBHOOKS),
    description="Needs MANAGE_WEBHOOKS in the webhook's channel, and in the one it moves to.",
    response_model=Envelope[WebhookOut],
    responses=error_responses(400, 401, 403, 404, 413, 429),
)
async def update_webhook(
    webhook_id: str, body: WebhookUpdateIn, actor: CurrentActor, session: Writer
) -> JSON:
    given = body.model_fields_set
    for name in ("name", "channelId"):
        if name in given and getattr(body, name) is None:
            raise ValidationFailed.field(name, "cannot be null")
    changes = WebhookChanges(
        name=body.name,
        avatar=body.avatar if "avatar" in given else UNSET,
        channel_id=body.channelId,
    )
    data = await webhooks_service.do_update_webhook(
        session, actor, path_id(webhook_id, "Webhook"), changes
    )
    return ok(data, message="Webhook updated")


@router.delete(
    "/webhooks/{webhook_id}",
    openapi_extra=access("channel", Permission.MANAGE_WEBHOOKS),
    description="Needs MANAGE_WEBHOOKS in the webhook's channel. Its messages stay.",
    response_model=Envelope[None],
    responses=error_responses(401, 403, 404, 429),
)
async def delete_webhook(webhook_id: str, actor: CurrentActor, session: Writer) -> JSON:
    await webhooks_service.do_delete_webhook(session, actor, path_id(webhook_id, "Webhook"))
    return ok(None, message="Webhook deleted")


@router.post(
    "/webhooks/{webhook_id}/{webhook_token}",
    openapi_extra=access("public"),
    status_code=201,
    description="No Authorization header: the token in the path is the credential. A wrong "
    "ID or token is 404. Each webhook may post 30 messages a minute "
    "(`GOSSIP_RATE_LIMIT_WEBHOOK`).",
    response_model=Envelope[WebhookMessageOut],
    responses=error_responses(400, 404, 413, 429),
    dependencies=[Depends(execute_rate)],
)
async def execute_webhook(
    webhook_id: str,
    webhook_token: str,
    body: WebhookExecuteIn,
    request: Request,
    session: Writer,
) -> JSON:
    hook = await webhooks_service.access_by_token(
        session, path_id(webhook_id, "Webhook"), webhook_token
    )
    await check_rate(request, "webhook", f"webhook:{hook.id}")
    view = await webhooks_service.do_execute(
        session,
        hook,
        content=body.content or "",
        username=body.username,
        avatar_url=body.avatarUrl,
        embeds=[e.embed() for e in body.embeds],
        tts=body.tts,
    )
    return ok(view.payload(), status=201, message="Message sent")
