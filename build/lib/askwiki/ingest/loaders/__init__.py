"""Document loaders: input paths -> ``Document`` objects, or ``SkippedFile`` with a reason.

``discover`` turns the paths given on the command line into ``SourceFile`` records;
``load`` reads one of them with the loader for its suffix and never raises for bad
input. PDFs are read in a worker process: call ``shutdown_pdf_worker`` when done (it
also runs at interpreter exit).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from askwiki.documents import Document, SkippedFile
from askwiki.errors import DocumentError
from askwiki.ingest.loaders.html import load_html
from askwiki.ingest.loaders.jsonl import load_jsonl
from askwiki.ingest.loaders.markdown import load_markdown
from askwiki.ingest.loaders.pdf import PdfWorker, load_pdf, shared_pdf_worker, shutdown_pdf_worker
from askwiki.ingest.loaders.source import LoaderOptions, SourceFile
from askwiki.ingest.loaders.text import load_text

__all__ = [
    "SUPPORTED_SUFFIXES",
    "LoaderOptions",
    "PdfWorker",
    "SourceFile",
    "discover",
    "load",
    "shared_pdf_worker",
    "shutdown_pdf_worker",
]

logger = logging.getLogger(__name__)

_Loader = Callable[[SourceFile, LoaderOptions], Document]
_SINGLE_DOCUMENT: dict[str, _Loader] = {
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".txt": load_text,
}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset({*_SINGLE_DOCUMENT, ".jsonl"})


def discover(paths: Sequence[Path]) -> Iterator[SourceFile]:
    """Files to load, folders walked in sorted order; hidden files and folders are skipped.

    Every file is yielded, supported or not (``load`` reports unsupported types). A file
    reached twice (a folder and a file inside it) is yielded once. Raises
    ``DocumentError`` before yielding anything if a path does not exist.
    """
    for path in paths:
        if not path.exists():
            raise DocumentError(f"No such file or folder: {path}; check the path")
        if not path.is_file() and not path.is_dir():
            raise DocumentError(f"Not a regular file or folder: {path}")
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found: Iterator[SourceFile] = _walk(path, path, {path.resolve()})
        else:
            found = iter([SourceFile(path, path.parent, from_folder=False)])
        for source in found:
            resolved = source.path.resolve()
            if resolved not in seen:
                seen.add(resolved)
                yield source


def _walk(folder: Path, root: Path, visited: set[Path]) -> Iterator[SourceFile]:
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as exc:
        logger.warning("Cannot list %s (%s); skipped", folder, exc.strerror or exc)
        return
    for entry in entries:
        if entry.name.startswith("."):  # .git, .obsidian, .DS_Store, editor swap files
            continue
        path = folder / entry.name
        if entry.is_dir():
            resolved = path.resolve()
            if resolved in visited:  # a symlink back up the tree
                logger.warning("Skipping %s: folder already visited (symlink loop?)", path)
                continue
            yield from _walk(path, root, visited | {resolved})
        elif entry.is_file():
            yield SourceFile(path, root, from_folder=True)
        else:
            logger.debug("Skipping %s: not a regular file", path)


def load(source: SourceFile, options: LoaderOptions) -> Iterator[Document | SkippedFile]:
    """Documents of one file (several for JSON Lines) or ``SkippedFile`` with the reason.

    Never raises for bad input: every problem, including a loader bug on a strange
    file, becomes a ``SkippedFile``.
    """
    suffix = source.path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        kind = suffix or "(no extension)"
        logger.debug("Skipping %s: unsupported file type %s", source.path, kind)
        yield SkippedFile(str(source.path), f"unsupported file type {kind}")
        return
    try:
        if suffix == ".jsonl":
            for item in load_jsonl(source, options):
                if isinstance(item, SkippedFile):
                    logger.warning("Skipping %s: %s", item.source, item.reason)
                yield item
        else:
            yield _SINGLE_DOCUMENT[suffix](source, options)
    except DocumentError as exc:
        logger.warning("Skipping %s: %s", source.path, exc)
        yield SkippedFile(str(source.path), str(exc))
    except Exception as exc:
        # A loader failing on some odd file must cost that file only; the traceback is
        # logged so that the bug can still be found.
        logger.warning("Skipping %s: loader failed", source.path, exc_info=True)
        yield SkippedFile(str(source.path), f"cannot load: {type(exc).__name__}: {exc}")
