"""What a score must beat: answer length, chance, and each signal on its own.

A scorer figure means little alone: on held-out maths a long answer is more
often a worked one, and on prose GPT-4's judge likes length. So beside the
scorer's AUROC, `hermes eval-scorer` prints what ranking by length alone and
by each single signal reaches on the same answers, how often each signal
fires, and the largest share of answers holding one score (a gate cannot
split a tie: a set that mostly scores 9.7 is a set the cascade cannot sort).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

T = TypeVar("T")


class _Evidence(Protocol):
    name: str
    value: float | None


@dataclass(frozen=True)
class SignalFigure:
    """One signal alone on a set: how often it fires and how well its value ranks the answers."""

    name: str
    fires: float  # share of answers where it gives a verdict
    auroc: float | None  # its value as the score (skipped counts as 0)
    cost_us: float | None = None  # median time it takes per answer, where timed


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


def time_each(checks: Mapping[str, Callable[[T], object]], items: Sequence[T]) -> dict[str, float]:
    """The median microseconds each check takes on one of `items`."""
    costs = {}
    for name, check in checks.items():
        times = []
        for item in items:
            started = time.perf_counter()
            check(item)
            times.append((time.perf_counter() - started) * 1e6)
        costs[name] = sorted(times)[len(times) // 2] if times else 0.0
    return costs


def baselines(label: str, texts: Sequence[str], labels: Sequence[bool], scores: Sequence[float],
              evidence: Sequence[Sequence[_Evidence]], names: Sequence[str],
              costs: Mapping[str, float] | None = None) -> Baselines:
    """The figures of `scores`, of length and of each named signal alone against `labels` (and its `costs`)."""
    ties = Counter(round(s, 1) for s in scores)
    signals = []
    for name in names:
        values = [next((e.value for e in found if e.name == name), None) for found in evidence]
        fired = sum(1 for v in values if v is not None)
        if fired:
            signals.append(SignalFigure(name, fired / len(values), auroc([v or 0.0 for v in values], labels),
                                        (costs or {}).get(name)))
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
             "each signal alone (AUROC; how often it fires; median time, reading the working counted once): "
             + ", ".join(f"{s.name} {shown(s.auroc)} (fires {s.fires:.0%}{_cost(s)})"
                                               for s in b.signals)]
    return lines


def _cost(signal: SignalFigure) -> str:
    return "" if signal.cost_us is None else f", {signal.cost_us:.0f} µs"


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (ties share their mean rank); 0.0 when either side is constant."""
    rx, ry = _ranks(x), _ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    var = (sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry)) ** 0.5
    return cov / var if var else 0.0


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):
            ranks[order[k]] = (start + end) / 2
        start = end + 1
    return ranks
