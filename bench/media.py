"""Media benchmark: a 5 MB image uploaded end to end (received, sniffed, decoded, sized,
thumbnailed, stored, recorded), one request at a time.

One run starts `gossip serve` as users do (a subprocess on a fresh data directory, SQLite;
with `--s3`, media in a bucket of a moto S3 server started on a loopback port), registers
one user, then POSTs `/api/media/upload` `--rounds` times for each of:

  jpeg   a photo-like 5 MB JPEG (noise, so it does not compress): thumbnailed in draft mode
  png    a 5 MB PNG: a full decode for the thumbnail
  file   5 MB of random bytes: stored as a file, no decoding (the cost of the rest)

and checks each answer (type, size, thumbnail URL). It prints one JSON line on stdout
(progress on stderr) with p50/p90/max per kind and the server's CPU seconds per upload.

    python -m bench.media                 # local storage
    python -m bench.media --s3 --rounds 10
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from bench.messages import (
    HOST,
    BenchError,
    Process,
    cpu_seconds,
    free_port,
    gossip_argv,
    gossip_env,
    log,
)

TARGET_BYTES = 5 * 1000 * 1000


def photo_jpeg(target: int, seed: int) -> bytes:
    """A JPEG of about `target` bytes: noise over a gradient, at quality 92."""
    rng = random.Random(seed)
    side = 1600
    while True:
        noise = Image.frombytes("RGB", (side, side * 3 // 4), rng.randbytes(side * side * 9 // 4))
        out = io.BytesIO()
        noise.save(out, "JPEG", quality=92)
        if out.tell() >= target:
            return out.getvalue()
        side = int(side * (target / out.tell()) ** 0.5) + 16


def noisy_png(target: int, seed: int) -> bytes:
    rng = random.Random(seed)
    side = int((target / 3) ** 0.5) + 1
    image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def percentiles(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p90_ms": at(0.9),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def upload(client: httpx.Client, token: str, name: str, content: bytes) -> tuple[float, Any]:
    started = time.perf_counter()
    response = client.post(
        "/api/media/upload",
        headers={"Authorization": f"Bearer {token}"},
        files={"file": (name, content, "application/octet-stream")},
    )
    took = time.perf_counter() - started
    if response.status_code != 201:
        raise BenchError(f"upload answered {response.status_code}: {response.text[:300]}")
    return took, response.json()["data"]


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    port = free_port()
    env = gossip_env(work / "data", port, None)
    env["GOSSIP_MAX_UPLOAD_BYTES"] = str(32 * 1024 * 1024)
    moto = None
    if args.s3:
        import boto3
        from moto.server import ThreadedMotoServer

        moto_port = free_port()
        moto = ThreadedMotoServer(ip_address=HOST, port=moto_port, verbose=False)
        moto.start()
        endpoint = f"http://{HOST}:{moto_port}"
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        ).create_bucket(Bucket="bench")
        env.update(
            GOSSIP_S3_BUCKET="bench",
            GOSSIP_S3_ENDPOINT_URL=endpoint,
            GOSSIP_S3_REGION="us-east-1",
            GOSSIP_S3_ACCESS_KEY_ID="bench",
            GOSSIP_S3_SECRET_ACCESS_KEY="bench",
        )
    log(f"starting gossip serve on {HOST}:{port} ({'s3 (moto)' if args.s3 else 'local'} media)")
    server = Process("gossip", gossip_argv(), env, port, work)
    try:
        server.wait_ready()
        client = httpx.Client(base_url=f"http://{HOST}:{port}", timeout=120)
        name = f"bench{uuid.uuid4().hex[:8]}"
        registered = client.post(
            "/api/auth/register",
            json={"username": name, "email": f"{name}@example.com", "password": "x" * 12},
        )
        token = registered.json()["data"]["token"]
        samples = {
            "jpeg": ("photo.jpg", photo_jpeg(TARGET_BYTES, 1), "image/jpeg"),
            "png": ("picture.png", noisy_png(TARGET_BYTES, 2), "image/png"),
            "file": ("data.bin", random.Random(3).randbytes(TARGET_BYTES), None),
        }
        results: dict[str, Any] = {}
        for kind, (filename, content, mime) in samples.items():
            upload(client, token, filename, content)  # warm-up
            times = []
            client_before = time.process_time()
            cpu_before = cpu_seconds(server.pid)
            for _ in range(args.rounds):
                took, data = upload(client, token, filename, content)
                if data["size"] != len(content) or (mime and data["mimeType"] != mime):
                    raise BenchError(f"unexpected answer for {kind}: {data}")
                if mime and not data["thumbnailUrl"]:
                    raise BenchError(f"no thumbnail for {kind}")
                times.append(took)
            cpu = (cpu_seconds(server.pid) - cpu_before) / args.rounds
            client_cpu = (time.process_time() - client_before) / args.rounds
            results[kind] = {
                "bytes": len(content),
                "dimensions": None if mime is None else [data["width"], data["height"]],
                **percentiles(times),
                "server_cpu_ms_per_upload": round(cpu * 1000, 1),
                # The client shares the machine: its share of the wall time.
                "client_cpu_ms_per_upload": round(client_cpu * 1000, 1),
            }
            log(f"{kind}: {results[kind]}")
        client.close()
        return {
            "benchmark": "media",
            "storage": "s3 (moto, loopback)" if args.s3 else "local",
            "rounds": args.rounds,
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            **results,
        }
    finally:
        server.stop()
        if moto is not None:
            moto.stop()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="uploads per kind")
    parser.add_argument("--s3", action="store_true", help="media in a moto S3 bucket")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gossip-bench-media-") as tmp:
        try:
            print(json.dumps(run(args, Path(tmp))), flush=True)
        except BenchError as exc:
            log(f"failed: {exc}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
