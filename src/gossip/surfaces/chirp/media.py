"""`/api/media`: uploads, their details, deleting them; the multipart/form-data forms of
sending a message and of updating a profile or a server; and the stored bytes (`/media/…`).

Reading a form never holds a database transaction: files are spooled to disk as they
arrive (memory stays flat), counted against GOSSIP_MAX_UPLOAD_BYTES (413 as soon as the
count passes it), then probed and stored by the media service, and only then does the
route open its write session to record them. A yield dependency removes the stored bytes
again if the route fails or its transaction does not commit.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.background import BackgroundTask
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from gossip.auth.subject import Actor
from gossip.kit import ids
from gossip.kit.errors import NotFound, PayloadTooLarge, ValidationFailed
from gossip.kit.permissions import Permission
from gossip.media import service as media_service
from gossip.media.service import Incoming, Stored
from gossip.runtime import Runtime
from gossip.servers import service as servers_service
from gossip.surfaces.chirp import render
from gossip.surfaces.chirp.deps import CurrentActor, Reader, RuntimeDep, Writer, path_id
from gossip.surfaces.chirp.envelope import JSON, Envelope, error_responses, ok
from gossip.surfaces.chirp.rules import access
from gossip.surfaces.chirp.schemas import Out, UserUpdateIn
from gossip.surfaces.chirp.servers import ServerCreateIn, ServerUpdateIn
from gossip.surfaces.errors import validation_details
from gossip.users import service as users_service

router = APIRouter(prefix="/media", tags=["media"])
# The bytes: outside /api (no envelope, no token: browsers load them from <img> tags).
files = APIRouter(prefix="/media", include_in_schema=False)

# Multipart framing (boundaries, part headers, text fields) on top of the files.
FORM_OVERHEAD = 64 * 1024
MAX_TEXT_FIELD = 16 * 1024
MAX_FIELDS = 32
MESSAGE_FILE_FIELD = re.compile(r"^(file(10|[1-9])?|files(\[[0-9]{0,2}\])?)$")
# The requests whose multipart bodies may be as large as the upload cap.
FORM_PATHS = re.compile(r"^/api/(media/upload|channels/[^/]+/messages|users/me|servers(/[^/]+)?)$")
SAFETY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "Cache-Control": "private, max-age=86400",
}


# --- reading forms -----------------------------------------------------------------------


def is_multipart(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower() == b"multipart/form-data"
    return False


def upload_body_limit(max_upload_bytes: int) -> Callable[[Scope], int | None]:
    """For the BodyLimit middleware: the cap of a multipart request to a route that takes
    files (the upload cap plus framing); None leaves the ordinary cap."""
    cap = max_upload_bytes + FORM_OVERHEAD

    def limit_for(scope: Scope) -> int | None:
        if scope.get("method") in ("POST", "PATCH") and FORM_PATHS.match(scope.get("path", "")):
            return cap if is_multipart(scope) else None
        return None

    return limit_for


class _Refused(MultiPartException):
    """Stops the parser (which then closes its spooled files) when the body is too large."""


@dataclass
class Form:
    text: dict[str, list[str]] = field(default_factory=dict)
    files: list[tuple[str, UploadFile]] = field(default_factory=list)

    def value(self, name: str) -> str | None:
        values = self.text.get(name)
        return values[-1] if values else None

    def given(self) -> set[str]:
        return set(self.text) | {name for name, _ in self.files}

    def file(self, name: str) -> UploadFile | None:
        found = [upload for field_name, upload in self.files if field_name == name]
        if len(found) > 1:
            raise ValidationFailed.field(name, "give one file")
        return found[0] if found else None

    def only(self, allowed: Sequence[str]) -> None:
        for name, _ in self.files:
            if name not in allowed:
                raise ValidationFailed.field(name, "is not a file field of this request")

    def close(self) -> None:
        for _, upload in self.files:
            upload.file.close()


async def read_form(request: Request, cap_bytes: int, *, max_files: int) -> Form:
    """The multipart body: text fields, and files spooled to disk past 1 MiB. 413 as soon
    as more than `cap_bytes` arrive (the body limit middleware cuts such a body too)."""
    if not is_multipart(request.scope):
        raise ValidationFailed.field("body", "must be multipart/form-data")
    cap = cap_bytes + FORM_OVERHEAD
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > cap):
        raise PayloadTooLarge(cap)
    too_large = False

    async def counted() -> AsyncIterator[bytes]:
        nonlocal too_large
        seen = 0
        try:
            async for chunk in request.stream():
                seen += len(chunk)
                if seen > cap:
                    too_large = True
                    raise _Refused("too large")
                yield chunk
        except ClientDisconnect:
            # The middleware's cut, or a client gone: either way nobody reads a 400.
            too_large = True
            raise _Refused("disconnected") from None

    parser = MultiPartParser(
        request.headers,
        counted(),
        max_files=max_files,
        max_fields=MAX_FIELDS,
        max_part_size=MAX_TEXT_FIELD,
    )
    try:
        data = await parser.parse()
    except MultiPartException as exc:
        if too_large:
            raise PayloadTooLarge(cap) from None
        raise ValidationFailed.field("body", exc.message) from None
    form = Form()
    for name, item in data.multi_items():
        if isinstance(item, UploadFile):
            # A browser sends an empty part for a file input left empty.
            if not item.filename and not item.size:
                item.file.close()
                continue
            form.files.append((name, item))
        else:
            if "\x00" in name or "\x00" in item:
                form.close()
                raise ValidationFailed.field(name.replace("\x00", "") or "body", "NUL")
            form.text.setdefault(name, []).append(item)
    return form


def incoming(name: str, upload: UploadFile) -> Incoming:
    return Incoming(file=upload.file, size=upload.size or 0, name=upload.filename, field=name)


def _flag(form: Form, name: str) -> bool:
    value = form.value(name)
    if value is None or value.lower() in ("false", "0", ""):
        return False
    if value.lower() in ("true", "1"):
        return True
    raise ValidationFailed.field(name, "must be true or false")


def _body(model: type[Any], values: dict[str, Any]) -> Any:
    """Validates text fields with the JSON route's own request model (the same limits)."""
    try:
        return model.model_validate(values)
    except PydanticValidationError as exc:
        raise ValidationFailed(details=validation_details(exc.errors())) from None


