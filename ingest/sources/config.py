"""Reading sources from askwiki.toml, or one ``kind:address`` given on the command line.

```toml
[sources.handbook]
kind = "git"                       # git | mediawiki | feishu | confluence | notion
address = "/srv/handbook"          # path, clone URL or API endpoint
index = "default"                  # the index it feeds (default: "default")
root = "docs"                      # folder, space, namespaces... (kind-specific)
include = ["*.md"]                 # fnmatch patterns on the page key
exclude = ["drafts/*"]
url_base = "https://example.com/handbook"
env = { token = "HANDBOOK_TOKEN" } # credentials: names of environment variables only
```
Any other key is a kind-specific option (e.g. ``namespaces = [0, 4]`` for MediaWiki).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from askwiki.errors import SourceConfigError
from askwiki.ingest.sources.base import SourceConfig

KINDS = ("git", "mediawiki", "feishu", "confluence", "notion")
_COMMON = {"kind", "address", "index", "root", "include", "exclude", "url_base", "env"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def load_sources(path: Path) -> list[SourceConfig]:
    """Every source in the configuration file, validated; raises ``SourceConfigError``."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SourceConfigError(
            f"No source configuration at {path}; create it (see README, 'Sync') or give "
            "a one-off source such as 'git:/path/to/repo'"
        ) from exc
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SourceConfigError(f"Cannot read {path}: {exc}") from exc
    table = data.get("sources", {})
    if not isinstance(table, dict) or not table:
        raise SourceConfigError(f"{path} has no [sources.<name>] table")
    return [_source(str(name), body, path) for name, body in table.items()]


def _source(name: str, body: Any, path: Path) -> SourceConfig:
    where = f"{path} [sources.{name}]"
    if not isinstance(body, dict):
        raise SourceConfigError(f"{where} must be a table")
    if not _NAME.match(name):
        raise SourceConfigError(f"{where}: use letters, digits, '.', '_' or '-' in the name")
    kind = body.get("kind")
    if kind not in KINDS:
        raise SourceConfigError(f"{where}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
    address = body.get("address")
    if not isinstance(address, str) or not address.strip():
        raise SourceConfigError(f"{where}: address (path or URL) is required")
    env = body.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise SourceConfigError(f"{where}: env must map credential names to variable names")
    return SourceConfig(
        name=name,
        kind=kind,
        address=address.strip(),
        index=str(body.get("index", "default")),
        root=str(body.get("root", "")),
        include=_patterns(body.get("include"), where, "include"),
        exclude=_patterns(body.get("exclude"), where, "exclude"),
        url_base=body.get("url_base"),
        env={str(k): v for k, v in env.items()},
        options={k: v for k, v in body.items() if k not in _COMMON},
    )


def _patterns(value: Any, where: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise SourceConfigError(f"{where}: {key} must be a pattern or a list of patterns")


def one_off_source(spec: str, index: str, url_base: str | None = None) -> SourceConfig:
    """A source from ``kind:address`` (``git:/srv/wiki``, ``mediawiki:https://h/w/api.php``)."""
    kind, sep, address = spec.partition(":")
    if not sep or kind not in KINDS or not address:
        raise SourceConfigError(
            f"Cannot read source {spec!r}; write kind:address with kind one of "
            f"{', '.join(KINDS)} (e.g. git:/path/to/repo)"
        )
    # The name is stored in document ids: the same spec must give the same name each time.
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{kind}-{address}").strip("-")[:80]
    return SourceConfig(name=name, kind=kind, address=address, index=index, url_base=url_base)
