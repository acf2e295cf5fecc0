"""What an uploaded file is, decided from its bytes alone.

The client's content type and file name are never believed: the type comes from magic
numbers (puremagic), images are decoded only from an allowlist of formats, with Pillow's
decompression-bomb guard, and only those images, audio and video are ever served inline.
Everything here is synchronous and CPU-bound: the service runs it in a worker thread.
"""

from __future__ import annotations

import io
import re
import struct
import unicodedata
import warnings
from dataclasses import dataclass
from typing import BinaryIO

import puremagic
from PIL import Image, ImageFile, ImageOps

from gossip.kit.errors import ValidationFailed

# Allowlisted image formats: sniffed type -> the one Pillow decoder allowed to open it.
IMAGE_FORMATS = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
}
# Served inline (with their own type); anything else is served as an octet-stream
# attachment, whatever it is.
INLINE_TYPES = frozenset(
    {
        *IMAGE_FORMATS,
        "video/mp4",
        "video/webm",
        "video/quicktime",
        "video/ogg",
        "audio/mpeg",
        "audio/ogg",
        "audio/wav",
        "audio/webm",
        "audio/flac",
        "audio/mp4",
        "audio/aac",
    }
)
# puremagic's names for some of the above.
ALIASES = {
    "audio/wave": "audio/wav",
    "audio/x-wav": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/x-flac": "audio/flac",
    "audio/mp3": "audio/mpeg",
    "audio/x-m4a": "audio/mp4",
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
}
OCTET_STREAM = "application/octet-stream"
HEAD_BYTES = 64 * 1024
THUMBNAIL_SIDE = 256
THUMBNAIL_QUALITY = 80
MAX_NAME = 255

# Unset, Pillow decodes a truncated file as far as it goes; a broken image is refused.
ImageFile.LOAD_TRUNCATED_IMAGES = False
# Pillow only warns between 1x and 2x MAX_IMAGE_PIXELS (and raises beyond): make it raise
# throughout. Process-wide, for this one category, which only Pillow uses.
warnings.simplefilter("error", Image.DecompressionBombWarning)


@dataclass(frozen=True, slots=True)
class Probe:
    mime_type: str
    width: int | None = None
    height: int | None = None
    thumbnail: bytes | None = None  # JPEG

    @property
    def inline(self) -> bool:
        return self.mime_type in INLINE_TYPES


def sniff(head: bytes) -> str:
    """The type the bytes say they are: magic numbers, then "UTF-8 text", then unknown."""
    if not head:
        return OCTET_STREAM
    try:
        matches = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        matches = []
    for match in matches:
        if match.mime_type:
            mime = match.mime_type.lower()
            return ALIASES.get(mime, mime)
    if b"\x00" not in head:
        try:
            # The head may end inside a character: drop at most 3 trailing bytes.
            for cut in range(4):
                head[: len(head) - cut].decode("utf-8")
                return "text/plain"
        except UnicodeDecodeError:
            pass
    return OCTET_STREAM


def probe(file: BinaryIO, *, max_pixels: int, image_required: bool = False) -> Probe:
    """Type, dimensions and thumbnail of the file; ValidationFailed (400) for an image that
    is not allowed, not decodable or too large, or for a non-image where one is required."""
    file.seek(0)
    head = file.read(HEAD_BYTES)
    file.seek(0)
    mime = sniff(head)
    if mime in IMAGE_FORMATS:
        return _image(file, IMAGE_FORMATS[mime], mime, max_pixels)
    if image_required:
        raise ValidationFailed.field("file", "must be a PNG, JPEG, GIF or WebP image")
    if mime in ("video/mp4", "video/quicktime", "audio/mp4"):
        size = mp4_dimensions(file)
        file.seek(0)
        if size is not None:
            return Probe(mime, size[0], size[1])
    return Probe(mime)


def _image(file: BinaryIO, fmt: str, mime: str, max_pixels: int) -> Probe:
    bad = ValidationFailed.field("file", "is not a valid image")
    # Process-wide, like Pillow's own default; every process sets the same value.
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        # formats=[…]: only the decoder the bytes named may run, whatever else they hold.
        with Image.open(file, formats=[fmt]) as image:
            width, height = image.size
            # The guard above compares against the same limit; this holds even if another
            # library reset the warning filter.
            if width * height > max_pixels:
                raise too_large(width, height, max_pixels)
            if _orientation(image) in (5, 6, 7, 8):
                width, height = height, width
            thumbnail = _thumbnail(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValidationFailed.field("file", f"image is too large: {exc}") from None
    except ValidationFailed:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError):
        raise bad from None
    finally:
        file.seek(0)
    return Probe(mime, width, height, thumbnail)


