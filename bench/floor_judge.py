"""``bench/floor.py --judge``: the LLM relevance judge on top of the floor, measured.

For each answerable and absent-page question of the chosen sets (cross-language off, no
translation), the passages that pass a floor are those ``floor.passing`` finds among the
fused top 15; the judge (``askwiki.answering.judge``, the service's own prompt) is shown the
first ``JUDGED_PASSAGES`` of them, read from the set's index. The service shows it the
floor's passages after neighbouring chunks are merged, so a few prompts differ here.

- kept with the judge: the floor passes a gold passage and the judge does not refuse;
  when it names passages, one of those it named is gold (the service keeps only those).
- refused with the judge: the floor refuses, or the judge names no passage.
- an unreadable verdict leaves the floor's decision, as in the service.

Verdicts are cached per prompt in ``--cache-dir`` (with the seconds each call took when it
was made), so a rerun costs nothing and reports the measured seconds again. The band rows
call the judge only when the best passing page leads the other candidate pages by less than
a margin (``standout.page_standout``): a question outside the band keeps the floor's
decision and costs no call.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from askwiki.answering.judge import (
    JUDGED_PASSAGES,
    RelevanceJudge,
    judge_messages,
    parse_verdict,
)
from askwiki.documents import Chunk
from askwiki.llm.base import LLMBackend, count_message_tokens
from askwiki.llm.factory import create_backend
from askwiki.settings import Settings
from askwiki.store.index import WikiIndex, open_index
from bench.common import print_table, say
from bench.floor import (
    Features,
    Floor,
    answer_sets,
    group_of,
    passing,
    recorded_passages,
    set_index_path,
    settings_floor,
)

VERDICTS_FILE = "floor-judge-verdicts.json"
# Page leads under which the band rows call the judge (inf: always).
BANDS = (0.01, 0.02, 0.03, 0.05, float("inf"))
MISSES_SHOWN = 25


@dataclass
class JudgedRow:
    """One question searched in its own corpus, as the floor and the judge decide it."""

    set_name: str
    group: str
    question: str
    floor_passes: bool
    floor_keeps: bool  # a gold passage passes the floor
    answerable: bool
    lead: float  # the first passing passage's page lead (inf: no other page)
    shown: list[str]  # titles of the passages shown to the judge
    answering: tuple[int, ...] | None = None
    named_gold: bool = False
    reply: str = ""
    seconds: float = 0.0
    prompt_tokens: int = 0

    def kept(self, judged: bool) -> bool:
        if not self.floor_keeps:
            return False
        if not judged or self.answering is None:
            return True
        return self.named_gold

    def refused(self, judged: bool) -> bool:
        if not self.floor_passes:
            return True
        return judged and self.answering == ()


class VerdictCache:
    """The judge's replies per prompt, with the seconds and prompt tokens of the call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = (
            json.loads(path.read_text("utf-8")) if path.is_file() else {}
        )
        self._llm: LLMBackend | None = None
        self.calls = 0

    def ask(self, question: str, chunks: list[Chunk]) -> dict[str, Any]:
        """The judge's reply for these passages, from the cache or from the LLM now."""
        messages = judge_messages(question, chunks[:JUDGED_PASSAGES])
        key = hashlib.sha256(
            json.dumps([m.as_dict() for m in messages], ensure_ascii=False).encode("utf-8")
        ).hexdigest()
        if key in self.entries:
            return self.entries[key]
        llm = self._backend()
        verdict = RelevanceJudge(lambda: llm).judge(question, chunks)
        self.entries[key] = {
            "reply": verdict.reply,
            "seconds": round(verdict.seconds, 3),
            "prompt_tokens": count_message_tokens(messages, llm.count_tokens),
        }
        self.calls += 1
        self.path.write_text(json.dumps(self.entries, ensure_ascii=False), "utf-8")
        return self.entries[key]

    def _backend(self) -> LLMBackend:
        if self._llm is None:
            self._llm = create_backend(Settings(_env_file=None))  # type: ignore[call-arg]
            say(f"judging with {self._llm.name}:{self._llm.model}")
        return self._llm

    def close(self) -> None:
        if self._llm is not None:
            self._llm.close()


