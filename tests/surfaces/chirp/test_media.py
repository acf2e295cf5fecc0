"""`/api/media`, files on messages, profiles and servers, and `/media/…`, through real HTTP.

The upload attacks of issue 4 are here: an HTML file named .png, an oversized body (413,
memory flat), a decompression-bomb PNG (4xx, the server keeps answering) and a
path-traversal file name.
"""

from __future__ import annotations

import io
import socket
import struct
import time
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from gossip.kit.permissions import Permission
from tests.gateway.client import connect_as
from tests.live import Live, User, error_code
from tests.surfaces.chirp.chat import channel, deny_everyone, grant_role, room

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def image(fmt: str = "PNG", size: tuple[int, int] = (640, 480), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 30, 30) if mode == "RGB" else 0).save(out, fmt)
    return out.getvalue()


def upload(
    live: Live,
    user: User | None,
    content: bytes,
    name: str = "file.bin",
    *,
    channel_id: str | None = None,
    client_type: str = "application/octet-stream",
) -> httpx.Response:
    data = {"channelId": channel_id} if channel_id else None
    return live.post(
        "/api/media/upload", user, files={"file": (name, content, client_type)}, data=data
    )


def uploaded(live: Live, user: User, content: bytes, name: str = "file.bin", **kw: Any) -> Any:
    return live.data(upload(live, user, content, name, **kw), 201)


def fetch(live: Live, url: str) -> httpx.Response:
    """A media URL as a browser would load it: no Authorization header."""
    return live.http.get(urlsplit(url).path)


def stored_files(live: Live) -> list[Path]:
    root = live.settings.data_dir / "media"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def bomb_png(width: int, height: int) -> bytes:
    """A real decompression bomb: a 1-bit image of width x height pixels, all zero, whose
    compressed data is tiny (Pillow would need a byte per pixel to decode it)."""
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", data)
        + png_chunk(b"IEND", b"")
    )


