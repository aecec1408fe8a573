"""What every wiki source shares: its configuration, the changes it reports, its pages."""

from __future__ import annotations

import fnmatch
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from askwiki.documents import Document
from askwiki.errors import SourceConfigError

# A key's page, or the reason it could not be fetched (the last good version stays).
Fetched = tuple[str, Document | str]


@dataclass(frozen=True)
class SourceConfig:
    """One source of one index, as written in askwiki.toml (or on the command line)."""

    name: str
    kind: str
    address: str
    index: str = "default"
    root: str = ""
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    url_base: str | None = None
    # Credential name -> environment variable holding it: secrets never enter the file.
    env: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)

    def secret(self, key: str) -> str:
        """The credential ``key`` from the environment variable the configuration names."""
        variable = self.env.get(key)
        if not variable:
            raise SourceConfigError(
                f"Source {self.name!r} needs a {key!r} credential: add "
                f'{key} = "SOME_ENV_VAR" to its env table and set that variable'
            )
        value = os.environ.get(variable)
        if not value:
            raise SourceConfigError(
                f"Source {self.name!r}: environment variable {variable} ({key}) is unset"
            )
        return value

    def wanted(self, key: str) -> bool:
        """Whether a page key passes the include and exclude patterns (fnmatch)."""
        if self.include and not any(fnmatch.fnmatchcase(key, p) for p in self.include):
            return False
        return not any(fnmatch.fnmatchcase(key, p) for p in self.exclude)

    def doc_id(self, key: str) -> str:
        """Document ids are ``<source name>:<page key>``: sources never collide."""
        return f"{self.name}:{key}"


@dataclass
class Changes:
    """What changed in a source since a cursor.

    ``present``, when the source listed all its pages, holds every key it has now:
    indexed pages of the source missing from it are deleted. ``full`` says every page is
    fetched (a first sync). ``cursor`` is where the next sync starts; it is stored only
    with the version that holds these changes.
    """

    cursor: str | None
    fetch: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    full: bool = False
    present: list[str] | None = None

    @classmethod
    def everything(cls, cursor: str | None, keys: list[str]) -> Changes:
        """A full listing: fetch every key, delete indexed pages not among them."""
        return cls(cursor=cursor, fetch=keys, full=True, present=keys)


def changes_by_edit_time(listing: Mapping[str, str], cursor: str | None) -> Changes:
    """Changes of a source that lists every page with its edit stamp (time or version).

    The cursor is the JSON map key -> stamp of the last sync: pages with a new stamp are
    fetched, pages gone from the listing are deleted.
    """
    seen: dict[str, str] = {}
    if cursor:
        try:
            loaded = json.loads(cursor)
            seen = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            seen = {}
    stamps = dict(sorted(listing.items()))
    changes = Changes(cursor=json.dumps(stamps), full=not seen, present=list(stamps))
    changes.fetch = [k for k, stamp in stamps.items() if seen.get(k) != stamp]
    return changes


class Source(Protocol):
    """A wiki askwiki pulls from: reports changes since a cursor and fetches pages."""

    config: SourceConfig

    def changes(self, cursor: str | None) -> Changes:
        """Changes since ``cursor``; everything (``full``) when it is None or unusable."""
        ...

    def fetch(self, keys: Iterable[str]) -> Iterator[Fetched]:
        """Each key's page as a ``Document``, or the reason it failed; never raises for a page."""
        ...

    def close(self) -> None:
        """Release clients and temporary files."""
        ...
