"""Judgment: the 0-10 quality scorer and the checks it weighs.

quality.py gathers the evidence and weighs it (scorer_weights.json); each check
returns a verdict (verdict.py): code (code_blocks.py, code_checks.py,
run_plan.py, run in sandbox.py), JavaScript (js_checks.py, js_source.py,
js_harness.py), maths.py (its exact arithmetic in arithmetic.py), prose.py (prose_weights.json), agent_checks.py,
aider_edits.py, and the judge model (judge_model.py). outcome.py reads what
the next turn says of the last answer; scorer_eval.py measures the scorer on
labelled data.

May import: proxy (errors, config, chat).
"""
