"""A throwaway MediaWiki (Debian's ``mediawiki`` package) on SQLite, served by PHP's
built-in server on loopback, and a small API client that edits, moves and deletes pages.

The installation is shared: only ``LocalSettings.php`` and the SQLite database live in
the test's folder (``MW_CONFIG_FILE`` points PHP at them).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

MEDIAWIKI = Path("/usr/share/mediawiki")
ADMIN = "Admin"
PASSWORD = "askwiki-throwaway-wiki-password"


def mediawiki_available() -> bool:
    return (MEDIAWIKI / "maintenance" / "install.php").exists() and shutil.which("php") is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class WikiClient:
    """Logged-in API client: every write goes through api.php like an editor's would."""

    def __init__(self, api: str) -> None:
        self.api = api
        self._http = httpx.Client(timeout=60)
        token = self._get(action="query", meta="tokens", type="login")["query"]["tokens"]
        login = self._post(
            action="login", lgname=ADMIN, lgpassword=PASSWORD, lgtoken=token["logintoken"]
        )
        assert login["login"]["result"] == "Success", login
        tokens = self._get(action="query", meta="tokens")["query"]["tokens"]
        self._csrf = tokens["csrftoken"]

    def edit(self, title: str, text: str) -> None:
        self._post(action="edit", title=title, text=text, token=self._csrf, bot=1)

    def move(self, old: str, new: str, *, leave_redirect: bool = True) -> None:
        extra = {} if leave_redirect else {"noredirect": 1}
        self._post(action="move", **{"from": old}, to=new, token=self._csrf, **extra)

    def delete(self, title: str) -> None:
        self._post(action="delete", title=title, token=self._csrf)

    def close(self) -> None:
        self._http.close()

    def _get(self, **params: Any) -> dict[str, Any]:
        response = self._http.get(self.api, params={**params, "format": "json"})
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def _post(self, **params: Any) -> dict[str, Any]:
        response = self._http.post(self.api, data={**params, "format": "json"})
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        assert "error" not in data, data
        return data


@contextmanager
def throwaway_wiki(folder: Path) -> Iterator[WikiClient]:
    """Install a wiki in ``folder``, serve it on a free loopback port, stop it afterwards."""
    port = _free_port()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "db").mkdir(exist_ok=True)
    server = f"http://127.0.0.1:{port}"
    subprocess.run(
        [
            "php", str(MEDIAWIKI / "maintenance" / "install.php"),
            "--dbtype", "sqlite", "--dbpath", str(folder / "db"), "--dbname", "askwikitest",
            "--confpath", str(folder), "--server", server, "--scriptpath", "",
            "--pass", PASSWORD, "--lang", "en", "Askwiki Test Wiki", ADMIN,
        ],
        check=True,
        capture_output=True,
        cwd=folder,
        timeout=300,
    )  # fmt: skip
    with (folder / "LocalSettings.php").open("a", encoding="utf-8") as settings:
        # No rate limits or edit throttles for the test's own edits.
        settings.write(
            "\n$wgRateLimits = [];\n$wgGroupPermissions['sysop']['noratelimit'] = true;\n"
            "$wgJobRunRate = 0;\n"
        )
    env = {**os.environ, "MW_CONFIG_FILE": str(folder / "LocalSettings.php")}
    env["PHP_CLI_SERVER_WORKERS"] = "2"
    log = (folder / "php-server.log").open("wb")
    process = subprocess.Popen(
        # OPcache: without it every request compiles MediaWiki again (~3x slower).
        ["php", "-d", "opcache.enable_cli=1", "-S", f"127.0.0.1:{port}", "-t", str(MEDIAWIKI)],
        env=env,
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its workers are children: stop the whole group
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{server}/api.php", params={"action": "query", "format": "json"})
                break
            except httpx.HTTPError as exc:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"PHP server did not start; see {folder}/php-server.log"
                    ) from exc
                time.sleep(0.1)
        client = WikiClient(f"{server}/api.php")
        try:
            yield client
        finally:
            client.close()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
        log.close()