class TestUpload:
    def test_image_is_typed_sized_thumbnailed_and_served(self, live: Live) -> None:
        user = live.register()
        content = image("PNG", (640, 480))
        media = uploaded(live, user, content, "holiday.png")
        assert media["mimeType"] == "image/png"
        assert (media["width"], media["height"]) == (640, 480)
        assert media["size"] == len(content)
        assert media["originalName"] == "holiday.png" and media["filename"] == "holiday.png"
        assert media["uploadedBy"] == user.id and media["channelId"] is None
        assert media["url"].startswith(f"/media/{media['id']}/") and media["url"].endswith(
            "/holiday.png"
        )
        served = fetch(live, media["url"])
        assert served.status_code == 200 and served.content == content
        assert served.headers["content-type"] == "image/png"
        assert served.headers["x-content-type-options"] == "nosniff"
        assert served.headers["content-security-policy"] == "sandbox; default-src 'none'"
        assert served.headers["content-disposition"].startswith("inline;")
        thumb = fetch(live, media["thumbnailUrl"])
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
        assert thumb.headers["x-content-type-options"] == "nosniff"
        with Image.open(io.BytesIO(thumb.content)) as small:
            assert small.format == "JPEG" and small.size == (256, 192)

    @pytest.mark.parametrize(
        ("fmt", "mime", "mode"),
        [("JPEG", "image/jpeg", "RGB"), ("GIF", "image/gif", "P"), ("WEBP", "image/webp", "RGB")],
    )
    def test_allowlisted_formats(self, live: Live, fmt: str, mime: str, mode: str) -> None:
        media = uploaded(live, live.register(), image(fmt, (300, 200), mode), "x")
        assert (media["mimeType"], media["width"], media["height"]) == (mime, 300, 200)
        assert fetch(live, media["thumbnailUrl"]).status_code == 200

    def test_type_comes_from_the_bytes_never_the_name_or_header(self, live: Live) -> None:
        user = live.register()
        media = uploaded(live, user, image(), "setup.exe", client_type="text/html")
        assert media["mimeType"] == "image/png" and media["width"] == 640
        # Other image formats are stored, but not decoded, and never shown inline.
        bmp = uploaded(live, user, image("BMP", (10, 10)), "pic.png", client_type="image/png")
        assert bmp["mimeType"] != "image/png" and bmp["width"] is None
        assert bmp["thumbnailUrl"] is None
        served = fetch(live, bmp["url"])
        assert served.headers["content-type"] == "application/octet-stream"
        assert served.headers["content-disposition"].startswith("attachment;")

    def test_html_named_png_is_never_served_as_an_image_or_inline_html(self, live: Live) -> None:
        html = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
        media = uploaded(live, live.register(), html, "cat.png", client_type="image/png")
        assert media["mimeType"] in ("text/html", "application/octet-stream")
        assert media["thumbnailUrl"] is None and media["width"] is None
        served = fetch(live, media["url"])
        assert served.status_code == 200 and served.content == html
        assert served.headers["content-type"] == "application/octet-stream"
        assert "image/png" not in served.headers["content-type"]
        assert served.headers["content-disposition"].startswith("attachment;")
        assert served.headers["x-content-type-options"] == "nosniff"
        assert served.headers["content-security-policy"] == "sandbox; default-src 'none'"

    def test_path_traversal_name_is_metadata_only(self, live: Live) -> None:
        before = set(stored_files(live))
        media = uploaded(live, live.register(), b"root:x:0:0", "../../etc/passwd")
        assert media["originalName"] == "passwd" and media["filename"] == "passwd"
        assert ".." not in media["url"]
        new = set(stored_files(live)) - before
        # One file, under the media folder, named by the generated ID.
        assert [p.name for p in new] == [media["id"]]
        media_root = (live.settings.data_dir / "media").resolve()
        assert all(p.resolve().is_relative_to(media_root) for p in new)
        assert fetch(live, media["url"]).content == b"root:x:0:0"
        for name in ("..\\..\\boot.ini", "/etc/shadow", "..", "a\x00b\x1b[31m.txt"):
            got = uploaded(live, live.register(), b"x", name)
            assert "/" not in got["originalName"] and "\\" not in got["originalName"]
            assert not any(ord(ch) < 32 for ch in got["originalName"])
            assert got["originalName"] not in ("", ".", "..")

    def test_long_and_unicode_names(self, live: Live) -> None:
        user = live.register()
        long = uploaded(live, user, b"x", "a" * 400 + ".txt")
        assert len(long["originalName"]) == 255 and long["originalName"].endswith(".txt")
        assert len(long["filename"]) <= 255
        unicode = uploaded(live, user, b"x", "résumé 📄.txt")
        assert unicode["originalName"] == "résumé 📄.txt" and unicode["filename"] == "resume.txt"
        served = fetch(live, unicode["url"])
        assert "filename*=UTF-8''r%C3%A9sum%C3%A9" in served.headers["content-disposition"]

    def test_shared_in_a_channel_needs_attach_files(self, live: Live) -> None:
        r = room(live)
        media = uploaded(live, r.member, b"notes", "notes.txt", channel_id=r.channel_id)
        assert media["channelId"] == r.channel_id
        deny_everyone(live, r, Permission.ATTACH_FILES)
        before = stored_files(live)
        response = upload(live, r.member, b"notes", channel_id=r.channel_id)
        assert response.status_code == 403 and error_code(response) == "FORBIDDEN"
        assert stored_files(live) == before  # refused before anything was stored
        stranger = live.register()
        response = upload(live, stranger, b"notes", channel_id=r.channel_id)
        assert response.status_code == 404 and error_code(response) == "NOT_FOUND"
        response = upload(live, r.member, b"notes", channel_id="not-an-id")
        assert response.status_code == 400

    def test_validation(self, live: Live) -> None:
        user = live.register()
        bad: list[dict[str, Any]] = [
            {"json": {"file": "x"}},
            {"files": {"other": ("a.txt", b"x")}},
            {"files": [("file", ("a.txt", b"x")), ("file", ("b.txt", b"y"))]},
            {"files": {"file": ("empty.txt", b"")}},
            {"data": {"channelId": "1"}, "files": {}},
            {"content": b"--x\r\nbroken", "headers": {"Content-Type": "multipart/form-data"}},
            {"files": {"file": ("a.txt", b"x")}, "data": {"channelId": "a\x00"}},
        ]
        for kwargs in bad:
            response = live.post("/api/media/upload", user, **kwargs)
            assert response.status_code == 400, (kwargs, response.text)
            assert error_code(response) == "VALIDATION_ERROR"
        assert upload(live, None, b"x").status_code == 401

    def test_broken_image_is_refused(self, live: Live) -> None:
        truncated = image("PNG", (300, 300))[:200]
        response = upload(live, live.register(), truncated, "broken.png")
        assert response.status_code == 400 and error_code(response) == "VALIDATION_ERROR"
        assert response.json()["error"]["details"][0]["field"] == "file"


