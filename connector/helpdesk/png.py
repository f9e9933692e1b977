"""Just enough PNG for app packages: write a small RGBA picture drawn by a function, and tell
why some bytes are not a valid square PNG (no imaging library needed)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable


def png(size: int, pixel: Callable[[float, float], tuple[int, int, int, int]]) -> bytes:
    """A square RGBA PNG (8 bits a channel) drawn by `pixel(x, y)` over 0..1 coordinates."""
    rows = bytearray()
    for y in range(size):
        rows.append(0)  # filter: none
        for x in range(size):
            rows.extend(pixel((x + 0.5) / size, (y + 0.5) / size))
    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + _chunk(b"IEND", b""))


def png_problem(data: bytes | None, size: int) -> str | None:
    """Why these bytes are not a valid size×size PNG (None: they are): signature, chunk CRCs,
    header, and image data of the right length."""
    if data is None:
        return "missing"
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "not a PNG file"
    chunks: dict[bytes, bytes] = {}
    at = 8
    while at + 12 <= len(data):
        length, tag = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length:at + 12 + length] or b"\0\0\0\0")
        if len(body) != length or zlib.crc32(tag + body) & 0xFFFFFFFF != crc:
            return f"a damaged {tag.decode(errors='replace')} chunk"
        chunks[tag] = chunks.get(tag, b"") + body
        at += 12 + length
    if b"IHDR" not in chunks or b"IEND" not in chunks or b"IDAT" not in chunks:
        return "an incomplete PNG file"
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    if (width, height) != (size, size):
        return f"must be {size}x{size} pixels, is {width}x{height}"
    channels = {2: 3, 6: 4}.get(colour)
    if depth != 8 or channels is None:
        return "must be an 8-bit RGB or RGBA PNG"
    try:
        pixels = zlib.decompress(chunks[b"IDAT"])
    except zlib.error:
        return "its image data cannot be read"
    if len(pixels) != height * (1 + width * channels):
        return "its image data does not fill the picture"
    return None


def _chunk(tag: bytes, body: bytes) -> bytes:
    return (struct.pack(">I", len(body)) + tag + body
            + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF))
