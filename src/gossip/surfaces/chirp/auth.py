"""`/api/auth`: register, login, refresh, logout."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from gossip.auth import service as auth_service
from gossip.invites import service as invites_service
from gossip.surfaces.chirp import render
from gossip.surfaces.chirp.deps import (
    BearerToken,
    CurrentActor,
    Reader,
    RuntimeDep,
    Writer,
    auth_rate,
    auth_status_rate,
)
from gossip.surfaces.chirp.envelope import JSON, Envelope, error_responses, ok
from gossip.surfaces.chirp.rules import access
from gossip.surfaces.chirp.schemas import AuthOut, LoginIn, RefreshOut, RegisterIn

router = APIRouter(prefix="/auth", tags=["auth"])


def _auth_data(user: Any, tokens: auth_service.Tokens, ttl: int) -> dict[str, Any]:
    return {
        "user": {
            "id": str(user.id),
            "username": user.username,
            "email": user.email,
            "avatar": user.avatar,
            "createdAt": render.created(user.id),
        },
        "token": tokens.access,
        "refreshToken": tokens.refresh,
        "expiresIn": ttl,
    }


@router.post(
    "/register",
    openapi_extra=access("public"),
    status_code=201,
    response_model=Envelope[AuthOut],
    responses=error_responses(400, 404, 409, 413, 429),
    dependencies=[Depends(auth_rate)],
)
async def register(body: RegisterIn, rt: RuntimeDep, session: Writer) -> JSON:
    password_hash = await auth_service.hash_password(rt.passwords, body.password)
    user = await auth_service.do_register(
        session, username=body.username, email=str(body.email), password_hash=password_hash
    )
    if body.inviteCode:
        await invites_service.do_accept_for_user(session, user.id, body.inviteCode)
    tokens = await auth_service.do_open_session(
        session, rt.tokens, user, rt.settings.refresh_token_ttl
    )
    return ok(
        _auth_data(user, tokens, rt.settings.access_token_ttl),
        status=201,
        message="Registration successful",
    )


@router.post(
    "/login",
    openapi_extra=access("public"),
    response_model=Envelope[AuthOut],
    responses=error_responses(400, 401, 403, 413, 429),
    dependencies=[Depends(auth_rate)],
)
async def login(body: LoginIn, rt: RuntimeDep, reader: Reader, session: Writer) -> JSON:
    # Check the password on a read connection so the writer is not held while argon2 runs.
    user = await auth_service.check_credentials(
        reader, rt.passwords, email=body.email, password=body.password
    )
    tokens = await auth_service.do_open_session(
        session, rt.tokens, user, rt.settings.refresh_token_ttl
    )
    return ok(_auth_data(user, tokens, rt.settings.access_token_ttl), message="Login successful")


@router.post(
    "/refresh",
    openapi_extra=access("public"),
    response_model=Envelope[RefreshOut],
    responses=error_responses(401, 403, 429),
    dependencies=[Depends(auth_status_rate)],
)
async def refresh(token: BearerToken, rt: RuntimeDep, session: Writer) -> JSON:
    try:
        tokens = await auth_service.do_refresh(
            session, rt.tokens, token, rt.settings.refresh_token_ttl
        )
    except auth_service.RefreshReuse:
        await session.commit()
        await rt.auth_cache.committed(session)
        raise
    return ok(
        {
            "token": tokens.access,
            "refreshToken": tokens.refresh,
            "expiresIn": rt.settings.access_token_ttl,
        },
        message="Token refreshed",
    )


@router.post(
    "/logout",
    openapi_extra=access("user"),
    response_model=Envelope[None],
    responses=error_responses(401, 403, 429),
    dependencies=[Depends(auth_status_rate)],
)
async def logout(actor: CurrentActor, session: Writer) -> JSON:
    await auth_service.do_logout(session, actor)
    return ok(None, message="Logged out")
