"""What a score must beat: answer length, chance, and each signal on its own.

A scorer figure means little alone: on held-out maths a long answer is more
often a worked one, and on prose GPT-4's judge likes length. So beside the
scorer's AUROC, `hermes eval-scorer` prints what ranking by length alone and
by each single signal reaches on the same answers, how often each signal
fires, and the largest share of answers holding one score (a gate cannot
split a tie: a set that mostly scores 9.7 is a set the cascade cannot sort).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class _Evidence(Protocol):
    name: str
    value: float | None


@dataclass(frozen=True)
class SignalFigure:
    """One signal alone on a set: how often it fires and how well its value ranks the answers."""

    name: str
    fires: float  # share of answers where it gives a verdict
    auroc: float | None  # its value as the score (skipped counts as 0)


@dataclass(frozen=True)
class Baselines:
    """The scorer beside length and chance on one labelled set."""

    label: str
    answers: int
    auroc: float | None
    length_auroc: float | None
    largest_tie: float  # the largest share of answers holding one score (one decimal)
    signals: tuple[SignalFigure, ...]


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """The chance that a random passing item outscores a random failing one (ties count half)."""
    positives = [s for s, label in zip(scores, labels) if label]
    negatives = [s for s, label in zip(scores, labels) if not label]
    if not positives or not negatives:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def baselines(label: str, texts: Sequence[str], labels: Sequence[bool], scores: Sequence[float],
              evidence: Sequence[Sequence[_Evidence]], names: Sequence[str]) -> Baselines:
    """The figures of `scores`, of length and of each named signal alone against `labels`."""
    ties = Counter(round(s, 1) for s in scores)
    signals = []
    for name in names:
        values = [next((e.value for e in found if e.name == name), None) for found in evidence]
        fired = sum(1 for v in values if v is not None)
        if fired:
            signals.append(SignalFigure(name, fired / len(values), auroc([v or 0.0 for v in values], labels)))
    return Baselines(label, len(scores), auroc(scores, labels), auroc([float(len(t)) for t in texts], labels),
                     max(ties.values()) / len(scores) if scores else 0.0, tuple(signals))


def format_baselines(b: Baselines) -> list[str]:
    """Lines for the terminal: the scorer, length, random; then each signal alone."""
    def shown(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    lines = [f"{'':14} {'AUROC':>6}",
             f"{'scorer':14} {shown(b.auroc):>6}   (largest tie: {b.largest_tie:.0%} of answers on one score)",
             f"{'length alone':14} {shown(b.length_auroc):>6}",
             f"{'random':14} {0.5:6.3f}",
             "each signal alone: " + ", ".join(f"{s.name} {shown(s.auroc)} (fires {s.fires:.0%})" for s in b.signals)]
    return lines
