"""Token estimates: exact input tokens, output tokens learned per (task type, model).

Output length starts from a prior per task type and moves toward what real
responses show (a weighted moving average). Confidence grows with samples and
shrinks with their spread, so a learned estimate is trusted only as far as
the data deserve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import litellm


@dataclass(frozen=True)
class Prior:
    input_tokens: int
    output_tokens: int
    confidence: float


# The Hermes spec's priors per task type: (input, output, confidence).
TASK_PRIORS: dict[str, Prior] = {
    "quick_qa": Prior(50, 100, 0.7),
    "code_generation": Prior(150, 400, 0.6),
    "analysis": Prior(300, 600, 0.5),
    "creative_writing": Prior(100, 300, 0.6),
    "debugging": Prior(400, 500, 0.5),
    "conversation": Prior(80, 150, 0.8),
    "data_processing": Prior(200, 300, 0.6),
    "research": Prior(250, 800, 0.4),
}
DEFAULT_TASK_TYPE = "conversation"

# The newest sample's weight never drops below this, so estimates keep
# following a model whose answers change length.
MIN_LEARNING_RATE = 0.1
MAX_CONFIDENCE = 0.99


@dataclass(frozen=True)
class Learned:
    """What real responses showed for one (task type, model)."""

    samples: int
    mean_output_tokens: float
    variance: float


@dataclass(frozen=True)
class Estimate:
    task_type: str
    input_tokens: int
    output_tokens: int
    confidence: float
    samples: int


def count_input_tokens(litellm_model: str, messages: list[dict[str, Any]], tools: Any = None) -> int:
    """Input tokens as the model's tokenizer counts them (litellm's counter, offline).

    An image counts as LiteLLM's default: for a "high" detail image it would
    otherwise download the URL to measure it. Audio and file parts, which it
    cannot count, count as their base64 text: more than they cost, never less.
    """
    countable = [_countable(message) for message in messages]
    return int(litellm.token_counter(model=litellm_model, messages=countable, tools=tools,
                                     use_default_image_token_count=True))


def _countable(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    if not isinstance(content, list):
        return message
    parts = [p if p.get("type") in ("text", "image_url") else {"type": "text", "text": _part_text(p)} for p in content]
    return message | {"content": parts}


def _part_text(part: dict[str, Any]) -> str:
    inner = part.get(part["type"])  # refusal: a string; input_audio, file: an object of strings
    return inner if isinstance(inner, str) else " ".join(str(v) for v in (inner or {}).values())


def prior_for(task_type: str) -> Prior:
    return TASK_PRIORS.get(task_type, TASK_PRIORS[DEFAULT_TASK_TYPE])


def estimate_output(task_type: str, learned: Learned | None) -> tuple[int, float]:
    """Expected output tokens and the confidence in that number (0-1)."""
    prior = prior_for(task_type)
    if learned is None or learned.samples == 0:
        return prior.output_tokens, prior.confidence
    return round(learned.mean_output_tokens), _confidence(learned)


def learn(task_type: str, learned: Learned | None, actual_output_tokens: int) -> Learned:
    """Fold one real response into what is known; the prior counts as the starting mean."""
    prior = prior_for(task_type)
    if learned is None:
        learned = Learned(0, float(prior.output_tokens), _prior_variance(prior))
    rate = max(1.0 / (learned.samples + 2), MIN_LEARNING_RATE)
    delta = actual_output_tokens - learned.mean_output_tokens
    mean = learned.mean_output_tokens + rate * delta
    variance = (1 - rate) * (learned.variance + rate * delta * delta)
    return Learned(learned.samples + 1, mean, variance)


def prediction_error_pct(predicted_usd: float, actual_usd: float) -> float:
    """How far a cost prediction missed, in percent of the actual cost (a free call: 0 or 100)."""
    if actual_usd <= 0:
        return 0.0 if predicted_usd <= 0 else 100.0
    return abs(predicted_usd - actual_usd) / actual_usd * 100


def _prior_variance(prior: Prior) -> float:
    # The prior's confidence c is read as a coefficient of variation (1 - c) / c.
    cv = (1 - prior.confidence) / prior.confidence
    return (cv * prior.output_tokens) ** 2


def _confidence(learned: Learned) -> float:
    cv = math.sqrt(max(learned.variance, 0.0)) / max(learned.mean_output_tokens, 1.0)
    # Relative standard error of the learned mean; at zero samples this is the prior's own confidence.
    return min(MAX_CONFIDENCE, 1.0 / (1.0 + cv / math.sqrt(learned.samples + 1)))
