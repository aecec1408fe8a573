import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from askwiki.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_documents_every_setting() -> None:
    documented = set(
        re.findall(r"^ASKWIKI_([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )
    fields = {name.upper() for name in Settings.model_fields}
    assert documented == fields


def test_every_documented_setting_has_a_comment() -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("ASKWIKI_") and not line.startswith(("ASKWIKI_HOST", "ASKWIKI_PORT")):
            assert lines[i - 1].startswith("#"), f"{line} has no comment above it"


def test_overlap_must_be_smaller_than_chunk() -> None:
    with pytest.raises(ValidationError, match="ASKWIKI_CHUNK_OVERLAP_TOKENS"):
        Settings(chunk_tokens=64, chunk_overlap_tokens=64, _env_file=None)  # type: ignore[call-arg]


def test_index_name_cannot_escape_index_dir() -> None:
    with pytest.raises(ValidationError, match="index name"):
        Settings(index="../etc", _env_file=None)  # type: ignore[call-arg]


def test_ollama_host_read_from_its_standard_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "http://10.0.0.5:11434")
    assert Settings(_env_file=None).ollama_host == "http://10.0.0.5:11434"  # type: ignore[call-arg]


def test_allowed_origins_parsed_from_comma_list() -> None:
    settings = Settings(allowed_origins="https://a.example, https://b.example/", _env_file=None)  # type: ignore[call-arg]
    assert settings.origins == ["https://a.example", "https://b.example"]


def test_env_example_values_load_as_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.startswith("ASKWIKI_"):
            key, _, value = line.partition("=")
            monkeypatch.setenv(key, value)
    loaded = Settings(_env_file=None)  # type: ignore[call-arg]
    defaults = Settings.model_construct()
    assert loaded.url_base is None and loaded.llm_model_path is None and loaded.admin_token is None
    assert loaded.model_dir == Path("~/.cache/askwiki/models").expanduser() == defaults.model_dir
    for name in Settings.model_fields:
        assert getattr(loaded, name) == getattr(defaults, name), name


def test_readme_configuration_table_matches_env_example() -> None:
    documented = dict(
        re.findall(r"^(ASKWIKI_[A-Z0-9_]+)=(.*)$", (ROOT / ".env.example").read_text(), re.M)
    )
    table = dict(
        re.findall(
            r"^\| `(ASKWIKI_[A-Z0-9_]+)` \| `([^`]*)` \|", (ROOT / "README.md").read_text(), re.M
        )
    )
    assert table == {key: value or "(unset)" for key, value in documented.items()}
