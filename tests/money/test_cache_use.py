"""How an agent uses a provider's prompt cache, learned from its turns, and what the next turns then cost."""

from __future__ import annotations

import pytest

from proxy.money.cache_use import CacheUse, assumed, fold, from_turns, observed, turn_cost_usd
from proxy.money.pricing import Price

SONNET = Price(3e-6, 15e-6, cache_read_usd=0.3e-6, cache_write_usd=3.75e-6)  # Anthropic: reads 0.1x, writes 1.25x
GPT = Price(1.75e-6, 14e-6, cache_read_usd=0.175e-6)  # OpenAI: automatic reads, no write price


def turn(model: str, input_tokens: int, read: int = 0, written: int = 0) -> dict:
    return {"model": model, "input_tokens": input_tokens, "cache_read_tokens": read, "cache_write_tokens": written}


def test_before_any_turn_the_cache_is_assumed_used_as_far_as_the_model_prices_it() -> None:
    assert assumed(SONNET) == CacheUse(1.0, 1.0, 0)
    assert assumed(GPT) == CacheUse(1.0, 0.0, 0)
    assert assumed(Price(1e-6, 2e-6)) == CacheUse(0.0, 0.0, 0)


def test_a_turn_says_what_share_of_the_last_context_it_read_and_of_the_rest_it_wrote() -> None:
    # Claude Code on Claude: the 10,000 tokens sent last turn read back, the 1,200 new ones written.
    assert observed(10_000, 11_200, read=10_000, written=1_200) == CacheUse(1.0, 1.0, 1)
    # An agent that sets no cache breakpoints: nothing read, nothing written.
    assert observed(10_000, 11_200, read=0, written=0) == CacheUse(0.0, 0.0, 1)
    assert observed(0, 11_200, read=0, written=0) is None  # nothing sent before: no comparison


def test_the_learned_use_follows_the_turns_and_only_pairs_on_the_same_model() -> None:
    turns = [turn("m", 1000, 0, 1000), turn("m", 2000, 1000, 1000), turn("other", 3000), turn("m", 4000, 0, 0),
             turn("m", 5000, 2000, 0)]
    learned = from_turns("m", turns)
    # Pairs (1000 -> 2000): read 1.0, wrote 1.0; (4000 -> 5000): read 0.5, wrote 0.0.
    assert learned == CacheUse(pytest.approx(0.75), pytest.approx(0.5), 2)
    assert from_turns("unseen", turns) is None
    assert fold(CacheUse(1.0, 1.0, 40), CacheUse(0.0, 0.0, 1)).read == pytest.approx(0.8)  # never slower than 0.2


def test_a_turn_costs_its_reads_and_writes_at_their_prices() -> None:
    use = CacheUse(1.0, 1.0, 3)
    # The first turn on a model writes all it sends; the next reads what the first sent and writes the rest.
    assert turn_cost_usd(SONNET, 0, 10_000, 100, use) == pytest.approx(10_000 * 3.75e-6 + 100 * 15e-6)
    assert turn_cost_usd(SONNET, 10_000, 11_000, 100, use) == pytest.approx(
        10_000 * 0.3e-6 + 1_000 * 3.75e-6 + 100 * 15e-6)
    # A model that bills no writes charges what is new at the input price.
    assert turn_cost_usd(GPT, 10_000, 11_000, 100, CacheUse(1.0, 0.0, 3)) == pytest.approx(
        10_000 * 0.175e-6 + 1_000 * 1.75e-6 + 100 * 14e-6)
