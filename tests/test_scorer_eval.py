"""Evaluating the scorer: AUROC and MAE against labelled answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proxy.config import QualityConfig
from proxy.scorer_eval import DEFAULT_DATA, auroc, evaluate, format_report, load_items, mean_absolute_error
from proxy.sandbox import sandbox_available, sandbox_status

needs_sandbox = pytest.mark.skipif(not sandbox_available(), reason=f"no working sandbox: {sandbox_status().reason}")


def test_auroc_of_a_hand_made_set() -> None:
    # Passing scores 9, 7, 4; failing 8, 3, 1. Of the 9 pairs the passing item wins
    # (9>8, 9>3, 9>1, 7>3, 7>1, 4>3, 4>1) 7 and loses (7<8, 4<8) 2: AUROC 7/9.
    scores = [9.0, 8.0, 7.0, 4.0, 3.0, 1.0]
    passed = [True, False, True, True, False, False]

    assert auroc(scores, passed) == pytest.approx(7 / 9)


def test_auroc_counts_ties_as_half() -> None:
    assert auroc([5.0, 5.0], [True, False]) == 0.5
    assert auroc([9.0, 1.0, 5.0, 5.0], [True, False, True, False]) == pytest.approx((1 + 1 + 1 + 0.5) / 4)


def test_auroc_needs_both_kinds() -> None:
    assert auroc([9.0, 8.0], [True, True]) is None


def test_mean_absolute_error() -> None:
    assert mean_absolute_error([9.0, 2.0, 5.0], [10.0, 0.0, 5.0]) == pytest.approx(1.0)
    assert mean_absolute_error([], []) is None


def test_the_shipped_data_is_labelled_and_commit_sized() -> None:
    items = load_items(DEFAULT_DATA)

    assert DEFAULT_DATA.stat().st_size < 3 * 1024 * 1024
    assert len(items) > 600
    assert {"canonical", "smollm2_t0"} <= {item["kind"] for item in items}
    assert all(0 <= item["grade"] <= 10 and item["passed"] == (item["grade"] == 10) for item in items)
    assert {item["split"] for item in items} == {"train", "test"}


@needs_sandbox
def test_evaluate_on_the_first_shipped_items_gives_sane_figures() -> None:
    report = evaluate(DEFAULT_DATA, QualityConfig(), limit=30)

    overall = report.figures("all")
    assert report.items == overall.items == 30
    assert 0 < overall.passing < 30
    assert overall.auroc is not None and 0.7 <= overall.auroc <= 1.0
    assert overall.mae is not None and 0 <= overall.mae <= 10
    assert report.sandbox_skipped == 0
    text = format_report(report)
    assert "AUROC" in text and "code" in text


def test_evaluate_without_running_code_counts_the_skips(tmp_path: Path) -> None:
    items = load_items(DEFAULT_DATA, 12)
    data = tmp_path / "few.jsonl"
    data.write_text("".join(json.dumps(item) + "\n" for item in items))

    report = evaluate(data, QualityConfig(run_code=False))

    with_examples = report.items - sum(1 for item in items if item["kind"] in ("empty", "refusal"))
    assert report.sandbox_skipped == with_examples
    assert "code_run skipped on" in format_report(report)
    assert "quality.run_code: false" in format_report(report)
