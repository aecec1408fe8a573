"""``git`` sources: Markdown/HTML pages in a local or remote repository.

Only committed content is synced: the head commit of the configured branch (``branch``
option, default the repository's HEAD). Changes come from ``git diff`` between the
synced commit and the new head, with rename detection, so a renamed page keeps one copy.
Remote repositories are mirrored under the data folder and fetched before each sync.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path, PurePosixPath

from askwiki.documents import SkippedFile
from askwiki.errors import SourceError
from askwiki.ingest.loaders import SUPPORTED_SUFFIXES, LoaderOptions, SourceFile, load
from askwiki.ingest.sources.base import Changes, Fetched, SourceConfig

logger = logging.getLogger(__name__)
GIT_TIMEOUT_S = 300
# PDFs and JSONL dumps are for 'askwiki ingest'; a repository of pages holds these.
PAGE_SUFFIXES = frozenset({".md", ".markdown", ".html", ".htm", ".txt"}) & SUPPORTED_SUFFIXES


class GitSource:
    """A repository of pages; the cursor is the synced commit id."""

    def __init__(self, config: SourceConfig, mirrors: Path, options: LoaderOptions) -> None:
        self.config = config
        self._options = replace(options, url_base=config.url_base)
        self._repo = self._prepare(mirrors)
        self._head = ""
        self._scratch = Path(tempfile.mkdtemp(prefix="askwiki-git-"))

    def _prepare(self, mirrors: Path) -> Path:
        local = Path(self.config.address).expanduser()
        if local.exists():
            return local
        digest = hashlib.sha256(self.config.address.encode()).hexdigest()[:12]
        mirror = mirrors / f"{self.config.name}-{digest}.git"
        if not mirror.exists():
            mirrors.mkdir(parents=True, exist_ok=True)
            self._git("clone", "--mirror", "--quiet", self.config.address, str(mirror), repo=False)
        else:
            self._git("fetch", "--prune", "--quiet", "origin", repo=mirror)
        return mirror

    def changes(self, cursor: str | None) -> Changes:
        branch = str(self.config.options.get("branch", "HEAD"))
        self._head = self._git("rev-parse", "--verify", f"{branch}^{{commit}}").strip()
        if cursor and not self._known(cursor):
            logger.warning(
                "%s: synced commit %s is gone (history rewritten?); full sync",
                self.config.name,
                cursor[:12],
            )
            cursor = None
        if cursor is None:
            listed = self._git("ls-tree", "-r", "-z", "--name-only", self._head).split("\0")
            keys = [k for path in listed if (k := self._key(path)) is not None]
            return Changes.everything(self._head, sorted(keys))
        if cursor == self._head:
            return Changes(cursor=self._head)
        changes = Changes(cursor=self._head)
        diff = self._git("diff", "--name-status", "-z", "-M", cursor, self._head).split("\0")
        fields = iter(f for f in diff if f)
        for status in fields:
            old = next(fields)
            new = next(fields) if status[0] in "RC" else old
            if status[0] in "RD" and (key := self._key(old)) is not None:
                changes.deleted.append(key)
            if status[0] != "D" and (key := self._key(new)) is not None:
                changes.fetch.append(key)
        return changes

    def fetch(self, keys: Iterable[str]) -> Iterator[Fetched]:
        for key in keys:
            path = str(PurePosixPath(self.config.root) / key) if self.config.root else key
            target = self._scratch / key
            try:
                blob = self._git_bytes("show", f"{self._head}:{path}")
            except SourceError as exc:
                yield key, f"cannot read {path} at {self._head[:12]}: {exc}"
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(blob)
            for item in load(SourceFile(target, self._scratch, from_folder=True), self._options):
                if isinstance(item, SkippedFile):
                    yield key, item.reason
                else:
                    yield (
                        key,
                        replace(
                            item,
                            doc_id=self.config.doc_id(key),
                            source=f"git:{self.config.name}:{key}",
                        ),
                    )
                break
            target.unlink(missing_ok=True)

    def close(self) -> None:
        shutil.rmtree(self._scratch, ignore_errors=True)

    def _key(self, path: str) -> str | None:
        """The page key of a repository path, or None when it is not a page of this source."""
        root = self.config.root.strip("/")
        if root:
            if not path.startswith(root + "/"):
                return None
            path = path[len(root) + 1 :]
        parts = PurePosixPath(path).parts
        if any(part.startswith(".") for part in parts):
            return None
        if PurePosixPath(path).suffix.lower() not in PAGE_SUFFIXES:
            return None
        return path if self.config.wanted(path) else None

    def _known(self, commit: str) -> bool:
        try:
            self._git("cat-file", "-e", f"{commit}^{{commit}}")
        except SourceError:
            return False
        return True

    def _git(self, *args: str, repo: Path | bool = True) -> str:
        return self._git_bytes(*args, repo=repo).decode("utf-8", errors="replace")

    def _git_bytes(self, *args: str, repo: Path | bool = True) -> bytes:
        """Run git in ``repo`` (True: this source's repository; False: no repository)."""
        command = ["git"]
        if repo is not False:
            command += ["-C", str(self._repo if repo is True else repo)]
        try:
            done = subprocess.run(
                [*command, *args], capture_output=True, timeout=GIT_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SourceError(f"git {args[0]} failed for {self.config.address}: {exc}") from exc
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", errors="replace").strip()
            raise SourceError(f"git {args[0]} failed for {self.config.address}: {message}")
        return done.stdout
