"""What the admin API's jobs do: every change goes through ``run_ingest`` or the index writer.

The uploads folder mirrors what the admin API put into the index: a file is moved in
before its ingest and moved back out (or the previous file restored) when the ingest
skipped it or failed, so ``reindex`` rebuilds exactly the uploaded documents.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from askwiki.documents import SkippedFile
from askwiki.embedding.embedder import Embedder
from askwiki.errors import DocumentError
from askwiki.ingest.deletion import delete_documents
from askwiki.ingest.loaders import LoaderOptions, SourceFile
from askwiki.ingest.loaders.jsonl import parse_line
from askwiki.ingest.pipeline import IngestReport, run_ingest
from askwiki.server.admin.jobs import Job
from askwiki.server.admin.uploads import UploadFolders, page_file_name
from askwiki.settings import Settings

logger = logging.getLogger(__name__)

PREVIOUS_DIR = ".previous"


@dataclass
class AdminOperations:
    """The admin jobs of one index; each method is one job's work and returns its report."""

    settings: Settings
    embedder: Embedder
    folders: UploadFolders

    def ingest_upload(
        self, job_id: str, names: Sequence[str], rejected: Sequence[dict[str, str]]
    ) -> dict[str, Any]:
        """Move the spooled files of job ``job_id`` into the uploads folder and ingest them."""
        spool = self.folders.spool / job_id
        try:
            placed = self._place(spool, self.folders.uploads, names)
            report = self._ingest_placed(placed, spool)
        finally:
            shutil.rmtree(spool, ignore_errors=True)
        result = self._report(report)
        result["skipped"] = [*rejected, *result["skipped"]]
        return result

    def ingest_page(self, job_id: str, doc_id: str) -> dict[str, Any]:
        """Move a posted page (spooled as one-line JSONL) into ``_pages`` and ingest it."""
        spool = self.folders.spool / job_id
        try:
            placed = self._place(spool, self.folders.pages, [page_file_name(doc_id)])
            report = self._ingest_placed(placed, spool)
        finally:
            shutil.rmtree(spool, ignore_errors=True)
        return self._report(report)

    def delete_document(self, doc_id: str) -> dict[str, Any]:
        """Remove a document from the index and, if it was uploaded, from the uploads folder."""
        deleted, manifest, source = delete_documents(self.settings, self.embedder, [doc_id])
        removed = self._remove_uploaded(doc_id, source)
        if not deleted and not removed:
            raise DocumentError(f"Document {doc_id!r} is no longer in the index or the uploads")
        return {
            "version": manifest.version if manifest else None,
            "deleted": deleted,
            "removed_files": [self._display(p) for p in removed],
        }

    def run(self, job: Job) -> dict[str, Any]:
        """A queued job's work, from its kind and detail alone (any replica may run it)."""
        detail = job.detail
        if job.kind == "upload":
            return self.ingest_upload(job.id, detail["files"], detail["rejected"])
        if job.kind == "page":
            return self.ingest_page(job.id, detail["doc_id"])
        if job.kind == "delete":
            return self.delete_document(detail["doc_id"])
        if job.kind == "reindex":
            return self.reindex(bool(detail["rebuild"]))
        raise ValueError(f"unknown admin job kind {job.kind!r}")

    def reindex(self, rebuild: bool) -> dict[str, Any]:
        """Ingest the whole uploads folder again (``rebuild``: from scratch)."""
        self.folders.uploads.mkdir(parents=True, exist_ok=True)
        report = run_ingest([self.folders.uploads], self.settings, self.embedder, rebuild=rebuild)
        return self._report(report)

    # Helpers ------------------------------------------------------------------
    def _place(self, spool: Path, target: Path, names: Sequence[str]) -> list[Path]:
        """Move spooled files into ``target``, keeping replaced files in the spool."""
        target.mkdir(parents=True, exist_ok=True)
        previous = spool / PREVIOUS_DIR
        placed: list[Path] = []
        for name in names:
            destination = target / name
            if destination.exists():
                previous.mkdir(exist_ok=True)
                os.replace(destination, previous / name)
            os.replace(spool / name, destination)
            placed.append(destination)
        return placed

    def _ingest_placed(self, placed: list[Path], spool: Path) -> IngestReport:
        try:
            report = run_ingest(placed, self.settings, self.embedder, prune=False)
        except BaseException:
            # Nothing reached the index: the uploads folder goes back to what it mirrored.
            self._take_back(placed, spool)
            raise
        self._take_back([p for p in placed if _not_ingested(p, report)], spool)
        return report

    def _take_back(self, paths: list[Path], spool: Path) -> None:
        previous = spool / PREVIOUS_DIR
        for path in paths:
            kept = previous / path.name
            if kept.exists():
                os.replace(kept, path)
            else:
                path.unlink(missing_ok=True)
            logger.info("Took back %s: not ingested", path)

    def _remove_uploaded(self, doc_id: str, source: str | None) -> list[Path]:
        """Take a document's file out of the uploads folder (only its lines for JSONL)."""
        removed: list[Path] = []
        if source and self.folders.is_uploaded(Path(source)):
            candidates = [Path(source)]
        else:  # not in the index (e.g. its ingest never finished): the file it would be
            candidates = [
                self.folders.uploads / doc_id,
                self.folders.pages / page_file_name(doc_id),
            ]
        for path in candidates:
            if not self.folders.is_uploaded(path) or not path.is_file():
                continue
            if path.suffix.lower() == ".jsonl":
                if _drop_jsonl_page(path, doc_id, self._options()):
                    removed.append(path)
            else:
                path.unlink()
                removed.append(path)
        return removed

    def _options(self) -> LoaderOptions:
        return LoaderOptions(
            max_file_bytes=int(self.settings.max_file_mb * 1024 * 1024),
            pdf_timeout_s=self.settings.pdf_timeout_s,
            url_base=self.settings.url_base,
        )

    def _display(self, source: str | Path) -> str:
        """A source as the admin knows it: its name in the uploads folder."""
        path = Path(source)
        try:
            return path.relative_to(self.folders.uploads).as_posix()
        except ValueError:
            return str(path)

    def _report(self, report: IngestReport) -> dict[str, Any]:
        def skipped(items: list[SkippedFile]) -> list[dict[str, str]]:
            return [{"file": self._display(i.source), "reason": i.reason} for i in items]

        return {
            "version": report.version,
            "documents": report.documents,
            "chunks": report.chunks,
            "new": report.new,
            "changed": report.changed,
            "unchanged": report.unchanged,
            "deleted": report.deleted,
            "skipped": skipped(report.skipped) + skipped(report.unsupported),
            "chunks_embedded": report.chunks_embedded,
            "chunks_reused": report.chunks_reused,
            "seconds": round(report.seconds, 3),
        }


