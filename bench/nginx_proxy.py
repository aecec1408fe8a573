"""A real nginx on loopback in front of replicas, configured from ``deploy/nginx/askwiki.conf``.

Used by ``bench/serve_load.py --replicas N`` and by the replica integration test.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "deploy" / "nginx" / "askwiki.conf"


def site_config(listen: int, replicas: Sequence[int]) -> str:
    """The shipped site config with the test's ports instead of 80 and 8001-8003."""
    text = SHIPPED.read_text(encoding="utf-8")
    template = re.search(r"^\s*server 127\.0\.0\.1:8001 (.*);$", text, re.M)
    assert template is not None, "deploy/nginx/askwiki.conf lost its upstream servers"
    servers = "".join(f"    server 127.0.0.1:{port} {template.group(1)};\n" for port in replicas)
    text = re.sub(r"(?m)^\s*server 127\.0\.0\.1:800\d .*;\n", "", text)
    text = text.replace("    keepalive 32;", servers + "    keepalive 32;")
    return text.replace("listen 80;", f"listen 127.0.0.1:{listen};")


def nginx_binary() -> str | None:
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    return found if Path(found).exists() else None


@contextmanager
def nginx(workdir: Path, listen: int, replicas: Sequence[int]) -> Iterator[str]:
    """Run nginx (foreground, in ``workdir``) until the block ends; yields its base URL."""
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("no nginx; apt-get install nginx-light (make test does)")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "site.conf").write_text(site_config(listen, replicas), encoding="utf-8")
    user = "user root;\n" if os.geteuid() == 0 else ""
    (workdir / "nginx.conf").write_text(
        f"""{user}worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {workdir}/access.log;
    client_body_temp_path {workdir}/body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    include {workdir}/site.conf;
}}
""",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [binary, "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", listen), 0.2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    err = process.stderr.read().decode() if process.stderr else ""
                    raise RuntimeError(f"nginx did not start: {err}") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{listen}"
    finally:
        process.terminate()
        process.wait(10)
