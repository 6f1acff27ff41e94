from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from bot.errors import TrainingDataError
from bot.sentiment.data import SUPPORT_FILE, read_jsonl, read_support_csv


def test_rows_comments_and_quoted_commas_are_read(tmp_path: Path) -> None:
    path = tmp_path / "support.csv"
    path.write_text('# comment\nlabel,text\nnegative,"late, again"\n\nPositive,thanks!\n', encoding="utf-8")
    examples = read_support_csv(path, tmp_path)
    assert [(e.label, e.text) for e in examples] == [("negative", "late, again"), ("positive", "thanks!")]


def test_every_bad_row_is_reported_with_its_line_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "support.csv"
    path.write_text("label,text\nangry,where is it\nneutral,\nnegative,late, again\n", encoding="utf-8")
    with pytest.raises(TrainingDataError) as info:
        read_support_csv(path, tmp_path)
    shown = [str(p) for p in info.value.problems]
    assert (
        shown[0].startswith("support.csv:2:label: unknown label 'angry'") and "negative, neutral, positive" in shown[0]
    )
    assert shown[1].startswith("support.csv:3: the message is empty")
    assert shown[2].startswith("support.csv:4: expected 2 columns") and "quote" in shown[2]


def test_a_missing_header_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "support.csv"
    path.write_text("negative,late\n", encoding="utf-8")
    with pytest.raises(TrainingDataError, match="header"):
        read_support_csv(path, tmp_path)


def test_general_jsonl_rows_are_read_and_bad_lines_reported(tmp_path: Path) -> None:
    path = tmp_path / "general.jsonl"
    path.write_text('{"text": "so good", "label": "positive"}\n{"text": "x"}\n', encoding="utf-8")
    with pytest.raises(TrainingDataError, match="general.jsonl:2"):
        read_jsonl(path, tmp_path)


def test_the_shipped_support_data_is_balanced_and_kept_apart_from_the_benchmark(repo_root: Path) -> None:
    examples = read_support_csv(repo_root / "intents" / SUPPORT_FILE, repo_root)
    counts = Counter(e.label for e in examples)
    assert min(counts.values()) >= 130, counts
    bench = [json.loads(line) for line in (repo_root / "benchmarks/data/support_sentiment.jsonl").open()]
    benchmark_texts = {b["text"].strip().lower() for b in bench}
    assert not benchmark_texts & {e.text.strip().lower() for e in examples}
    assert Counter(b["label"] for b in bench) == {"negative": 100, "neutral": 100, "positive": 100}
    assert sum("context" in b for b in bench) == 150
