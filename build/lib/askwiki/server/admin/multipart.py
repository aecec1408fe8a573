"""A streaming ``multipart/form-data`` reader that writes each file part to the upload spool.

Starlette's form parser keeps files in temporary files of its own choosing, with no size
limit per file; this one names files safely, writes them chunk by chunk into the job's
spool folder, refuses a file over its limit on its own (the others carry on) and never
holds more than one network chunk in memory.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from askwiki.errors import InputTooLargeError, UploadRejectedError
from askwiki.server.admin.uploads import SpoolFile, safe_filename

logger = logging.getLogger(__name__)

MAX_HEADER_BYTES = 16 * 1024
MAX_FIELD_BYTES = 64 * 1024


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    header_bytes: int = 0
    name: bytes = b""
    value: bytes = b""
    raw_filename: str | None = None
    spool: SpoolFile | None = None
    field_bytes: int = 0


@dataclass
class SpooledUpload:
    """Names of the files written to the spool, and the refused ones with their reasons."""

    accepted: list[str] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)


class MultipartSpooler:
    """Feed it the body chunk by chunk (``write``), then ``finish``; ``close`` on errors."""

    def __init__(self, content_type: str, folder: Path, max_file_bytes: int, max_files: int):
        _, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if not boundary:
            raise UploadRejectedError(
                "multipart body without a boundary; send files as multipart/form-data"
            )
        self.folder = folder
        self.max_file_bytes = max_file_bytes
        self.max_files = max_files
        self.result = SpooledUpload()
        self._files = 0
        self._part = _Part()
        self._header_name = b""
        self._header_value = b""
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
            },
        )

    def write(self, chunk: bytes) -> None:
        try:
            self._parser.write(chunk)
        except FormParserError as exc:
            raise UploadRejectedError(f"malformed multipart body: {exc}") from exc

    def finish(self) -> SpooledUpload:
        try:
            self._parser.finalize()
        except FormParserError as exc:
            raise UploadRejectedError(f"malformed multipart body: {exc}") from exc
        if self._part.spool is not None:  # the body ended inside a file part
            self._reject(self._part, "upload cut short: the file part never ended")
        return self.result

    def close(self) -> None:
        """Delete a half-written file (the caller removes the whole spool folder)."""
        if self._part.spool is not None:
            self._part.spool.__exit__(None, None, None)
            self._part.spool = None

    # Parser callbacks -------------------------------------------------------------
    def _on_part_begin(self) -> None:
        self._part = _Part()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._header_value += data[start:end]

    def _count_header(self, size: int) -> None:
        self._part.header_bytes += size
        if self._part.header_bytes > MAX_HEADER_BYTES:
            raise UploadRejectedError(f"part headers longer than {MAX_HEADER_BYTES} bytes")

    def _on_header_end(self) -> None:
        self._part.headers[self._header_name.lower()] = self._header_value
        self._header_name = self._header_value = b""

    def _on_headers_finished(self) -> None:
        part = self._part
        _, options = parse_options_header(part.headers.get(b"content-disposition"))
        part.name = options.get(b"name", b"")
        if b"filename" not in options:
            return  # a plain form field: read and ignored, within MAX_FIELD_BYTES
        self._files += 1
        if self._files > self.max_files:
            raise UploadRejectedError(f"more than {self.max_files} files in one upload")
        # Browsers send UTF-8; the parser handed us the raw octets as latin-1.
        part.raw_filename = options[b"filename"].decode("utf-8", "replace")
        try:
            name = safe_filename(part.raw_filename)
            if name in self.result.accepted or (self.folder / name).exists():
                raise UploadRejectedError(f"another file in this upload is also named {name!r}")
            part.spool = SpoolFile(self.folder, name, self.max_file_bytes, "ASKWIKI_MAX_FILE_MB")
        except UploadRejectedError as exc:
            self._reject(part, str(exc))

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        if part.spool is not None:
            try:
                part.spool.write(data[start:end])
            except InputTooLargeError as exc:
                self._reject(part, f"too large: {exc}")
        elif part.raw_filename is None:
            part.field_bytes += end - start
            if part.field_bytes > MAX_FIELD_BYTES:
                raise UploadRejectedError(f"form field longer than {MAX_FIELD_BYTES} bytes")

    def _on_part_end(self) -> None:
        part = self._part
        if part.spool is None:
            return
        try:
            part.spool.finish()
        except UploadRejectedError as exc:
            self._reject(part, str(exc))
            return
        self.result.accepted.append(part.spool.path.name)
        logger.info("Spooled %s (%d bytes)", part.spool.path.name, part.spool.size)
        part.spool = None

    def _reject(self, part: _Part, reason: str) -> None:
        if part.spool is not None:
            part.spool.__exit__(None, None, None)  # deletes what was written
            part.spool = None
        name = part.raw_filename if part.raw_filename is not None else "(unnamed)"
        self.result.rejected.append({"file": name, "reason": reason})
        logger.info("Refused upload %r: %s", name, reason)