class TestUploadLimits:
    def test_declared_oversized_body_is_413_before_it_is_read(self, live: Live) -> None:
        user = live.register()
        cap = live.settings.max_upload_bytes
        status, took = raw_upload(live, user, declared=cap * 4, send=64 * 1024)
        assert status == 413 and took < 5
        assert live.get("/api/users/me", user).status_code == 200

    def test_streamed_oversized_body_is_413_and_memory_stays_flat(self, live: Live) -> None:
        """A chunked body (no Content-Length) four times the cap: refused once the cap
        is passed, while the server's peak RSS grows by far less than what it read."""
        user = live.register()
        cap = live.settings.max_upload_bytes
        reset_peak_rss()
        before = peak_rss()
        status, _ = raw_upload(live, user, declared=None, send=cap * 4)
        grown = peak_rss() - before
        assert status == 413
        assert grown < cap // 3, f"peak RSS grew by {grown / 2**20:.1f} MiB"
        assert live.get("/api/users/me", user).status_code == 200

    def test_json_bodies_keep_the_small_cap(self, live: Live) -> None:
        user = live.register()
        big = "x" * (live.settings.max_body_bytes + 10)
        response = live.patch("/api/users/me", user, json={"bio": big})
        assert response.status_code == 413

    def test_decompression_bomb_is_refused_and_the_server_keeps_answering(self, live: Live) -> None:
        user = live.register()
        bomb = bomb_png(30_000, 30_000)  # 900 megapixels in a few hundred KB
        assert len(bomb) < 2 * 1024 * 1024
        started = time.monotonic()
        response = upload(live, user, bomb, "bomb.png")
        assert 400 <= response.status_code < 500, response.text
        assert error_code(response) == "VALIDATION_ERROR"
        assert "too large" in response.json()["error"]["message"]
        assert time.monotonic() - started < 10
        assert live.get("/api/users/me", user).status_code == 200
        # Over the configured cap but under Pillow's hard error: still refused, unread.
        response = upload(live, user, bomb_png(9_000, 9_000), "bomb.png")
        assert response.status_code == 400
        assert uploaded(live, user, image(), "fine.png")["width"] == 640


def reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def peak_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def raw_upload(live: Live, user: User, *, declared: int | None, send: int) -> tuple[int, float]:
    """POSTs a multipart upload over a raw socket: with `declared` as its Content-Length
    (or chunked if None), sending up to `send` bytes from one reused buffer (so the client
    holds no copy), reading the answer as soon as it comes. The status and seconds taken."""
    host, port = urlsplit(live.url).hostname, urlsplit(live.url).port
    boundary = "gossipboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    headers = [
        "POST /api/media/upload HTTP/1.1",
        f"Host: {host}:{port}",
        f"Authorization: Bearer {user.token}",
        f"Content-Type: multipart/form-data; boundary={boundary}",
        "Content-Length: " + str(declared)
        if declared is not None
        else "Transfer-Encoding: chunked",
    ]
    block = b"\xab" * (256 * 1024)
    started = time.monotonic()
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(("\r\n".join(headers) + "\r\n\r\n").encode())
        answer = b""
        sent = 0

        def frame(data: bytes) -> bytes:
            return data if declared is not None else b"%x\r\n%s\r\n" % (len(data), data)

        try:
            sock.sendall(frame(head))
            while sent < send and not answer:
                sock.sendall(frame(block))
                sent += len(block)
                sock.setblocking(False)
                try:
                    answer = sock.recv(65536)
                except BlockingIOError:
                    pass
                finally:
                    sock.setblocking(True)
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.settimeout(30)
        while b"\r\n" not in answer:
            more = sock.recv(65536)
            if not more:
                break
            answer += more
    status_line = answer.split(b"\r\n", 1)[0]
    return int(status_line.split()[1]), time.monotonic() - started


