"""``askwiki eval`` end to end on ``tests/fixtures/eval`` with the real embedding model.

The fixture wiki has 4 pages (3 English, 1 Chinese); its 6 questions reuse their passage's
wording, so the real multilingual-e5-small + BM25 retriever ranks a gold passage first for
every answerable one, and the World Cup question finds nothing above the relevance floor.
The ``--answers`` case scripts the LLM (FakeLLM) so that the expected answer metrics are
known exactly; the citations are still checked by the real embedder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from askwiki.answering.service import AnswerService
from askwiki.cli.main import app
from askwiki.embedding import embedder as embedder_module
from askwiki.embedding.embedder import Embedder
from askwiki.evaluation import EvalRunner, load_questions
from askwiki.ingest.pipeline import run_ingest
from askwiki.live_index import LiveIndex
from askwiki.retrieval_options import retrieval_options
from askwiki.settings import Settings
from askwiki.testing.fake_llm import FakeLLM
from tests.conftest import FIXTURES

pytestmark = pytest.mark.integration

EVAL = FIXTURES / "eval"
REPLIES = [
    # 1: right, and cites the History section.
    "The Skerry Point lighthouse was first lit on 12 March 1874 [1].",
    # 2: right; its second sentence cites the 产地 section, which lacks the answer.
    "冲泡碧螺春宜用七十五度左右的水[1]。碧螺春产于江苏省苏州市吴县太湖的洞庭山[2]。",
    # 3: wrong (no temperature), citing the gold Baking section.
    "Let the bread rest for a full day before slicing [1].",
    # 4: sources only, so not judged for accuracy; cites the gold page.
    "The climb to the lantern room is 114 steps [1].",
    # 5: a follow-up: first the standalone rewrite, then the answer.
    "Since when has the ice near the entrance of the Rhône Glacier grotto been covered?",
    "Since 2010 the ice near the entrance has been covered with white blankets [1].",
    # 6: refused before the LLM is called, so this reply is never used.
    "UNUSED",
]


@pytest.fixture(scope="module")
def eval_settings(tmp_path_factory: pytest.TempPathFactory, real_embedder: Embedder) -> Settings:
    settings = Settings(
        index_dir=tmp_path_factory.mktemp("eval-indexes"),
        index="evalfix",
        _env_file=None,  # type: ignore[call-arg]
    )
    report = run_ingest([EVAL / "wiki"], settings, real_embedder)
    assert report.documents == 4, report
    return settings


def _live(settings: Settings, embedder: Embedder) -> LiveIndex:
    live = LiveIndex(settings.index_path, embedder, retrieval_options(settings))
    live.load()
    return live


def test_eval_cli_retrieval_metrics_are_exact(
    eval_settings: Settings,
    real_embedder: Embedder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(embedder_module, "load_embedder", lambda settings: real_embedder)
    out = tmp_path / "rows.jsonl"
    args = ["eval", str(EVAL / "questions.jsonl"), "--index", eval_settings.index]
    args += ["--index-dir", str(eval_settings.index_dir), "--json", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)["summary"]
    assert summary["mode"] == "retrieval"
    assert (summary["questions"], summary["answerable"], summary["unanswerable"]) == (6, 5, 1)
    assert (summary["hit_at_1"], summary["hit_at_5"], summary["mrr_at_10"]) == (1.0, 1.0, 1.0)
    assert summary["no_answer_rate"] == pytest.approx(1 / 6)
    assert (summary["correct_refusals"], summary["refusal_rate"]) == (1, 1.0)
    assert (summary["errors"], summary["bad_lines"]) == (0, 0)

    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [row["hit_rank"] for row in rows] == [1, 1, 1, 1, 1, None]
    assert [row["retrieved"][0]["doc_id"] for row in rows[:5]] == [
        "lighthouse.md",
        "碧螺春.md",
        "sourdough.md",
        "lighthouse.md",
        "glacier.md",
    ]
    assert rows[5]["retrieved"] == [] and rows[5]["refused"] is True
    # Without an LLM a follow-up searches its last user turn joined with the question.
    assert rows[4]["query"].startswith("How long is the tunnel cut into the Rhône Glacier")


def test_eval_answers_metrics_are_exact_with_a_scripted_llm(
    eval_settings: Settings, real_embedder: Embedder
) -> None:
    live = _live(eval_settings, real_embedder)
    llm = FakeLLM(REPLIES)
    service = AnswerService(eval_settings, live, real_embedder, lambda: llm)
    questions, bad = load_questions(EVAL / "questions.jsonl")
    report = EvalRunner(live, service).run(questions, bad)
    s = report.summary
    assert s.mode == "answers"
    assert (s.hit_at_1, s.hit_at_5, s.mrr_at_10) == (1.0, 1.0, 1.0)
    assert s.answered == 5
    assert s.answer_accuracy == 0.75  # questions 1, 2, 5 of the 4 with gold answers
    assert s.cited_sources == 6
    assert s.citation_precision == pytest.approx(5 / 6)  # the 产地 citation holds no answer
    assert s.answers_with_citation == 1.0
    assert s.no_answer_rate == pytest.approx(1 / 6)
    assert (s.correct_refusals, s.refusal_rate) == (1, 1.0)
    assert not report.failed

    rows = report.rows
    assert [row.correct for row in rows] == [True, True, False, None, True, None]
    assert [row.status for row in rows][-1] == "no_answer"
    assert [[c.gold for c in row.cited] for row in rows[:5]] == [
        [True],
        [True, False],
        [True],
        [True],
        [True],
    ]
    # The follow-up was answered from the rewritten question, with the history passed on.
    assert rows[4].query == REPLIES[4]
    assert "Rhône Glacier every spring" in llm.calls[4].messages[-1].content
    assert len(llm.calls) == 6
