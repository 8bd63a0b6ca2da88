"""Token estimates: exact input tokens, output tokens learned per (task type, model).

Output length starts from a prior per task type and moves toward what real
responses show (a weighted moving average). Confidence grows with samples and
shrinks with their spread, so a learned estimate is trusted only as far as
the data deserve.
"""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from proxy.fingerprint import Fingerprint, fingerprint
from proxy.storage.store import Learned


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
# Token counts remembered, by hash of (model, message or tool list): about
# 0.5 MB at most, whatever the parts' sizes.
COUNTED_PARTS = 4096
_counted: OrderedDict[tuple[str, str, int, int], int] = OrderedDict()
# A part longer than this (as marshalled) and never counted is counted on a worker thread by
# `count_input_tokens_off_loop`: litellm's counter takes 13 ms over a 286 KB file read, and on the
# event loop every other request would wait for it.
OFF_LOOP_BYTES = 32 * 1024


@dataclass(frozen=True)
class Estimate:
    task_type: str
    input_tokens: int
    output_tokens: int
    confidence: float
    samples: int


def count_input_tokens(litellm_model: str, messages: list[dict[str, Any]], tools: Any = None,
                       fingerprints: Sequence[Fingerprint] | None = None) -> int:
    """Input tokens as the model's tokenizer counts them (litellm's counter, offline), part by part.

    litellm counts a request as the sum of its messages' counts plus one for
    the tool definitions (and the reply's priming), so the parts are counted
    apart and remembered: an agent resends the same system prompt, tools and
    earlier turns with every request, and each is counted once. The total is
    the number litellm gives for the whole request. `fingerprints`: the
    messages' own (ChatRequest.fingerprints), taken once per request.

    An image counts as LiteLLM's default: for a "high" detail image it would
    otherwise download the URL to measure it. Audio and file parts, which it
    cannot count, count as their base64 text: more than they cost, never less.
    """
    return sum(_recalled(*part) for part in _parts(litellm_model, messages, tools, fingerprints))


async def count_input_tokens_off_loop(litellm_model: str, messages: list[dict[str, Any]], tools: Any = None,
                                      fingerprints: Sequence[Fingerprint] | None = None) -> int:
    """`count_input_tokens`, with the large parts it has never counted counted on a worker thread.

    An agent's newest tool result is such a part. The cache is touched only
    here, on the event loop's thread.
    """
    parts = _parts(litellm_model, messages, tools, fingerprints)
    fresh = [(key, count, part) for key, count, part in parts if key[2] > OFF_LOOP_BYTES and key not in _counted]
    if fresh:
        counts = await asyncio.to_thread(lambda: [count(litellm_model, part) for _, count, part in fresh])
        for (key, _, _), tokens in zip(fresh, counts):
            _remember(key, tokens)
    return sum(_recalled(*part) for part in parts)


def count_text_tokens(text: str) -> int:
    """Tokens in `text` by litellm's default tokenizer, remembered as the parts of a request are."""
    return _recalled(_key(_text_tokens, "", text), _text_tokens, text)


Part = tuple[tuple[str, str, int, int], Callable[[str, Any], int], Any]  # (cache key, how to count it, the part)


def _parts(litellm_model: str, messages: list[dict[str, Any]], tools: Any,
           fingerprints: Sequence[Fingerprint] | None) -> list[Part]:
    """A request's parts as litellm counts them: each message, and the tool definitions with the priming."""
    has_system = any(message.get("role") == "system" for message in messages)
    if fingerprints is None or len(fingerprints) != len(messages):
        fingerprints = [fingerprint(message) for message in messages]
    name = _message_tokens.__name__
    parts: list[Part] = [((name, litellm_model, *print_), _message_tokens, message)
                         for print_, message in zip(fingerprints, messages)]
    tool_part = [has_system, tools]
    parts.append((_key(_tool_tokens, litellm_model, tool_part), _tool_tokens, tool_part))
    return parts


def _key(count: Callable[[str, Any], int], litellm_model: str, part: Any) -> tuple[str, str, int, int]:
    """The cache key of `count(litellm_model, part)`; its third item is the part's size in bytes."""
    return (count.__name__, litellm_model, *fingerprint(part))


def _recalled(key: tuple[str, str, int, int], count: Callable[[str, Any], int], part: Any) -> int:
    """`count`'s result for the part `key` names: from the cache when it was counted before."""
    tokens = _counted.get(key)
    if tokens is None:
        return _remember(key, count(key[1], part))
    _counted.move_to_end(key)
    return tokens


def _remember(key: tuple[str, str, int, int], tokens: int) -> int:
    _counted[key] = tokens
    while len(_counted) > COUNTED_PARTS:
        _counted.popitem(last=False)  # the least recently used
    return tokens


def _message_tokens(litellm_model: str, message: dict[str, Any]) -> int:
    import litellm  # here, not at the top: store.py imports this module, and `hermes budget` must start fast

    return int(litellm.token_counter(model=litellm_model, messages=[_countable(message)], count_response_tokens=True,
                                     use_default_image_token_count=True))


def _text_tokens(_: str, text: str) -> int:
    import litellm

    return int(litellm.token_counter(text=text))


def _tool_tokens(litellm_model: str, part: list[Any]) -> int:
    """What the tool definitions add to a request (with or without a system message), and the reply's priming."""
    import litellm

    has_system, tools = part
    stub = [{"role": "system", "content": ""}] if has_system else []  # litellm discounts tools beside a system prompt
    alone = litellm.token_counter(model=litellm_model, messages=stub, count_response_tokens=True) if stub else 0
    return int(litellm.token_counter(model=litellm_model, messages=stub, tools=tools)) - int(alone)


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