class TestGetMedia:
    def test_uploader_and_channel_viewers_see_it_others_do_not(self, live: Live) -> None:
        r = room(live)
        stranger = live.register()
        private = uploaded(live, r.member, b"mine", "mine.txt")
        shared = uploaded(live, r.member, b"ours", "ours.txt", channel_id=r.channel_id)
        assert live.data(live.get(f"/api/media/{private['id']}", r.member)) == private
        assert live.data(live.get(f"/api/media/{shared['id']}", r.owner)) == shared
        for who, media in ((r.owner, private), (stranger, private), (stranger, shared)):
            response = live.get(f"/api/media/{media['id']}", who)
            assert response.status_code == 404 and error_code(response) == "NOT_FOUND"
        deny_everyone(live, r, Permission.VIEW_CHANNEL)
        assert live.get(f"/api/media/{shared['id']}", r.member).status_code == 200  # uploader
        assert live.get(f"/api/media/{shared['id']}", r.owner).status_code == 200  # owner sees
        other = live.register()
        live.join(other, r.server_id, r.owner)
        assert live.get(f"/api/media/{shared['id']}", other).status_code == 404

    def test_not_found_and_unauthenticated(self, live: Live) -> None:
        user = live.register()
        for media_id in ("abc", "0", "123", "99999999999999999999"):
            assert live.get(f"/api/media/{media_id}", user).status_code == 404
        media = uploaded(live, user, b"x")
        assert live.get(f"/api/media/{media['id']}").status_code == 401

    def test_urls_need_the_token_and_the_name(self, live: Live) -> None:
        media = uploaded(live, live.register(), image(), "a.png")
        _, _, media_id, token, name = urlsplit(media["url"]).path.split("/")
        assert fetch(live, f"/media/{media_id}/{token}/{name}").status_code == 200
        for path in (
            f"/media/{media_id}/{'A' * len(token)}/{name}",
            f"/media/{media_id}/{token}/other.png",
            f"/media/{int(media_id) + 1}/{token}/{name}",
            f"/media/{media_id}/{token}/..%2F..%2Fetc%2Fpasswd",
            f"/media/thumbnails/{media_id}/{'A' * len(token)}.jpg",
            "/media/x/y/z",
        ):
            assert fetch(live, path).status_code == 404, path


class TestDeleteMedia:
    def test_uploader_deletes_and_the_bytes_go(self, live: Live) -> None:
        user = live.register()
        media = uploaded(live, user, image(), "a.png")
        before = len(stored_files(live))
        live.data(live.delete(f"/api/media/{media['id']}", user))
        assert live.get(f"/api/media/{media['id']}", user).status_code == 404
        assert fetch(live, media["url"]).status_code == 404
        assert fetch(live, media["thumbnailUrl"]).status_code == 404
        deadline = time.monotonic() + 5  # removed right after the response
        while len(stored_files(live)) != before - 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(stored_files(live)) == before - 2
        assert live.delete(f"/api/media/{media['id']}", user).status_code == 404

    def test_others_need_manage_messages_in_its_channel(self, live: Live) -> None:
        r = room(live)
        moderator = live.register()
        live.join(moderator, r.server_id, r.owner)
        media = uploaded(live, r.owner, b"x", channel_id=r.channel_id)
        response = live.delete(f"/api/media/{media['id']}", r.member)
        assert response.status_code == 403 and error_code(response) == "FORBIDDEN"
        stranger = live.register()
        assert live.delete(f"/api/media/{media['id']}", stranger).status_code == 404
        grant_role(live, r, moderator, Permission.MANAGE_MESSAGES)
        live.data(live.delete(f"/api/media/{media['id']}", moderator))
        private = uploaded(live, r.member, b"x")
        assert live.delete(f"/api/media/{private['id']}", r.owner).status_code == 404

    def test_an_attachment_leaves_its_message(self, live: Live) -> None:
        r = room(live)
        sent = send_files(live, r.member, r.channel_id, "two", [("a.txt", b"a"), ("b.txt", b"b")])
        first, second = sent["attachments"]
        client = connect_as(live, r.owner)
        live.data(live.delete(f"/api/media/{first['id']}", r.member))
        event = client.wait_for("MESSAGE_UPDATE", id=sent["id"])
        assert event["data"]["attachments"] == [second]
        client.close()
        got = live.data(live.get(f"/api/channels/{r.channel_id}/messages/{sent['id']}", r.owner))
        assert got["attachments"] == [second] and got["content"] == "two"


