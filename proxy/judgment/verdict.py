"""One check's verdict on an answer, before the scorer weighs it.

The checks (maths.py, agent_checks.py, ...) each return these; quality.py names
them as signals and weighs them. Kept apart so the checks need not import the scorer.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """`value` from -1 (bad) to +1 (good), None when the check does not apply; `brief` is for one-line summaries."""

    value: float | None
    detail: str
    brief: str = ""
