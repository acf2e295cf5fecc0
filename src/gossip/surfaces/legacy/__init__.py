"""Spec 002's DM chat: its HTTP routes and its Socket.IO server (docs/legacy.md).

Installed only when `GOSSIP_LEGACY_DM=true`; otherwise none of its paths exist.
"""

from __future__ import annotations

from fastapi import FastAPI

from gossip.runtime import Runtime
from gossip.surfaces import errors
from gossip.surfaces.legacy import routes
from gossip.surfaces.legacy.realtime import Realtime
from gossip.surfaces.legacy.render import render_error

PATHS = ("/new", "/update-account", "/create-channel", "/users", "/messages", "/dmchannels")
SOCKET_IO_PATH = "/socket.io"


def install(app: FastAPI, runtime: Runtime) -> Realtime:
    for path in PATHS:
        errors.register_renderer(path, render_error, app=app)
    app.include_router(routes.router)
    realtime = Realtime(runtime)
    runtime.bus.subscribe(realtime.on_event)
    app.mount(SOCKET_IO_PATH, realtime.asgi)
    return realtime