def send_files(
    live: Live,
    user: User,
    channel_id: str,
    content: str | None,
    items: list[tuple[str, bytes]],
    *,
    field: str = "file{}",
) -> Any:
    files = [(field.format(i + 1), item) for i, item in enumerate(items)]
    data = {"content": content} if content is not None else None
    path = f"/api/channels/{channel_id}/messages"
    return live.data(live.post(path, user, data=data, files=files), 201)


class TestMessageWithFiles:
    def test_attachments_in_the_answer_the_list_the_message_and_the_gateway(
        self, live: Live
    ) -> None:
        r = room(live)
        client = connect_as(live, r.owner)
        png = image("PNG", (1920, 1080))
        sent = send_files(
            live, r.member, r.channel_id, "look", [("screen.png", png), ("notes.txt", b"hi")]
        )
        assert sent["content"] == "look"
        shot, notes = sent["attachments"]
        assert set(shot) == {
            "id",
            "filename",
            "size",
            "url",
            "proxyUrl",
            "width",
            "height",
            "contentType",
        }
        assert shot["filename"] == "screen.png" and shot["size"] == len(png)
        assert (shot["width"], shot["height"], shot["contentType"]) == (1920, 1080, "image/png")
        assert (notes["width"], notes["height"], notes["contentType"]) == (None, None, "text/plain")
        assert fetch(live, shot["url"]).content == png
        assert fetch(live, shot["proxyUrl"]).status_code == 200
        listed = live.data(live.get(f"/api/channels/{r.channel_id}/messages", r.owner))
        assert listed[0]["attachments"] == sent["attachments"]
        got = live.data(live.get(f"/api/channels/{r.channel_id}/messages/{sent['id']}", r.owner))
        assert got == sent
        event = client.wait_for("MESSAGE_CREATE", id=sent["id"])
        assert event["data"]["attachments"] == sent["attachments"]
        client.close()
        media = live.data(live.get(f"/api/media/{shot['id']}", r.owner))
        assert media["messageId"] == sent["id"] and media["channelId"] == r.channel_id

    def test_files_alone_and_the_files_field(self, live: Live) -> None:
        r = room(live)
        sent = send_files(live, r.member, r.channel_id, None, [("a.txt", b"a")], field="files")
        assert sent["content"] == "" and len(sent["attachments"]) == 1
        ten = send_files(live, r.member, r.channel_id, "", [(f"{i}.txt", b"x") for i in range(10)])
        assert [a["filename"] for a in ten["attachments"]] == [f"{i}.txt" for i in range(10)]

    def test_needs_attach_files_and_stores_nothing_when_refused(self, live: Live) -> None:
        r = room(live)
        deny_everyone(live, r, Permission.ATTACH_FILES)
        before = stored_files(live)
        path = f"/api/channels/{r.channel_id}/messages"
        response = live.post(path, r.member, data={"content": "x"}, files={"file1": ("a", b"a")})
        assert response.status_code == 403 and error_code(response) == "FORBIDDEN"
        assert stored_files(live) == before
        # Without files the form is an ordinary message.
        form = {"content": (None, "words only")}  # a form with no file part
        assert live.data(live.post(path, r.member, files=form), 201)["attachments"] == []

    def test_a_failed_send_leaves_no_files(self, live: Live) -> None:
        r = room(live)
        voice = channel(live, r.owner, r.server_id, name="talk", type=2)
        before = stored_files(live)
        path = f"/api/channels/{voice['id']}/messages"
        response = live.post(path, r.owner, data={"content": "x"}, files={"file1": ("a", b"a")})
        assert response.status_code == 400
        deadline = time.monotonic() + 5
        while stored_files(live) != before and time.monotonic() < deadline:
            time.sleep(0.02)
        assert stored_files(live) == before

    def test_validation(self, live: Live) -> None:
        r = room(live)
        path = f"/api/channels/{r.channel_id}/messages"
        eleven = [(f"file{i}", ("a.txt", b"a")) for i in range(1, 11)] + [("files", ("b", b"b"))]
        for kwargs in (
            {"files": eleven},
            {"files": {"avatar": ("a.txt", b"a")}},
            {"data": {"content": "x" * 2001}, "files": {"file1": ("a", b"a")}},
            {"data": {"tts": "maybe"}, "files": {"file1": ("a", b"a")}},
            {"files": {"content": (None, "   ")}},
            {"data": {"content": "x\x00"}, "files": {"file1": ("a", b"a")}},
        ):
            response = live.post(path, r.member, **kwargs)
            assert response.status_code == 400, (kwargs, response.text)
        assert live.post(path, data={"content": "x"}, files={"f": ("a", b"a")}).status_code == 401
        stranger = live.register()
        response = live.post(path, stranger, data={"content": "x"}, files={"file1": ("a", b"a")})
        assert response.status_code == 404

    def test_json_still_works(self, live: Live) -> None:
        r = room(live)
        path = f"/api/channels/{r.channel_id}/messages"
        assert (
            live.data(live.post(path, r.member, json={"content": "hi"}), 201)["attachments"] == []
        )


