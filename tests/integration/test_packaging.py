"""What `pip install .` puts into site-packages: one top-level package and one script."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def test_the_wheel_holds_one_top_level_package_with_server_ingest_and_cli(tmp_path: Path) -> None:
    # A copy of what the build reads, so setuptools' build/ folder lands there, not in the tree.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for folder in ("askwiki", "server", "ingest", "cli"):
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(ROOT / folder, source / folder, symlinks=True, ignore=ignore)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "wheel"), str(source)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (wheel,) = (tmp_path / "wheel").glob("askwiki-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"askwiki"}
    for module in ("askwiki/server/app.py", "askwiki/ingest/pipeline.py", "askwiki/cli/main.py"):
        assert module in names
    assert "askwiki/server/templates/base.html" in names
    assert "askwiki/server/static/widget.js" in names
    # Alembic reads the migrations as files: a server installed from the wheel migrates.
    assert "askwiki/database/migrations/env.py" in names
    assert "askwiki/database/migrations/versions/0001_question_log.py" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "askwiki = askwiki.cli.main:main" in scripts
