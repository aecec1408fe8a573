"""Reading input files safely: size limit before reading, binary sniffing, decoding.

Every problem is raised as :class:`askwiki.errors.DocumentError` whose message is the
skip reason shown to the user; :func:`ingest.loaders.load` turns it into a ``SkippedFile``.
"""

from __future__ import annotations

import codecs
import logging
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

from askwiki.errors import DocumentError, InputTooLargeError

logger = logging.getLogger(__name__)

SNIFF_BYTES = 8192
# Only this much decoded text is scored for "looks like text"; enough to tell mojibake.
SCORE_CHARS = 20_000
# Share of non-ASCII characters that may look odd before a GB18030/Big5 decoding is refused.
MAX_SUSPICIOUS = 0.15
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")


def format_size(size: float) -> str:
    """Human size with binary units: ``2.1 GB``, ``50 MB``, ``512 B``."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            text = f"{size:.1f}".removesuffix(".0") if unit != "B" else str(int(size))
            return f"{text} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def check_size(path: Path, max_bytes: int) -> int:
    """Size of ``path`` from ``stat`` (nothing is read); refuse files over the limit."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DocumentError(f"cannot read file: {exc.strerror or exc}") from exc
    if size > max_bytes:
        raise InputTooLargeError(
            f"too large: {format_size(size)} > limit {format_size(max_bytes)} (ASKWIKI_MAX_FILE_MB)"
        )
    if size == 0:
        raise DocumentError("empty file (0 bytes)")
    return size


def read_bytes(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, after a size check; never reads more than ``max_bytes + 1``."""
    check_size(path, max_bytes)
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise DocumentError(f"cannot read file: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:  # the file grew between stat and read
        raise InputTooLargeError(
            f"too large: over limit {format_size(max_bytes)} (ASKWIKI_MAX_FILE_MB)"
        )
    if not data.strip():
        raise DocumentError("empty file (only whitespace)")
    return data


def read_text(path: Path, max_bytes: int, *, html: bool = False) -> str:
    """Decoded text of a text-format file; BOM removed, newlines normalised to ``\\n``."""
    data = read_bytes(path, max_bytes)
    if b"\x00" in data[:SNIFF_BYTES]:
        raise DocumentError("binary content in a text file (NUL bytes in the first 8 KB)")
    declared = declared_charset(data) if html else None
    text = decode_text(data, declared)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def declared_charset(data: bytes) -> str | None:
    """The ``<meta charset>`` an HTML page declares in its first 8 KB, if Python knows it."""
    match = _CHARSET.search(data[:SNIFF_BYTES])
    if not match:
        return None
    name = match.group(1).decode("ascii", "replace")
    try:
        return codecs.lookup(name).name
    except LookupError:
        logger.debug("Unknown declared charset %r", name)
        return None


def decode_text(data: bytes, declared: str | None = None) -> str:
    """UTF-8 (with or without BOM), then GB18030, then Big5, else ``DocumentError``.

    GB18030 decodes almost any byte string (Big5 text included) without error, so the
    legacy encodings must also produce something that looks like text; of the two, the
    one with fewer odd characters wins (GB18030 on a tie).
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if declared and declared not in ("utf-8", "gb18030", "big5"):
        try:
            return data.decode(declared)
        except UnicodeDecodeError:
            logger.debug("Declared charset %s does not decode; trying the usual ones", declared)
    best: tuple[float, str] | None = None
    for encoding in ("gb18030", "big5"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        score = suspicious_share(text)
        logger.debug("Decoded as %s with %.0f%% odd characters", encoding, 100 * score)
        if score <= MAX_SUSPICIOUS and (best is None or score < best[0]):
            best = (score, text)
    if best is None:
        raise DocumentError("not valid UTF-8, GB18030 or Big5 text")
    return best[1]


def suspicious_share(text: str) -> float:
    """Share of non-ASCII characters (in the first ``SCORE_CHARS``) that mojibake produces.

    Control characters count even when ASCII. Mojibake of Big5 read as GB18030 is full of
    private-use code points, kana, Greek/Cyrillic letters and rare ideographs.
    """
    sample = text[:SCORE_CHARS]
    considered = 0
    odd = 0.0
    for char in sample:
        if char < "\x80":
            if (char < " " and char not in _ALLOWED_CONTROLS) or char == "\x7f":
                considered += 1
                odd += 1
            continue
        considered += 1
        odd += _oddness(char)
    return odd / considered if considered else 0.0


@lru_cache(maxsize=65536)
def _oddness(char: str) -> float:
    code = ord(char)
    if code == 0xFFFD or unicodedata.category(char) in ("Cc", "Co", "Cs", "Cn"):
        return 1.0
    if 0x3040 <= code <= 0x30FF or 0xFF65 <= code <= 0xFF9F:  # kana: Big5 mojibake
        return 1.0
    if 0x0370 <= code <= 0x04FF or 0x2500 <= code <= 0x257F:  # Greek, Cyrillic, box drawing
        return 1.0
    if 0xF900 <= code <= 0xFAFF:  # compatibility ideographs
        return 1.0
    if unicodedata.category(char) == "Lo" and 0x3400 <= code <= 0x9FFF:
        return 0.0 if _common_ideograph(char) else 0.5
    return 0.0


def _common_ideograph(char: str) -> bool:
    """In GB2312 (common simplified) or Big5 level 1 (common traditional)."""
    try:
        char.encode("gb2312")
        return True
    except UnicodeEncodeError:
        pass
    try:
        encoded = char.encode("big5")
    except UnicodeEncodeError:
        return False
    return b"\xa4\x40" <= encoded <= b"\xc6\x7e"


def escape_heading_lines(text: str) -> str:
    """Indent lines starting with ``#`` so the splitter does not read them as headings.

    Used for text that has no Markdown headings of its own (code, PDF pages, plain text).
    """
    return re.sub(r"(?m)^(?=#)", " ", text)
