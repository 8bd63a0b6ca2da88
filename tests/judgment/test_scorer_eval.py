"""Evaluating the scorer: AUROC and MAE against labelled answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proxy.config_schema import QualityConfig
from proxy.judgment.quality import RUN_CODE_OFF
from proxy.judgment.sandbox import sandbox_available, sandbox_status
from proxy.judgment.scorer_eval import (
    DEFAULT_DATA,
    MATHS_DATA,
    PROSE_DATA,
    auroc,
    evaluate,
    evaluate_maths,
    evaluate_prose,
    evaluate_unrun,
    format_report,
    load_items,
    load_prose,
    mean_absolute_error,
    pairwise_accuracy,
    prose_figures,
    spearman,
)

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


def test_pairwise_accuracy_counts_the_pairs_the_judge_told_apart() -> None:
    # One instruction, preferences 1.9 > 1.5 > 1.05 > 1.0; 1.05 and 1.0 are too close to count: five pairs.
    preferences = [[1.9, 1.5, 1.0, 1.05]]

    assert pairwise_accuracy(preferences, [[3.0, 2.0, 1.0, 9.0]]) == pytest.approx(3 / 5)  # 1.05 over 1.9 and 1.5: wrong
    assert pairwise_accuracy(preferences, [[3.0, 2.0, 1.0, 1.0]]) == 1.0
    assert pairwise_accuracy(preferences, [[5.0, 5.0, 5.0, 5.0]]) == 0.5
    assert pairwise_accuracy([[1.0, 1.0]], [[1.0, 2.0]]) == 0.5  # no pairs: chance


def test_spearman_of_ranks_with_ties() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 2, 2], [1, 2, 3, 4]) == pytest.approx(0.894, abs=1e-3)
    assert spearman([1, 1, 1], [1, 2, 3]) == 0.0


def test_prose_figures_put_length_beside_the_scorer() -> None:
    items = [{"group": 0, "preference": p, "answer": {"content": "x" * n}} for p, n in ((1.9, 10), (1.0, 100))]

    figures = prose_figures(items, [8.0, 2.0])

    assert (figures.pairs, figures.pairwise, figures.pairwise_length) == (1, 1.0, 0.0)


def test_the_shipped_prose_set_is_split_by_instruction_and_commit_sized() -> None:
    train, test = load_prose(PROSE_DATA, "train"), load_prose(PROSE_DATA, "test")

    assert PROSE_DATA.stat().st_size < 5 * 1024 * 1024
    assert len(train) + len(test) == 805 and 150 < len(test) < 330
    assert not {g["instruction"] for g in train} & {g["instruction"] for g in test}
    assert all(1.0 <= a["preference"] <= 2.0 for g in test for a in g["answers"])
    assert "example" not in {a["generator"] for g in test for a in g["answers"]}  # the judge-gaming NullModel


def test_the_scorer_beats_answer_length_on_held_out_prose() -> None:
    figures = evaluate_prose(PROSE_DATA, QualityConfig(run_code=False))

    assert figures.instructions == len(load_prose(PROSE_DATA, "test"))
    assert figures.pairwise >= 0.65
    assert figures.pairwise > figures.pairwise_length
    assert 0.4 < figures.pairwise_random < 0.6


def test_the_scorer_separates_right_from_wrong_held_out_maths() -> None:
    held_out = evaluate_maths(MATHS_DATA, QualityConfig(run_code=False))[0]

    assert held_out.group == "held-out" and held_out.items == sum(
        1 for item in load_items(MATHS_DATA) if item["split"] == "test")
    assert held_out.auroc is not None and held_out.auroc >= 0.75


def test_eval_scorer_reports_maths_and_prose_beside_python(tmp_path: Path) -> None:
    report = evaluate(DEFAULT_DATA, QualityConfig(run_code=False), limit=20)
    text = format_report(report)

    assert report.prose is not None and report.prose.instructions == 20
    assert report.maths_figures("held-out").items == 20
    assert "length alone" in text and "pairwise" in text and "maths on maths_labelled.jsonl" in text
    assert report.javascript_figures("held-out").items == 20 and "javascript on js_labelled.jsonl" in text
    assert report.javascript_note == RUN_CODE_OFF  # the JavaScript figures say their examples did not run
    elsewhere = tmp_path / "few.jsonl"
    elsewhere.write_text("".join(json.dumps(item) + "\n" for item in load_items(DEFAULT_DATA, 3)))
    assert evaluate(elsewhere, QualityConfig(run_code=False)).prose is None  # another file: that file alone


def test_with_nothing_run_the_static_reading_beats_length_on_held_out_code() -> None:
    unrun = evaluate_unrun(DEFAULT_DATA)

    static = next(s for s in unrun.signals if s.name == "code_static")
    assert unrun.auroc is not None and unrun.length_auroc is not None
    assert unrun.auroc > unrun.length_auroc + 0.05
    assert static.auroc is not None and static.auroc > 0.65 and static.fires > 0.7 and static.cost_us is not None