def too_large(width: int, height: int, max_pixels: int) -> ValidationFailed:
    return ValidationFailed.field(
        "file", f"image is too large: {width}x{height} pixels (at most {max_pixels})"
    )


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(0x0112, 1))
    except Exception:  # a broken EXIF block must not refuse the image itself
        return 1


def _thumbnail(image: Image.Image) -> bytes:
    """At most 256 pixels a side, JPEG. A JPEG is decoded at a reduced scale (draft), so a
    large photo costs a fraction of a full decode."""
    image.draft("RGB", (THUMBNAIL_SIDE * 2, THUMBNAIL_SIDE * 2))
    image.seek(0)  # an animation's first frame
    frame = ImageOps.exif_transpose(image) or image
    frame.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    if frame.mode in ("RGBA", "LA", "P", "PA"):
        rgba = frame.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        frame = flat
    elif frame.mode != "RGB":
        frame = frame.convert("RGB")
    out = io.BytesIO()
    frame.save(out, "JPEG", quality=THUMBNAIL_QUALITY, optimize=False)
    return out.getvalue()


def mp4_dimensions(file: BinaryIO, *, max_moov: int = 16 * 1024 * 1024) -> tuple[int, int] | None:
    """Width and height of the first visual track of an MP4/QuickTime file, read from its
    track header ('moov' > 'trak' > 'tkhd'); None when not cheaply found."""
    file.seek(0, io.SEEK_END)
    end = file.tell()
    offset = 0
    while offset + 8 <= end:
        file.seek(offset)
        size, kind = struct.unpack(">I4s", file.read(8))
        header = 8
        if size == 1:
            size = struct.unpack(">Q", file.read(8))[0]
            header = 16
        elif size == 0:
            size = end - offset
        if size < header:
            return None
        if kind == b"moov":
            if size > max_moov:
                return None
            return _track_size(file.read(size - header))
        offset += size
    return None


def _track_size(data: bytes) -> tuple[int, int] | None:
    for kind, body in _boxes(data):
        if kind == b"trak":
            for inner, payload in _boxes(body):
                if inner == b"tkhd" and payload:
                    # version 1 has 64-bit times: width/height sit 12 bytes further on.
                    at = 76 if payload[0] == 0 else 88
                    if len(payload) >= at + 8:
                        width, height = struct.unpack(">II", payload[at : at + 8])
                        if width >> 16 and height >> 16:
                            return width >> 16, height >> 16
    return None


def _boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    out = []
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        header = 8
        if size == 1 and offset + 16 <= len(data):
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
            header = 16
        elif size == 0:
            size = len(data) - offset
        if size < header or offset + size > len(data):
            break
        out.append((kind, data[offset + header : offset + size]))
        offset += size
    return out


# --- names -------------------------------------------------------------------------------

URL_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def original_name(raw: str | None) -> str:
    """The client's file name as metadata: its last path component, NFC, no control or
    format characters, trimmed, at most 255 characters (the extension kept). "file" when
    nothing is left."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C"))
    name = name.strip().strip(".").strip()
    if not name:
        return "file"
    return _truncate(name, MAX_NAME)


def url_name(original: str) -> str:
    """The name in the file's URL: ASCII letters, digits, '.', '_' and '-' only, so it
    needs no escaping in a URL or a header; "file" stands in for a stem with none left."""
    stem, dot, ext = original.rpartition(".")
    if not dot:
        stem, ext = original, ""

    def clean(part: str) -> str:
        ascii_part = unicodedata.normalize("NFKD", part).encode("ascii", "ignore").decode()
        return URL_UNSAFE.sub("_", ascii_part).strip("_.")

    stem, ext = clean(stem) or "file", clean(ext)[:16]
    return _truncate(f"{stem}.{ext}" if ext else stem, MAX_NAME)


def _truncate(name: str, limit: int) -> str:
    if len(name) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    if dot and stem and len(ext) <= 16:
        return f"{stem[: limit - len(ext) - 1]}.{ext}"
    return name[:limit]