def judged_rows(
    floor: Floor,
    rows: list[dict[str, Any]],
    f: Features,
    indexes: dict[str, WikiIndex],
    cache: VerdictCache,
) -> list[JudgedRow]:
    """Every answerable and absent-page row of the judged sets, with the judge's verdict
    where the floor passes it."""
    passes = passing(floor, f)
    starts = np.searchsorted(f.passage_row, np.arange(len(rows) + 1))
    judged: list[JudgedRow] = []
    for n, row in enumerate(rows):
        if not judgeable(row) or row["corpus"] not in indexes:
            continue
        span = range(starts[n], starts[n + 1])
        shown = [i for i in span if passes[i]][:JUDGED_PASSAGES]
        recorded = recorded_passages(row)
        item = JudgedRow(
            set_name=str(row["set"]),
            group=group_of(row),
            question=str(row["question"]),
            floor_passes=bool(shown),
            floor_keeps=any(passes[i] and f.gold[i] for i in span),
            answerable=row["kind"] == "present",
            lead=float(f.page_standout[shown[0]]) if shown else 0.0,
            shown=[recorded[i - starts[n]].page for i in shown],
        )
        judged.append(item)
        if not shown:
            continue
        row_ids = [recorded[i - starts[n]].row_id for i in shown]
        stored = indexes[str(row["corpus"])].docstore.chunks_by_rows(row_ids)
        chunks = [stored[r].chunk for r in row_ids]
        asked = cache.calls
        entry = cache.ask(str(row["searched"]), chunks)
        item.reply = str(entry["reply"])
        item.seconds = float(entry["seconds"])
        item.prompt_tokens = int(entry["prompt_tokens"])
        item.answering = parse_verdict(item.reply, len(shown))
        item.named_gold = bool(item.answering) and any(
            f.gold[shown[k - 1]] for k in item.answering or ()
        )
        if cache.calls > asked and cache.calls % 10 == 0:
            say(f"{cache.calls} judge calls so far")
    return judged


def judgeable(row: dict[str, Any]) -> bool:
    return (
        row["kind"] in ("present", "absent") and not row["crossing"] and not row.get("translated")
    )


def shares(items: list[JudgedRow], judged: bool) -> dict[str, float]:
    """Kept share per answerable group, refused share per absent group (and all absent)."""
    groups: dict[str, list[bool]] = {}
    for item in items:
        ok = item.kept(judged) if item.answerable else item.refused(judged)
        groups.setdefault(item.group, []).append(ok)
        if item.group.startswith("refused absent gitlab"):
            groups.setdefault("refused absent gitlab-handbook (all)", []).append(ok)
    return {g: sum(v) / len(v) for g, v in sorted(groups.items())}


def called(item: JudgedRow, band: float) -> bool:
    """Whether the judge is called: the floor passes and the page lead is under ``band``."""
    return item.floor_passes and (band == float("inf") or item.lead < band)


def in_band(item: JudgedRow, band: float) -> JudgedRow:
    """The row as decided when the judge is only called below a page lead of ``band``."""
    if called(item, band):
        return item
    return JudgedRow(**{**item.__dict__, "answering": None, "seconds": 0.0})


