"""``askwiki sync`` with git sources: real repositories, commits that add, edit, rename, delete."""

from __future__ import annotations

from pathlib import Path

import pytest

from askwiki.embedding.embedder import Embedder
from askwiki.errors import IndexLockedError, SourceConfigError
from askwiki.ingest.sources import SourceConfig, load_sources, one_off_source
from askwiki.ingest.sync import run_sync, select_sources
from askwiki.settings import Settings
from askwiki.store.index import open_index
from askwiki.store.layout import current_version, writer_lock
from tests.support.git_repo import GitRepo


def page(title: str, *sections: str) -> str:
    body = "\n\n".join(f"## {s}\n\nThe {s.lower()} of {title} is described here." for s in sections)
    return f"# {title}\n\n{body}\n"


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "handbook")
    repo.write("docs/intro.md", page("Intro", "Purpose", "Audience"))
    repo.write("docs/setup/install.md", page("Install", "Requirements", "Steps"))
    repo.write("docs/faq.html", "<html><body><h1>FAQ</h1><h2>Why</h2><p>Because.</p></body></html>")
    repo.write("docs/logo.png", "not a page")
    repo.write("docs/drafts/todo.md", page("Todo", "Later"))
    repo.write("README.md", page("Repository readme", "Outside the root"))
    repo.commit("first pages")
    return repo


@pytest.fixture
def source(repo: GitRepo) -> SourceConfig:
    return SourceConfig(
        name="handbook",
        kind="git",
        address=str(repo.path),
        root="docs",
        exclude=("drafts/*",),
        url_base="https://example.com/handbook",
    )


def doc_ids(settings: Settings) -> set[str]:
    index = open_index(settings.index_path)
    try:
        return set(index.docstore.documents())
    finally:
        index.close()


def test_first_sync_indexes_pages_under_root_with_urls(
    source: SourceConfig, settings: Settings, embedder: Embedder
) -> None:
    report = run_sync([source], settings, embedder)
    assert doc_ids(settings) == {
        "handbook:intro.md",
        "handbook:setup/install.md",
        "handbook:faq.html",
    }
    assert report.sources[0].full and report.sources[0].fetched == 3
    index = open_index(settings.index_path)
    stored = index.docstore.documents()["handbook:setup/install.md"]
    index.close()
    assert stored.url == "https://example.com/handbook/setup/install"
    assert stored.title == "Install"


def test_add_edit_rename_delete_are_applied_and_only_changed_chunks_embedded(
    repo: GitRepo, source: SourceConfig, settings: Settings, embedder: Embedder
) -> None:
    run_sync([source], settings, embedder)
    repo.write("docs/intro.md", page("Intro", "Purpose", "Audience", "History"))
    repo.write("docs/new.md", page("New page", "Content"))
    repo.move("docs/setup/install.md", "docs/setup/installing.md")
    repo.remove("docs/faq.html")
    repo.commit("edit, add, rename, delete")

    report = run_sync([source], settings, embedder)

    assert doc_ids(settings) == {
        "handbook:intro.md",
        "handbook:new.md",
        "handbook:setup/installing.md",
    }
    assert report.changed == ["handbook:intro.md"]
    assert sorted(report.new) == ["handbook:new.md", "handbook:setup/installing.md"]
    assert sorted(report.deleted) == ["handbook:faq.html", "handbook:setup/install.md"]
    assert not report.sources[0].full
    # The renamed page's chunks and the edit's untouched sections reuse their vectors.
    assert report.chunks_reused > 0
    index = open_index(settings.index_path)
    chunks = index.docstore.chunks_of("handbook:setup/installing.md")
    index.close()
    assert chunks and all("installing" in (c.chunk.url or "") for c in chunks)


def test_unchanged_repository_publishes_no_version(
    source: SourceConfig, settings: Settings, embedder: Embedder
) -> None:
    first = run_sync([source], settings, embedder)
    again = run_sync([source], settings, embedder)
    assert again.version == first.version
    assert again.chunks_embedded == 0 and not again.new and not again.changed


def test_page_moved_out_of_root_or_excluded_is_deleted(
    repo: GitRepo, source: SourceConfig, settings: Settings, embedder: Embedder
) -> None:
    run_sync([source], settings, embedder)
    repo.move("docs/intro.md", "archive/intro.md")
    repo.move("docs/setup/install.md", "docs/drafts/install.md")
    repo.commit("move pages out")
    report = run_sync([source], settings, embedder)
    assert sorted(report.deleted) == ["handbook:intro.md", "handbook:setup/install.md"]
    assert doc_ids(settings) == {"handbook:faq.html"}


def test_page_that_fails_keeps_last_good_version_and_is_retried(
    repo: GitRepo, source: SourceConfig, settings: Settings, embedder: Embedder
) -> None:
    run_sync([source], settings, embedder)
    # A YAML alias in front matter is refused by the Markdown loader.
    repo.write("docs/intro.md", "---\na: &x [1]\nb: *x\n---\n# Intro\n\nBroken edit.\n")
    repo.commit("break a page")
    broken = run_sync([source], settings, embedder)
    assert [s.source for s in broken.skipped] == ["handbook:intro.md"]
    index = open_index(settings.index_path)
    text = " ".join(c.chunk.text for c in index.docstore.chunks_of("handbook:intro.md"))
    state = index.manifest.extra["sync"]["handbook"]
    index.close()
    assert "purpose of Intro" in text
    assert state["retry"] == ["intro.md"]

    repo.write("docs/intro.md", page("Intro", "Fixed"))
    repo.commit("fix it")
    fixed = run_sync([source], settings, embedder)
    assert fixed.changed == ["handbook:intro.md"] and not fixed.skipped
    index = open_index(settings.index_path)
    assert index.manifest.extra["sync"]["handbook"]["retry"] == []
    index.close()


