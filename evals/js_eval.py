"""The quality scorer on the JavaScript labelled set (evals/js_labelled.jsonl): held-out AUROC and the rest.

`hermes eval-scorer` can report the same through proxy.judgment.scorer_eval.evaluate,
which takes any labelled file: `evaluate(DEFAULT_DATA.with_name("js_labelled.jsonl"), config)`.
Where node (or the sandbox) is missing, code_run is skipped on every item and
the figures say nothing about JavaScript execution: `js_report` says so.

    .venv/bin/python evals/js_eval.py [--limit N]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from proxy.config_schema import QualityConfig
from proxy.judgment.sandbox import node_status
from proxy.judgment.scorer_eval import HELD_OUT, EvalReport, evaluate, format_report

JS_DATA = Path(__file__).resolve().parent / "js_labelled.jsonl"


def js_report(config: QualityConfig | None = None, limit: int | None = None) -> EvalReport:
    """The scorer against the JavaScript labels (all, code, held-out, held-out code)."""
    return evaluate(JS_DATA, config, limit)


def held_out_auroc(config: QualityConfig | None = None) -> float | None:
    """AUROC on the held-out JavaScript problems; None when node cannot run here (the figure would mislead)."""
    if not node_status().available:
        return None
    return js_report(config).figures("held-out").auroc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    status = node_status()
    if not status.available:
        print(f"JavaScript examples cannot run here ({status.reason}); code_run is skipped on every item")
    report = js_report(limit=args.limit)
    print(format_report(report))
    print(f"held-out ({HELD_OUT} split) AUROC: {report.figures('held-out').auroc}")


if __name__ == "__main__":
    main()