def report_judge(args: argparse.Namespace, rows: list[dict[str, Any]], f: Features) -> None:
    """Kept/refused with and without the judge, its cost, the band rows and the misses."""
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    hybrids = [defaults.min_hybrid_score] + [
        float(h) for h in args.judge_hybrid.split(",") if h.strip()
    ]
    sets = answer_sets(args)
    indexes = {s.name: open_index(set_index_path(s, args.cache_dir)) for s in sets}
    cache = VerdictCache(args.cache_dir / VERDICTS_FILE)
    table: list[list[str]] = []
    headers: list[str] = []
    misses: list[str] = []
    costs: list[list[str]] = []
    try:
        for hybrid in hybrids:
            floor = settings_floor(defaults.model_copy(update={"min_hybrid_score": hybrid}), "")
            items = judged_rows(floor, rows, f, indexes, cache)
            for label, judged, band in [
                ("floor alone", False, 0.0),
                *((f"floor + judge{band_label(band)}", True, band) for band in BANDS),
            ]:
                decided = [in_band(i, band) if judged else i for i in items]
                scores = shares(decided, judged)
                headers = headers or list(scores)
                paid = [i.seconds for i in items if judged and called(i, band)]
                table.append(
                    [
                        f"{floor.name.split(';')[0]}: {label}",
                        *(f"{scores.get(g, 0.0):.3f}" for g in headers),
                        f"{len(paid) / len(items):.2f}",
                        f"{statistics.median(paid):.1f}" if paid else "-",
                        f"{percentile(paid, 95):.1f}" if paid else "-",
                    ]
                )
            misses += judge_misses(floor, items)
            costs += judge_costs(floor, items)
    finally:
        cache.close()
        for index in indexes.values():
            index.close()
    tokens = [int(e["prompt_tokens"]) for e in cache.entries.values()]
    print_table(
        "Relevance judge on top of the floor (cross-language off; kept = a gold passage passes "
        "and the judge keeps one; refused = the floor or the judge refuses)",
        ["floor", *headers, "share judged", "s/judged p50", "s/judged p95"],
        table,
    )
    print(
        f"{len(cache.entries)} verdicts cached ({cache.calls} asked in this run); prompt "
        f"tokens p50 {statistics.median(tokens) if tokens else 0:.0f}, max "
        f"{max(tokens, default=0)}. Seconds are those of each call when it was made.",
        flush=True,
    )
    print_table(
        "Cost of the judge called on every question the floor passes",
        ["floor", "set", "questions", "judged", "s p50", "s p95", "prompt tokens p50"],
        costs,
    )
    print("\n".join(misses[: MISSES_SHOWN * 2 * len(hybrids)]), flush=True)


def judge_costs(floor: Floor, items: list[JudgedRow]) -> list[list[str]]:
    """Per set: the share of questions judged and the seconds and prompt tokens per call."""
    lines = []
    for name in sorted({i.set_name for i in items}):
        mine = [i for i in items if i.set_name == name]
        paid = [i for i in mine if i.floor_passes]
        seconds = [i.seconds for i in paid]
        lines.append(
            [
                floor.name.split(";")[0],
                name,
                str(len(mine)),
                f"{len(paid) / len(mine):.2f}",
                f"{statistics.median(seconds):.1f}" if seconds else "-",
                f"{percentile(seconds, 95):.1f}" if seconds else "-",
                f"{statistics.median(i.prompt_tokens for i in paid):.0f}" if paid else "-",
            ]
        )
    return lines


def band_label(band: float) -> str:
    return "" if band == float("inf") else f" when page lead < {band:.2f}"


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def judge_misses(floor: Floor, items: list[JudgedRow]) -> list[str]:
    """Answerable questions the judge lost and absent-page ones it let through."""
    lost = [i for i in items if i.answerable and i.floor_keeps and not i.kept(True)]
    passed = [i for i in items if not i.answerable and i.floor_passes and not i.refused(True)]
    lines = [f"\n#### Judge misses on {floor.name.split(';')[0]}\n"]
    for title, chosen in (("answerable lost", lost), ("absent let through", passed)):
        lines.append(f"{title}: {len(chosen)}\n")
        lines += [
            f"- [{i.group}] {i.question!r} -> reply {i.reply!r}; shown: {' | '.join(i.shown)}"
            for i in chosen[:MISSES_SHOWN]
        ]
    return lines
