"""Raw multipart/form-data bodies, so tests control every byte of hostile file names."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

BOUNDARY = "askwiki-test-boundary-7d3f"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def part_head(filename: bytes, field: bytes = b"files") -> bytes:
    return (
        b"--" + BOUNDARY.encode() + b"\r\n"
        b'Content-Disposition: form-data; name="' + field + b'"; filename="' + filename + b'"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n"
    )


def body(files: Sequence[tuple[bytes, bytes]]) -> bytes:
    """A complete body with one part per ``(raw filename bytes, content)``."""
    parts = [part_head(name) + content + b"\r\n" for name, content in files]
    return b"".join(parts) + b"--" + BOUNDARY.encode() + b"--\r\n"


def endless_file(filename: bytes, total: int, chunk: int = 1 << 20) -> Iterator[bytes]:
    """A body holding one ``total``-byte file, produced lazily ``chunk`` bytes at a time."""
    yield part_head(filename)
    block = b"a" * chunk
    sent = 0
    while sent < total:
        piece = block[: min(chunk, total - sent)]
        sent += len(piece)
        yield piece
    yield b"\r\n--" + BOUNDARY.encode() + b"--\r\n"
