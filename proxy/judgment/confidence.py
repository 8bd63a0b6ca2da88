"""The local model's own confidence: how probable it found the tokens of its answer.

A short factual answer ("Paris") gives the other checks nothing to read: no
working to check, no code to run, too short for prose to judge. What is left
is the model itself. A model that knows an answer writes it with tokens it
finds likely; one that is making it up hesitates, and the log-probability of
its likeliest token at each step, its least likely chosen token and the
spread of each step's alternatives (their entropy) show it. These are the
standard uncertainty signals of cascade routers. The likeliest token's, not
the chosen one's, for the mean: at a client's temperature the draw can take
a less likely token where the model was sure (five-fold cross-validation on
the short-answer set: AUROC 0.717 against 0.689 with the chosen tokens').

The three are combined by a logistic model fitted on the embedded model's own
answers to short questions with known answers (evals/make_short_answers.py
writes `confidence_weights.json`), into the chance the answer is right; the
signal's value runs from -1 (surely wrong) through 0 (the chance the scorer
gives an answer nothing speaks for) to +1 (surely right).
The fit is the embedded model's. A larger model is surer of its tokens, right
or wrong, so its answers read as surer than SmolLM2's would; the recorded
values let `evals/calibrate.py --outcomes` reweigh the signal from what the
next turns said of your own model's answers.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxy.judgment import code_blocks, maths
from proxy.judgment.verdict import Verdict

WEIGHTS_FILE = Path(__file__).resolve().parent / "confidence_weights.json"
FEATURES = ("mean_best_logprob", "min_logprob", "mean_entropy")
# Only the opening tokens are read: a short answer is stated in its first sentence, and what a small model adds
# after it says little about whether it was right. Five-fold cross-validation on the short-answer set chose 16
# of 5, 8, 10, 12, 16, 24 and all (AUROC 0.717 against 0.683 for all of an answer's tokens).
OPENING_TOKENS = 16
# The longest answer of the set it was fitted on (evals/make_short_answers.py's max_tokens).
FITTED_TOKENS = 128
# The chance of being right the scorer gives an answer no signal speaks for (its no-signal 3.7 of 10): a
# confidence above it counts for the answer, below it against. Centred at 50%, every answer between 37% and 50%
# would count against while being right more often than the no-signal score says, and calibration, which keeps
# weights at or above zero, could only weigh that side at nothing: a fifth of the short answers tied at 3.7.
NEUTRAL_CHANCE = 0.37


@dataclass(frozen=True)
class Confidence:
    """An answer's token log-probabilities, summarised."""

    tokens: int  # in the whole answer; the rest are of its OPENING_TOKENS
    mean_best_logprob: float  # of the likeliest token at each step, whichever was drawn
    min_logprob: float  # of the tokens drawn
    mean_entropy: float  # nats, of each step's listed alternatives renormalised; 0 where none were listed

    def features(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in FEATURES}


def summarise(entries: Sequence[Mapping[str, Any]]) -> Confidence | None:
    """The summary of Ollama's `logprobs` entries, or None when there are none."""
    opening = entries[:OPENING_TOKENS]
    if not opening:
        return None
    logprobs = [float(entry["logprob"]) for entry in opening]
    best = [max([logprob, *_listed(entry)]) for logprob, entry in zip(logprobs, opening)]
    entropies = [_entropy(_listed(entry)) for entry in opening]
    return Confidence(len(entries), sum(best) / len(best), min(logprobs), sum(entropies) / len(entropies))


def _listed(entry: Mapping[str, Any]) -> list[float]:
    """The log-probabilities of a step's listed alternatives (none when the model listed none)."""
    return [float(a["logprob"]) for a in entry.get("top_logprobs") or () if isinstance(a.get("logprob"), int | float)]


def _entropy(logprobs: Sequence[float]) -> float:
    probabilities = [math.exp(logprob) for logprob in logprobs]
    total = sum(probabilities)
    if total <= 0:
        return 0.0
    return -sum(p / total * math.log(p / total) for p in probabilities if p > 0)


@functools.cache
def load_weights(path: Path = WEIGHTS_FILE) -> dict[str, float]:
    """The fitted logistic model: an intercept and a coefficient per feature."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {"intercept": float(data["intercept"])} | {name: float(data["coefficients"][name]) for name in FEATURES}


def chance_right(confidence: Confidence, weights: Mapping[str, float]) -> float:
    """The fitted chance that an answer with this confidence is right."""
    features = confidence.features()
    logit = weights["intercept"] + sum(weights[name] * features[name] for name in FEATURES)
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))


def confidence_verdict(task: str, text: str, calls: bool, entries: Sequence[Mapping[str, Any]] | None) -> Verdict:
    """The confidence signal: +1 for an answer its model was sure of, -1 for one it was guessing.

    It speaks only on the answers it was fitted on: direct answers in words, no longer than FITTED_TOKENS.
    Code, maths and agent steps have checks of their own, and how sure a small model is of those was not
    measured; on sums it was, and says nothing.
    """
    if entries is None:
        return Verdict(None, "no token log-probabilities: not a local model's answer")
    if calls:
        return Verdict(None, "an agent step: judged by its tool calls")
    if maths.is_maths_task(task):
        # A small model is as sure of a wrong sum as of a right one (AUROC 0.42 on 120 generated sums).
        return Verdict(None, "a maths question: judged by its working, not the model's certainty")
    if maths.CODE_IN_TASK.search(task) or code_blocks.fenced_blocks(text):
        return Verdict(None, "code: judged by its code, not the model's certainty")
    if len(entries) > FITTED_TOKENS:
        return Verdict(None, f"{len(entries)} tokens, longer than the short answers it was fitted on "
                             f"({FITTED_TOKENS} at most)")
    confidence = summarise(entries)
    if confidence is None:
        return Verdict(None, "the local model sent no token log-probabilities (an Ollama before 0.12.11?)")
    chance = chance_right(confidence, load_weights())
    value = (chance - NEUTRAL_CHANCE) / (1 - NEUTRAL_CHANCE if chance >= NEUTRAL_CHANCE else NEUTRAL_CHANCE)
    return Verdict(value,
                   f"the model's opening tokens: likeliest's mean log-probability {confidence.mean_best_logprob:.2f}, least likely "
                   f"{confidence.min_logprob:.2f}, entropy {confidence.mean_entropy:.2f} over {confidence.tokens} "
                   f"tokens; right {chance:.0%} of the time at that confidence",
                   f"{chance:.0%} sure")
