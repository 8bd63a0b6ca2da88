"""How a conversation uses a provider's prompt cache, learned from real turns, and what its next turns cost.

An agent resends its whole conversation every turn. With prompt caching
(Anthropic's explicit breakpoints, OpenAI's and Gemini's automatic prefix
cache) most of it is read back from the cache at a tenth of the input
price, and only what is new is written (Anthropic: at 1.25x) or sent
plain. Two numbers describe it, whatever the provider:

- `read`: of what the previous turn sent, the share this turn read from the cache;
- `write`: of what it did not read, the share it wrote to the cache.

Claude Code on Claude reads nearly all (read ~1) and writes what is new
(write ~1); an agent that sets no breakpoints on Claude reads and writes
nothing (0, 0); OpenAI's automatic cache reads the prefix and never bills a
write (~1, 0). They are learned per session (from its own turns) and per
agent and model (the `cache_use` table, for a session that has not used the
model yet), and start from what the model's prices say it can do.
Reservations never use them: they stay priced uncached, the worst case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from proxy.money.pricing import Price

# The newest turn's weight never drops below this, so the learned use follows an agent that changes.
MIN_RATE = 0.2


@dataclass(frozen=True)
class CacheUse:
    read: float  # of the previous turn's input, the share read from the cache
    write: float  # of the rest, the share written to it
    turns: int = 0  # the turns it was learned from (0: assumed from the prices)


def assumed(price: Price) -> CacheUse:
    """Before any turn is seen: the cache used as far as the model prices it (an agent that caches)."""
    return CacheUse(1.0 if price.cache_read_usd is not None else 0.0,
                    1.0 if price.cache_write_usd is not None else 0.0)


def observed(previous_input: int, input_tokens: int, read: int, written: int) -> CacheUse | None:
    """One turn's use, given what the turn before it sent; None when there is nothing to compare."""
    if previous_input <= 0 or input_tokens <= 0:
        return None
    read = min(read, input_tokens)
    rest = input_tokens - read
    return CacheUse(min(read / previous_input, 1.0), min(written / rest, 1.0) if rest > 0 else 0.0, 1)


def fold(learned: CacheUse | None, turn: CacheUse) -> CacheUse:
    """`learned` moved toward one more observed `turn` (a weighted moving average)."""
    if learned is None or learned.turns == 0:
        return turn
    rate = max(1.0 / (learned.turns + 1), MIN_RATE)
    return CacheUse(learned.read + rate * (turn.read - learned.read),
                    learned.write + rate * (turn.write - learned.write), learned.turns + 1)


def from_turns(model: str, turns: Sequence[dict[str, Any]]) -> CacheUse | None:
    """What a session's own turns (tasks rows, oldest first) say about its use of `model`'s cache."""
    learned = None
    for before, turn in zip(turns, turns[1:]):
        if turn["model"] == model and before["model"] == model:
            seen = observed(int(before["input_tokens"]), int(turn["input_tokens"]),
                            int(turn["cache_read_tokens"]), int(turn["cache_write_tokens"]))
            if seen is not None:
                learned = fold(learned, seen)
    return learned


def turn_cost_usd(price: Price, previous_sent: int, sent: int, output_tokens: int, use: CacheUse) -> float:
    """One turn that sends `sent` tokens after one that sent `previous_sent` (0: the first on this model)."""
    read = min(round(use.read * previous_sent), sent) if price.cache_read_usd is not None else 0
    written = round(use.write * (sent - read)) if price.cache_write_usd is not None else 0
    return price.cost_usd(sent, output_tokens, read, written)
