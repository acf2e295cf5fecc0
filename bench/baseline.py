"""The ceiling: a bare Starlette endpoint served exactly as `gossip serve` serves Gossip.

`POST /api/channels/{channel_id}/messages` reads and parses the same JSON body the real
route gets and answers 201 with a small envelope of the same shape. No auth, no database,
no validation: what is left is uvicorn + Starlette + JSON on this machine, i.e. the most
requests per second any Python endpoint here can be expected to serve.

    python -m bench.baseline --port 8001
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_counter = 0


async def create_message(request: Request) -> Response:
    global _counter
    body = await request.json()
    content = body.get("content") if isinstance(body, dict) else None
    if not isinstance(content, str):
        return Response(b'{"success":false}', status_code=400, media_type="application/json")
    _counter += 1
    payload = {
        "success": True,
        "data": {
            "id": str(_counter),
            "channelId": request.path_params["channel_id"],
            "content": content,
            "timestamp": datetime.now(UTC).isoformat(),
        },
        "message": "Message sent",
        "timestamp": datetime.now(UTC).isoformat(),
    }
    return Response(orjson.dumps(payload), status_code=201, media_type="application/json")


async def health(_: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


app = Starlette(
    routes=[
        Route("/api/channels/{channel_id}/messages", create_message, methods=["POST"]),
        Route("/health", health),
    ]
)


def main() -> None:
    parser = argparse.ArgumentParser(description="bare Starlette baseline for the benchmarks")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    # The same uvicorn options as `gossip serve` (src/gossip/cli.py): one process, the
    # default loop and HTTP parser (uvloop and httptools when installed), no access log.
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=os.environ.get("GOSSIP_LOG_LEVEL", "info").lower(),
        access_log=False,
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