def test_interrupted_sync_keeps_live_version_and_cursor_then_completes(
    repo: GitRepo,
    source: SourceConfig,
    settings: Settings,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_sync([source], settings, embedder)
    live = current_version(settings.index_path)
    repo.write("docs/intro.md", page("Intro", "Rewritten"))
    repo.remove("docs/faq.html")
    repo.commit("changes the crash will lose")

    def crash(texts: list[str]) -> object:
        raise RuntimeError("killed while embedding")

    with monkeypatch.context() as patch:
        patch.setattr(embedder, "embed_passages", crash)
        with pytest.raises(RuntimeError):
            run_sync([source], settings, embedder)
    assert current_version(settings.index_path) == live

    report = run_sync([source], settings, embedder)
    assert report.changed == ["handbook:intro.md"] and report.deleted == ["handbook:faq.html"]
    assert doc_ids(settings) == {"handbook:intro.md", "handbook:setup/install.md"}


def test_second_concurrent_sync_is_refused(
    source: SourceConfig, settings: Settings, embedder: Embedder
) -> None:
    with writer_lock(settings.index_path), pytest.raises(IndexLockedError):
        run_sync([source], settings, embedder)


def test_ingest_keeps_sync_cursors_and_full_sync_lists_everything(
    repo: GitRepo, source: SourceConfig, settings: Settings, embedder: Embedder
) -> None:
    from askwiki.ingest.pipeline import run_ingest

    first = run_sync([source], settings, embedder)
    extra = repo.path.parent / "extra"
    extra.mkdir()
    (extra / "other.md").write_text(page("Other", "Thing"), encoding="utf-8")
    run_ingest([extra], settings, embedder)
    index = open_index(settings.index_path)
    assert index.manifest.extra["sync"]["handbook"]["cursor"] == first.sources[0].cursor
    index.close()
    full = run_sync([source], settings, embedder, full=True)
    assert full.sources[0].full and full.unchanged == 3 and not full.deleted
    assert "other.md" in doc_ids(settings)  # pages of other origins are not touched


def test_one_off_spec_and_configuration_file(
    repo: GitRepo, settings: Settings, tmp_path: Path
) -> None:
    one_off = one_off_source(f"git:{repo.path}", "default")
    assert one_off.kind == "git" and one_off.address == str(repo.path)
    assert select_sources(settings, [f"git:{repo.path}"])[0].name == one_off.name
    config = tmp_path / "askwiki.toml"
    config.write_text(
        f"""
[sources.handbook]
kind = "git"
address = "{repo.path}"
root = "docs"
exclude = ["drafts/*"]
branch = "main"
env = {{ token = "HANDBOOK_TOKEN" }}

[sources.elsewhere]
kind = "git"
address = "/nowhere"
index = "other"
""",
        encoding="utf-8",
    )
    configured = select_sources(replace_settings(settings, sync_config=config))
    assert [c.name for c in configured] == ["handbook"]
    assert configured[0].options == {"branch": "main"} and configured[0].exclude == ("drafts/*",)
    assert {c.name for c in load_sources(config)} == {"handbook", "elsewhere"}
    with pytest.raises(SourceConfigError, match="HANDBOOK_TOKEN"):
        configured[0].secret("token")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[sources.x]\nkind = "svn"\naddress = "a"\n', "kind must be one of"),
        ('[sources.x]\nkind = "git"\n', "address"),
        ("[sources]\n", "no \\[sources"),
        ('[sources.x]\nkind = "git"\naddress = "a"\nenv = { token = 3 }\n', "env must map"),
    ],
)
def test_bad_configuration_says_what_to_fix(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "askwiki.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SourceConfigError, match=message):
        load_sources(path)


def replace_settings(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update=changes)


def test_cli_sync_one_off_source_json_and_strict(
    repo: GitRepo, tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from typer.testing import CliRunner

    from askwiki.cli import sync_cmd
    from askwiki.cli.main import app

    monkeypatch.setattr(sync_cmd, "load_embedder", lambda settings: embedder)
    monkeypatch.setenv("ASKWIKI_INDEX_DIR", str(tmp_path / "indexes"))
    command = ["sync", f"git:{repo.path}", "--index", "cli", "--json"]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["documents"] == 5  # README.md and the drafts too: no root, no exclude
    assert report["sources"][0]["kind"] == "git" and report["sources"][0]["full"]

    repo.write("docs/bad.md", "---\na: &x [1]\nb: *x\n---\n# Bad\n\ntext\n")
    repo.commit("a broken page")
    strict = CliRunner().invoke(app, [*command, "--strict"])
    assert strict.exit_code == 3
    assert json.loads(strict.stdout)["skipped"][0]["source"].endswith(":docs/bad.md")

    missing = CliRunner().invoke(app, ["sync", "--index", "cli"])
    assert missing.exit_code != 0


def test_remote_repository_is_mirrored_and_fetched_each_sync(
    repo: GitRepo, settings: Settings, embedder: Embedder
) -> None:
    remote = SourceConfig(name="remote", kind="git", address=f"file://{repo.path}", root="docs")
    first = run_sync([remote], settings, embedder)
    assert len(first.new) == 4  # intro, install, faq and the draft (no exclude here)
    assert list((settings.data_dir / "sync" / "git").glob("remote-*.git"))
    repo.write("docs/intro.md", page("Intro", "Purpose", "Remote edit"))
    repo.commit("edit upstream")
    again = run_sync([remote], settings, embedder)
    assert again.changed == ["remote:intro.md"]