def _not_ingested(path: Path, report: IngestReport) -> bool:
    """Whether the ingest skipped a file as a whole (for JSONL: every one of its lines)."""
    items = [*report.skipped, *report.unsupported]
    if any(item.source == str(path) for item in items):
        return True
    if path.suffix.lower() != ".jsonl":
        return False
    bad_lines = sum(1 for item in items if item.source.rpartition(":")[0] == str(path))
    try:
        lines = sum(1 for line in path.read_bytes().splitlines() if line.strip())
    except OSError:
        return True
    return bad_lines >= lines


def _drop_jsonl_page(path: Path, doc_id: str, options: LoaderOptions) -> bool:
    """Rewrite a JSONL file without the lines of ``doc_id``; True if any was dropped."""
    source = SourceFile(path, path.parent, from_folder=True)
    kept: list[bytes] = []
    dropped = False
    for line in path.read_bytes().splitlines(keepends=True):
        try:
            same = line.strip() and parse_line(line, source, options).doc_id == doc_id
        except DocumentError:
            same = False
        if same:
            dropped = True
        else:
            kept.append(line)
    if not dropped:
        return False
    if any(line.strip() for line in kept):
        temp = path.with_name(f".{path.name}.tmp")
        temp.write_bytes(b"".join(kept))
        os.replace(temp, path)
    else:
        path.unlink()
    return True