@dataclass
class Prepared:
    """Files stored for this request, and the form they came with."""

    form: Form
    stored: list[Stored] = field(default_factory=list)
    by_field: dict[str, Stored] = field(default_factory=dict)
    channel_id: int | None = None


async def _store_each(
    rt: Any, prepared: Prepared, uploads: Sequence[tuple[str, UploadFile]], image_for: bool
) -> None:
    try:
        for name, upload in uploads:
            stored = await media_service.do_store(
                rt.media, incoming(name, upload), image_for=name if image_for else None
            )
            prepared.stored.append(stored)
            prepared.by_field[name] = stored
    except BaseException:
        await media_service.discard(rt.media, prepared.stored)
        raise


# --- /api/media ----------------------------------------------------------------------------


class MediaOut(Out):
    id: str
    filename: str
    originalName: str
    size: int
    mimeType: str
    url: str
    thumbnailUrl: str | None
    width: int | None
    height: int | None
    uploadedBy: str
    uploadedAt: str
    createdAt: str
    channelId: str | None
    messageId: str | None


def _form_body(properties: dict[str, Any], required: Sequence[str] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return {"requestBody": {"content": {"multipart/form-data": {"schema": schema}}}}


BINARY = {"type": "string", "format": "binary"}
ID_FIELD = {"type": "string", "pattern": r"^[0-9]{1,19}$"}


async def _upload(request: Request, actor: CurrentActor, rt: RuntimeDep) -> AsyncIterator[Prepared]:
    form = await read_form(request, rt.media.max_bytes, max_files=1)
    try:
        form.only(["file"])
        upload = form.file("file")
        if upload is None:
            raise ValidationFailed.field("file", "is required")
        prepared = Prepared(form)
        raw_channel = form.value("channelId")
        if raw_channel:
            prepared.channel_id = ids.parse_id(raw_channel)
            if prepared.channel_id is None:
                raise ValidationFailed.field("channelId", "is not an ID")
            async with rt.db.read_session() as session:
                await media_service.check_upload_channel(session, actor, prepared.channel_id)
        await _store_each(rt, prepared, [("file", upload)], image_for=False)
        try:
            yield prepared
        except BaseException:
            # The route or its commit failed: its files must not stay behind.
            await media_service.discard(rt.media, prepared.stored)
            raise
    finally:
        form.close()


@router.post(
    "/upload",
    openapi_extra={
        **access("user"),
        **_form_body(
            {"file": BINARY, "channelId": {**ID_FIELD, "description": "Share it there"}},
            ["file"],
        ),
    },
    status_code=201,
    response_model=Envelope[MediaOut],
    responses=error_responses(400, 401, 403, 404, 413, 429),
)
async def upload(
    actor: CurrentActor,
    prepared: Annotated[Prepared, Depends(_upload, scope="function")],
    session: Writer,
    rt: RuntimeDep,
) -> JSON:
    """Stores one file (multipart field `file`). With `channelId`, it is shared there:
    that needs ATTACH_FILES, and everyone who can see the channel can see its details.
    The type is read from the bytes; images are checked, sized and thumbnailed."""
    row = await media_service.do_upload(
        session, actor, prepared.stored[0], channel_id=prepared.channel_id
    )
    return ok(media_service.info(rt.media, row), status=201, message="File uploaded")


@router.get(
    "/{media_id}",
    openapi_extra=access("channel"),
    response_model=Envelope[MediaOut],
    responses=error_responses(401, 403, 404, 429),
)
async def get_media(media_id: str, actor: CurrentActor, session: Reader, rt: RuntimeDep) -> JSON:
    """Visible to its uploader and to those who can see the channel it was shared in."""
    row = await media_service.access_media(session, actor, path_id(media_id, "Media"))
    return ok(media_service.info(rt.media, row))


@router.delete(
    "/{media_id}",
    openapi_extra=access("channel", Permission.MANAGE_MESSAGES, or_author=True),
    response_model=Envelope[None],
    responses=error_responses(401, 403, 404, 429),
)
async def delete_media(media_id: str, actor: CurrentActor, session: Writer, rt: RuntimeDep) -> JSON:
    """Its uploader, or MANAGE_MESSAGES in the channel it was shared in. An attachment
    also leaves its message."""
    keys = await media_service.do_delete_media(session, actor, path_id(media_id, "Media"))
    response = ok(None, message="Media deleted")
    # After the response, so after the commit: bytes go only once their row has.
    response.background = BackgroundTask(media_service.forget, rt.media, keys)
    return response


# --- multipart forms of JSON routes ------------------------------------------------------


async def _message_files(
    request: Request, channel_id: str, actor: CurrentActor, rt: RuntimeDep
) -> AsyncIterator[Prepared]:
    form = await read_form(request, rt.media.max_bytes, max_files=media_service.MAX_ATTACHMENTS)
    try:
        for name, _ in form.files:
            if not MESSAGE_FILE_FIELD.match(name):
                raise ValidationFailed.field(name, "files go in file1…file10 or files")
        prepared = Prepared(form)
        async with rt.db.read_session() as session:
            await media_service.check_send_files(
                session, actor, path_id(channel_id, "Channel"), files=len(form.files)
            )
        await _store_each(rt, prepared, form.files, image_for=False)
        try:
            yield prepared
        except BaseException:
            # The route or its commit failed: its files must not stay behind.
            await media_service.discard(rt.media, prepared.stored)
            raise
    finally:
        form.close()


async def send_message_form(
    channel_id: str,
    actor: CurrentActor,
    prepared: Annotated[Prepared, Depends(_message_files, scope="function")],
    session: Writer,
    rt: RuntimeDep,
) -> JSON:
    content = prepared.form.value("content") or ""
    if len(content) > 2000:
        raise ValidationFailed.field("content", "must be at most 2000 characters")
    view = await media_service.do_send_with_files(
        session,
        rt.media,
        actor,
        path_id(channel_id, "Channel"),
        content=content,
        tts=_flag(prepared.form, "tts"),
        stored=prepared.stored,
    )
    return ok(view.payload(), status=201, message="Message sent")


def _image_fields(names: Sequence[str]) -> Callable[..., AsyncIterator[Prepared]]:
    """A dependency storing the image files of a profile or server form. `server_id`
    (when the path has one) is checked for MANAGE_GUILD before anything is stored."""

    async def images(
        request: Request, actor: CurrentActor, rt: RuntimeDep, server_id: str | None = None
    ) -> AsyncIterator[Prepared]:
        form = await read_form(request, rt.media.max_bytes, max_files=len(names))
        try:
            form.only(names)
            prepared = Prepared(form)
            uploads = [(name, up) for name in names if (up := form.file(name)) is not None]
            if server_id is not None and uploads:
                async with rt.db.read_session() as session:
                    await media_service.check_server_images(
                        session, actor, path_id(server_id, "Server")
                    )
            await _store_each(rt, prepared, uploads, image_for=True)
            try:
                yield prepared
            except BaseException:
                await media_service.discard(rt.media, prepared.stored)
                raise
        finally:
            form.close()

    return images


async def _urls(
    session: AsyncSession, rt: Runtime, actor: Actor, prepared: Prepared
) -> dict[str, str]:
    """The URLs of the images just stored, by field, their rows written."""
    return {
        name: await media_service.do_record_image(session, rt.media, actor, stored, name)
        for name, stored in prepared.by_field.items()
    }


def _texts(form: Form, names: Sequence[str]) -> dict[str, Any]:
    return {name: form.value(name) for name in names if form.value(name) is not None}


async def update_me_form(
    actor: CurrentActor,
    prepared: Annotated[Prepared, Depends(_image_fields(("avatar", "banner")), scope="function")],
    session: Writer,
    rt: RuntimeDep,
) -> JSON:
    form = prepared.form
    body = _body(UserUpdateIn, _texts(form, ("username", "bio", "status", "avatar", "banner")))
    values = body.model_dump(exclude_unset=True)
    values.update(await _urls(session, rt, actor, prepared))
    user = await users_service.do_update_profile(
        session, actor, users_service.ProfileChanges(**values)
    )
    return ok(render.user_me(user), message="Profile updated")


async def create_server_form(
    actor: CurrentActor,
    prepared: Annotated[Prepared, Depends(_image_fields(("icon",)), scope="function")],
    session: Writer,
    rt: RuntimeDep,
) -> JSON:
    # The JSON route's own request model: the same limits, the same required name.
    body = _body(ServerCreateIn, _texts(prepared.form, ("name", "region", "icon")))
    urls = await _urls(session, rt, actor, prepared)
    server = await servers_service.do_create_server(
        session, actor, name=body.name, region=body.region, icon=urls.get("icon", body.icon)
    )
    return ok(render.server_created(server), status=201, message="Server created")


async def update_server_form(
    server_id: str,
    actor: CurrentActor,
    prepared: Annotated[Prepared, Depends(_image_fields(("icon", "banner")), scope="function")],
    session: Writer,
    rt: RuntimeDep,
) -> JSON:
    form = prepared.form
    values = _texts(form, ("name", "icon", "banner", "description"))
    if "features" in form.text:  # features repeat: one field per feature
        values["features"] = [f for f in form.text["features"] if f]
    body = _body(ServerUpdateIn, values)
    given = form.given() & {"name", "icon", "banner", "description", "features"}
    values = body.model_dump(include=given)
    values.update(await _urls(session, rt, actor, prepared))
    changes = servers_service.ServerChanges(given=frozenset(given), **values)
    data = await servers_service.do_update_server(
        session, actor, path_id(server_id, "Server"), changes
    )
    return ok(data, message="Server updated")


# (method, path) of a JSON route -> its multipart form: endpoint and OpenAPI schema.
FORMS: dict[tuple[str, str], tuple[Callable[..., Any], dict[str, Any]]] = {
    ("POST", "/api/channels/{channel_id}/messages"): (
        send_message_form,
        _form_body(
            {
                "content": {"type": "string", "maxLength": 2000},
                "tts": {"type": "boolean"},
                **{f"file{i}": BINARY for i in range(1, 11)},
                "files": {"type": "array", "items": BINARY, "maxItems": 10},
            }
        ),
    ),
    ("PATCH", "/api/users/me"): (
        update_me_form,
        _form_body(
            {
                "username": {"type": "string", "minLength": 3, "maxLength": 32},
                "bio": {"type": "string", "maxLength": 500},
                "status": {"type": "string", "maxLength": 16},
                "avatar": BINARY,
                "banner": BINARY,
            }
        ),
    ),
    ("POST", "/api/servers"): (
        create_server_form,
        _form_body(
            {
                "name": {"type": "string", "minLength": 2, "maxLength": 100},
                "region": {"type": "string", "maxLength": 64},
                "icon": BINARY,
            },
            ["name"],
        ),
    ),
    ("PATCH", "/api/servers/{server_id}"): (
        update_server_form,
        _form_body(
            {
                "name": {"type": "string", "minLength": 2, "maxLength": 100},
                "description": {"type": "string", "maxLength": 1024},
                "icon": BINARY,
                "banner": BINARY,
            }
        ),
    ),
}


class FormRoute(BaseRoute):
    """Takes the multipart/form-data requests of one JSON route before the route sees
    them (FastAPI would read such a body whole into memory to look for JSON). Not an
    APIRoute: the route it serves already stands in the OpenAPI document and route table,
    and gains its form there (`install`)."""

    def __init__(self, method: str, path: str, endpoint: Callable[..., Any]) -> None:
        self.path = path
        self.inner = APIRoute(path, endpoint, methods=[method], include_in_schema=False)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or not is_multipart(scope):
            return Match.NONE, {}
        match, child = self.inner.matches(scope)
        return (Match.FULL, child) if match is Match.FULL else (Match.NONE, {})

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.inner.handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)


