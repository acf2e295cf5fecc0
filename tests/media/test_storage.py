"""Media storage: the data directory, and an S3 bucket on moto's S3-compatible server.

moto runs in server mode on a loopback port, started here: the S3 backend talks to it over
real HTTP with boto3, exactly as it would to MinIO or AWS.
"""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from PIL import Image

from gossip.media.storage import Blob, LocalStorage, S3Storage, Storage, check_key
from tests.live import live_server
from tests.process import free_port

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REGION = "us-east-1"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def new_bucket(endpoint: str) -> tuple[str, Any]:
    client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)
    name = f"gossip-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return name, client


def s3_storage(endpoint: str, bucket: str) -> S3Storage:
    return S3Storage(
        bucket,
        endpoint_url=endpoint,
        region=REGION,
        access_key_id=CREDENTIALS["aws_access_key_id"],
        secret_access_key=CREDENTIALS["aws_secret_access_key"],
    )


async def read(blob: Blob) -> bytes:
    if blob.path is not None:
        return blob.path.read_bytes()
    assert blob.chunks is not None
    return b"".join([chunk async for chunk in blob.chunks])


async def round_trip(storage: Storage) -> None:
    big = bytes(range(256)) * 40_000  # 10 MB: several parts, and several read chunks
    await storage.put("files/1", io.BytesIO(big), "application/octet-stream")
    await storage.put_bytes("thumbnails/1.jpg", b"jpeg", "image/jpeg")
    blob = await storage.get("files/1")
    assert blob is not None and blob.size == len(big)
    assert await read(blob) == big
    thumb = await storage.get("thumbnails/1.jpg")
    assert thumb is not None and await read(thumb) == b"jpeg"
    assert await storage.get("files/2") is None
    await storage.delete(["files/1", "thumbnails/1.jpg", "files/3"])  # 3: never stored
    assert await storage.get("files/1") is None
    assert await storage.get("thumbnails/1.jpg") is None
    await storage.close()


class TestLocalStorage:
    def test_round_trip(self, tmp_path: Path) -> None:
        asyncio.run(round_trip(LocalStorage(tmp_path)))
        leftovers = [p for p in tmp_path.rglob("*") if p.is_file()]
        assert leftovers == []  # no temporary files either

    def test_files_stay_under_the_root(self, tmp_path: Path) -> None:
        storage = LocalStorage(tmp_path / "media")
        path = storage.path_of("files/123")
        assert path.is_relative_to(tmp_path / "media") and path.name == "123"


class TestKeys:
    @pytest.mark.parametrize(
        "key",
        ["../etc/passwd", "files/../../x", "files/1/2", "files/abc", "other/1", "/files/1", ""],
    )
    def test_only_generated_keys(self, key: str) -> None:
        with pytest.raises(ValueError):
            check_key(key)
        with pytest.raises(ValueError):
            LocalStorage(Path("/tmp/x")).path_of(key)


class TestS3Storage:
    def test_round_trip(self, s3_endpoint: str) -> None:
        bucket, client = new_bucket(s3_endpoint)
        asyncio.run(round_trip(s3_storage(s3_endpoint, bucket)))
        assert client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0

    def test_content_type_is_stored(self, s3_endpoint: str) -> None:
        bucket, client = new_bucket(s3_endpoint)
        storage = s3_storage(s3_endpoint, bucket)
        asyncio.run(storage.put_bytes("files/7", b"\x89PNG", "image/png"))
        head = client.head_object(Bucket=bucket, Key="files/7")
        assert head["ContentType"] == "image/png"

    def test_a_missing_bucket_is_an_error_not_a_missing_file(self, s3_endpoint: str) -> None:
        storage = s3_storage(s3_endpoint, "no-such-bucket")
        with pytest.raises(Exception, match="NoSuchBucket"):
            asyncio.run(storage.get("files/1"))


class TestServerOnS3:
    def test_uploads_messages_and_deletes_go_through_the_bucket(
        self, backend: str, tmp_path: Path, s3_endpoint: str
    ) -> None:
        bucket, client = new_bucket(s3_endpoint)
        settings = {
            "s3_bucket": bucket,
            "s3_endpoint_url": s3_endpoint,
            "s3_region": REGION,
            "s3_access_key_id": CREDENTIALS["aws_access_key_id"],
            "s3_secret_access_key": CREDENTIALS["aws_secret_access_key"],
        }
        png = io.BytesIO()
        Image.new("RGB", (400, 300), (1, 2, 3)).save(png, "PNG")
        with live_server(backend, tmp_path, **settings) as live:
            user = live.register()
            response = live.post(
                "/api/media/upload", user, files={"file": ("p.png", png.getvalue())}
            )
            media = live.data(response, 201)
            keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]}
            assert keys == {f"files/{media['id']}", f"thumbnails/{media['id']}.jpg"}
            served = live.http.get(urlsplit(media["url"]).path)
            assert served.content == png.getvalue()
            assert served.headers["content-type"] == "image/png"
            assert served.headers["x-content-type-options"] == "nosniff"
            thumb = live.http.get(urlsplit(media["thumbnailUrl"]).path)
            assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
            # Nothing under the data directory: the bucket is the only copy.
            assert not (tmp_path / "media").exists()
            live.data(live.delete(f"/api/media/{media['id']}", user))
            for _ in range(100):
                if client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0:
                    break
                time.sleep(0.02)
            assert client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
            assert live.http.get(urlsplit(media["url"]).path).status_code == 404