class TestProfileAndServerImages:
    def test_avatar_upload_changes_the_avatar_url(self, live: Live) -> None:
        user = live.register()
        png = image("PNG", (128, 128))
        me = live.data(live.patch("/api/users/me", user, files={"avatar": ("me.png", png)}))
        assert me["avatar"] and me["avatar"].endswith("/avatar.png")
        assert live.data(live.get("/api/users/me", user))["avatar"] == me["avatar"]
        served = fetch(live, me["avatar"])
        assert served.status_code == 200 and served.content == png
        # Text fields ride along; a banner too.
        both = live.patch(
            "/api/users/me",
            user,
            data={"bio": "hello"},
            files={"banner": ("b.jpg", image("JPEG", (600, 200)))},
        )
        data = live.data(both)
        assert data["bio"] == "hello" and data["banner"].endswith("/banner.jpg")
        assert data["avatar"] == me["avatar"]
        # The JSON forms keep working: a URL, or "" to clear.
        cleared = live.data(live.patch("/api/users/me", user, json={"avatar": ""}))
        assert cleared["avatar"] is None

    def test_avatar_must_be_an_allowed_image(self, live: Live) -> None:
        user = live.register()
        for name, content in (
            ("a.png", b"<html></html>"),
            ("a.bmp", image("BMP", (8, 8))),
            ("a.png", bomb_png(30_000, 30_000)),
        ):
            response = live.patch("/api/users/me", user, files={"avatar": (name, content)})
            assert response.status_code == 400, response.text
            assert response.json()["error"]["details"][0]["field"] == "avatar"
        response = live.patch("/api/users/me", user, files={"username": (None, "x")})
        assert response.status_code == 400
        assert live.data(live.get("/api/users/me", user))["avatar"] is None

    def test_server_icon_on_create_and_icon_and_banner_on_update(self, live: Live) -> None:
        r = room(live)
        made = live.post(
            "/api/servers", r.owner, data={"name": "Pictures"}, files={"icon": ("i.png", image())}
        )
        server = live.data(made, 201)
        assert server["name"] == "Pictures" and server["icon"].endswith("/icon.png")
        assert fetch(live, server["icon"]).status_code == 200
        path = f"/api/servers/{r.server_id}"
        updated = live.patch(
            path,
            r.owner,
            data={"description": "ours"},
            files={"icon": ("i.gif", image("GIF", (64, 64), "P")), "banner": ("b", image())},
        )
        data = live.data(updated)
        assert data["icon"].endswith("/icon.gif") and data["banner"].endswith("/banner.png")
        assert data["description"] == "ours"
        assert live.data(live.get(path, r.member))["icon"] == data["icon"]
        before = stored_files(live)
        response = live.patch(path, r.member, files={"icon": ("i.png", image())})
        assert response.status_code == 403
        assert stored_files(live) == before
        assert live.patch(path, live.register(), files={"icon": ("i", image())}).status_code == 404
        response = live.post("/api/servers", r.owner, files={"icon": ("i", image())})
        assert response.status_code == 400
