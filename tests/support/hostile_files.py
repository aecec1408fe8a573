"""Hostile inputs built in memory: PDF decompression bombs, slow PDFs, YAML alias bombs."""

from __future__ import annotations

import struct
import zlib
from functools import cache

TEXT_OP = b"BT /F1 12 Tf 72 712 Td (Hello bomb) Tj ET\n"


def repeated_zlib(content: bytes, repeat: int) -> bytes:
    """zlib data inflating to ``content * repeat``, built without ever holding the whole.

    ``content`` is deflated once with a full flush (which makes the block independent of
    what precedes it); the copies, an empty final block and the Adler-32 of the whole
    make a valid zlib stream.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(content) + compressor.flush(zlib.Z_FULL_FLUSH)
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    checksum = 1
    for _ in range(repeat):
        checksum = zlib.adler32(content, checksum)
    return b"\x78\xda" + block * repeat + final + struct.pack(">I", checksum)


def pdf_with_content(content: bytes, repeat: int = 1) -> bytes:
    """A one-page PDF whose content stream is ``content * repeat``, FlateDecode-compressed."""
    data = repeated_zlib(content, repeat)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


@cache
def pdf_flate_bomb() -> bytes:
    """~1 MB on disk, a 1 GB content stream once inflated."""
    return pdf_with_content(b" " * (1 << 20), repeat=1024)


@cache
def pdf_slow_to_parse() -> bytes:
    """~200 KB on disk; pypdf spends 20+ s tokenising its 70 MB of text operators."""
    return pdf_with_content(TEXT_OP * 1000, repeat=70_000_000 // (1000 * len(TEXT_OP)))


def pdf_with_text(text: str) -> bytes:
    """A small valid PDF showing ``text`` (ASCII) on one page."""
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return pdf_with_content(b"BT /F1 12 Tf 72 712 Td (" + escaped.encode("ascii") + b") Tj ET\n")


def yaml_alias_bomb(levels: int = 9) -> str:
    """Markdown whose front matter expands to 9**levels list items (a billion laughs)."""
    lines = [
        "---",
        "title: Laughs",
        'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    ]
    for level in range(1, levels):
        refs = ",".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join([*lines, "---", "", "# Laughs", "", "Quokkas smile a lot.", ""])
