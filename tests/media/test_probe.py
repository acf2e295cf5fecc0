"""What a file is, from its bytes: sniffing, image checks, video sizes and names."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image

from gossip.kit.errors import ValidationFailed
from gossip.media.probe import mp4_dimensions, original_name, probe, sniff, url_name


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def tkhd(width: int, height: int, version: int = 0) -> bytes:
    times = b"\x00" * (8 if version == 0 else 16)  # creation, modification
    middle = b"\x00" * 4 + b"\x00" * 4 + (b"\x00" * (4 if version == 0 else 8))
    rest = b"\x00" * 8 + b"\x00" * 8 + b"\x00" * 36  # reserved, layer…volume, matrix
    body = bytes([version, 0, 0, 7]) + times + middle + rest
    return box(b"tkhd", body + struct.pack(">II", width << 16, height << 16))


def mp4(*tracks: bytes, moov_last: bool = True) -> bytes:
    ftyp = box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41")
    moov = box(b"moov", box(b"mvhd", b"\x00" * 100) + b"".join(box(b"trak", t) for t in tracks))
    mdat = box(b"mdat", b"\x00" * 5000)
    return ftyp + (mdat + moov if moov_last else moov + mdat)


class TestSniff:
    @pytest.mark.parametrize(
        ("head", "mime"),
        [
            (b"\x89PNG\r\n\x1a\n" + b"\x00" * 30, "image/png"),
            (b"%PDF-1.7\n", "application/pdf"),
            (b"<!DOCTYPE html><html><script></script></html>", "text/html"),
            (b"just some words", "text/plain"),
            (b"\x00\x01\x02\x03\xff\xfe", "application/octet-stream"),
            (b"", "application/octet-stream"),
        ],
    )
    def test_types(self, head: bytes, mime: str) -> None:
        assert sniff(head) == mime

    def test_mp4_is_video(self) -> None:
        assert sniff(mp4(tkhd(1280, 720))) == "video/mp4"


class TestProbe:
    def test_png_sized_and_thumbnailed(self) -> None:
        out = io.BytesIO()
        Image.new("RGBA", (1000, 500), (0, 0, 0, 0)).save(out, "PNG")
        probed = probe(out, max_pixels=10**8)
        assert (probed.mime_type, probed.width, probed.height) == ("image/png", 1000, 500)
        assert probed.thumbnail is not None
        with Image.open(io.BytesIO(probed.thumbnail)) as thumb:
            assert thumb.size == (256, 128)
            assert thumb.getpixel((5, 5)) == (255, 255, 255)  # transparency on white

    def test_exif_rotated_jpeg_reports_what_viewers_see(self) -> None:
        image = Image.new("RGB", (400, 100))
        exif = image.getexif()
        exif[0x0112] = 6  # rotate 90°
        out = io.BytesIO()
        image.save(out, "JPEG", exif=exif)
        probed = probe(out, max_pixels=10**8)
        assert (probed.width, probed.height) == (100, 400)

    def test_pixel_cap(self) -> None:
        out = io.BytesIO()
        Image.new("L", (200, 200)).save(out, "PNG")
        with pytest.raises(ValidationFailed, match="too large"):
            probe(out, max_pixels=200 * 200 - 1)

    def test_image_required(self) -> None:
        with pytest.raises(ValidationFailed):
            probe(io.BytesIO(b"hello"), max_pixels=10**8, image_required=True)

    def test_video_dimensions(self) -> None:
        video = mp4(box(b"mdia", b""), tkhd(0, 0), tkhd(1920, 1080))
        probed = probe(io.BytesIO(video), max_pixels=10**8)
        assert (probed.mime_type, probed.width, probed.height) == ("video/mp4", 1920, 1080)

    def test_mp4_box_walk(self) -> None:
        assert mp4_dimensions(io.BytesIO(mp4(tkhd(640, 360), moov_last=False))) == (640, 360)
        assert mp4_dimensions(io.BytesIO(mp4(tkhd(854, 480, version=1)))) == (854, 480)
        assert mp4_dimensions(io.BytesIO(mp4())) is None
        assert mp4_dimensions(io.BytesIO(b"\x00\x00\x00\x04ftyp")) is None  # a broken size


class TestNames:
    @pytest.mark.parametrize(
        ("raw", "original", "url"),
        [
            ("../../etc/passwd", "passwd", "passwd"),
            ("C:\\Users\\me\\evil.png", "evil.png", "evil.png"),
            ("my document (1).PNG", "my document (1).PNG", "my_document_1.PNG"),
            ("画像.png", "画像.png", "file.png"),
            ("..", "file", "file"),
            (".htaccess", "htaccess", "htaccess"),
            ("a\x00b\x1b[0m\u202e.txt", "ab[0m.txt", "ab_0m.txt"),
            (None, "file", "file"),
        ],
    )
    def test_sanitised(self, raw: str | None, original: str, url: str) -> None:
        assert original_name(raw) == original
        assert url_name(original_name(raw)) == url

    def test_at_most_255_keeping_the_extension(self) -> None:
        name = original_name("x" * 1000 + ".jpeg")
        assert len(name) == 255 and name.endswith(".jpeg")
        assert len(url_name(name)) == 255
