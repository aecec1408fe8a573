"""``bench/runtimes.py``: runtime specs, streamed timings, ratios and the answer check."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench.runtimes import (
    BASELINE,
    Run,
    Variant,
    first_difference,
    parse_variant,
    run_from_stream,
    summarise,
    worker_env,
)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "site" / "xllamacpp").mkdir(parents=True)
    return tmp_path / "site"


@pytest.fixture
def gguf(tmp_path: Path) -> Path:
    path = tmp_path / "q4_0.gguf"
    path.write_bytes(b"GGUF")
    return path


def test_parse_variant_reads_site_and_model(site: Path, gguf: Path) -> None:
    assert parse_variant(f"native=site:{site},model:{gguf}") == Variant("native", site, gguf)
    assert parse_variant(f"q4_0=model:{gguf}") == Variant("q4_0", None, gguf)
    assert parse_variant(f" native = site:{site}") == Variant("native", site, None)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("native", "expected LABEL="),
        ("=site:/x", "expected LABEL="),
        ("native=", "expected LABEL="),
        ("native=dir:/x", "bad part 'dir:/x'"),
        ("native=site:", "bad part 'site:'"),
        ("wheel=model:/x.gguf", "'wheel' is the baseline's label"),
        ("native=site:/nonexistent", "no xllamacpp package in /nonexistent"),
        ("q=model:/nonexistent.gguf", "no GGUF file at /nonexistent.gguf"),
    ],
)
def test_parse_variant_rejects_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match="--runtime") as caught:
        parse_variant(spec)
    assert message in str(caught.value)


def test_parse_variant_rejects_a_part_given_twice(gguf: Path) -> None:
    with pytest.raises(ValueError, match="bad part"):
        parse_variant(f"q=model:{gguf},model:{gguf}")


def _line(payload: dict[str, object]) -> str:
    return "data: " + json.dumps(payload)


def test_run_from_stream_joins_text_and_reads_llama_timings() -> None:
    lines = [
        _line({"choices": [{"delta": {"role": "assistant"}}]}),
        _line({"choices": [{"delta": {"content": "Hinton"}}]}),
        "",
        _line({"choices": [{"delta": {"content": " [1]."}}]}),
        _line(
            {
                "choices": [{"delta": {}}],
                "timings": {
                    "prompt_n": 550,
                    "prompt_ms": 5000.0,
                    "cache_n": 0,
                    "predicted_n": 16,
                    "predicted_ms": 800.0,
                },
            }
        ),
        "data: [DONE]",
    ]
    run = run_from_stream(lines, sent=10.0, first_at=15.25)
    assert run.text == "Hinton [1]."
    assert (run.prompt_tokens, run.cached_tokens, run.generated_tokens) == (550, 0, 16)
    assert run.prompt_tps == pytest.approx(110.0)
    assert run.generate_tps == pytest.approx(20.0)
    assert run.ttft_ms == pytest.approx(5250.0)


def test_run_from_stream_without_timings_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"no llama\.cpp timings"):
        run_from_stream([_line({"choices": [{"delta": {"content": "x"}}]})], 0.0, 0.1)


def _run(prompt_ms: float, ttft_ms: float, generate_ms: float, text: str) -> Run:
    return Run(500, prompt_ms, 0, 20, generate_ms, ttft_ms, text)


def test_summarise_gives_p50_ratios_to_the_baseline_and_counts_same_answers() -> None:
    runs = {
        "native": [
            [_run(2500, 2600, 500, "a"), _run(2500, 2600, 500, "a")],
            [_run(2000, 2100, 500, "b!"), _run(2000, 2100, 500, "b")],
        ],
        BASELINE: [
            [_run(5000, 5200, 1000, "a"), _run(5000, 5200, 1000, "a")],
            [_run(5000, 5200, 1000, "b"), _run(5000, 5200, 1000, "b")],
        ],
    }
    base, native = summarise(runs)
    assert (base.label, native.label) == (BASELINE, "native")
    assert (base.prompt_ratio, base.same_answers, base.answers) == (1.0, 2, 2)
    # p50 of per-request rates: 200, 200, 250, 250 tokens/s against 100.
    assert native.prompt_tps == pytest.approx(225.0)
    assert native.prompt_ratio == pytest.approx(2.25)
    assert native.ttft_ratio == pytest.approx(5200 / 2350)
    assert native.generate_ratio == pytest.approx(2.0)
    # One round of the second prompt differs from the baseline: that answer is not the same.
    assert native.same_answers == 1


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [("same", "same", None), ("abcd", "abXd", 2), ("abc", "abcdef", 3), ("", "x", 0)],
)
def test_first_difference(a: str, b: str, expected: int | None) -> None:
    assert first_difference(a, b) == expected


def test_worker_env_puts_the_build_folder_before_the_repository(site: Path) -> None:
    paths = worker_env(Variant("native", site)).get("PYTHONPATH", "").split(os.pathsep)
    assert paths[0] == str(site)
    assert (Path(paths[1]) / "bench" / "llm_worker.py").is_file()
    assert worker_env(Variant("q", None)).get("PYTHONPATH", "").split(os.pathsep) == paths[1:]