def install(app: FastAPI) -> None:
    """Puts the form routes ahead of every other route and documents each form beside its
    route's JSON body."""
    documented = set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        for method in context.methods or ():
            form = FORMS.get((method, context.path or ""))
            if form is not None and isinstance(route, APIRoute):
                extra = route.openapi_extra if route.openapi_extra is not None else {}
                content = extra.setdefault("requestBody", {}).setdefault("content", {})
                content.update(form[1]["requestBody"]["content"])
                route.openapi_extra = extra
                documented.add((method, context.path))
    missing = FORMS.keys() - documented
    if missing:
        raise LookupError(f"no JSON route for the forms {sorted(missing)}")
    app.router.routes[:0] = [
        FormRoute(method, path, endpoint) for (method, path), (endpoint, _) in FORMS.items()
    ]
    app.include_router(files)


# --- the bytes -----------------------------------------------------------------------------


def _disposition(kind: str, row: Any) -> str:
    # The ASCII name for old clients, the original (UTF-8, percent-encoded) for the rest.
    return f"{kind}; filename=\"{row.filename}\"; filename*=UTF-8''{quote(row.original_name)}"


async def _send(rt: Any, row: Any, key: str, media_type: str, disposition: str) -> Response:
    blob = await rt.media.storage.get(key)
    if blob is None:
        raise NotFound("File")
    headers = {**SAFETY_HEADERS, "Content-Disposition": disposition}
    if blob.path is not None:
        return FileResponse(blob.path, media_type=media_type, headers=headers)
    headers["Content-Length"] = str(blob.size)
    return StreamingResponse(blob.chunks, media_type=media_type, headers=headers)


@files.get("/thumbnails/{media_id}/{token}.jpg")
async def serve_thumbnail(media_id: str, token: str, session: Reader, rt: RuntimeDep) -> Response:
    row = await media_service.access_file(session, path_id(media_id, "File"), token)
    if not row.has_thumbnail:
        raise NotFound("File")
    return await _send(
        rt,
        row,
        media_service.thumbnail_key(row.id),
        "image/jpeg",
        f'inline; filename="{row.id}.jpg"',
    )


@files.get("/{media_id}/{token}/{filename}")
async def serve_file(
    media_id: str, token: str, filename: str, session: Reader, rt: RuntimeDep
) -> Response:
    """Images, audio and video inline with their own type; anything else as an
    octet-stream attachment. Always nosniff and a sandboxing CSP."""
    row = await media_service.access_file(session, path_id(media_id, "File"), token)
    if filename != row.filename:
        raise NotFound("File")
    inline = media_service.is_inline(row)
    return await _send(
        rt,
        row,
        media_service.file_key(row.id),
        media_service.served_type(row),
        _disposition("inline" if inline else "attachment", row),
    )
