"""OpenRouter's model list read as Hermes uses it: prices per token, cache prices, limits, parameters."""

from __future__ import annotations

import json

import pytest

from proxy.money.catalogue import Listed, from_json, parse
from tests.openrouter_stub import CATALOGUE

DEC_7_2026 = 1_796_601_600.0


def listing() -> dict:
    return json.loads(CATALOGUE.read_text())


def test_a_model_is_read_with_its_cache_prices_limits_and_parameters() -> None:
    catalogue = parse(listing(), DEC_7_2026)
    assert catalogue.date == "2026-12-07"
    assert catalogue.get("anthropic/claude-sonnet-4.6") == Listed(
        slug="anthropic/claude-sonnet-4.6", input_usd=3e-6, output_usd=15e-6, cache_read_usd=3e-7,
        cache_write_usd=3.75e-6, request_usd=0.0, context_length=1_000_000, max_output_tokens=128_000,
        supported_parameters=("max_tokens", "temperature", "tools", "tool_choice", "stop", "top_p", "reasoning",
                              "include_reasoning", "response_format", "structured_outputs"))
    gpt4 = catalogue.get("openai/gpt-4")
    assert (gpt4.cache_read_usd, gpt4.cache_write_usd) == (None, None)  # no cache prices listed: none


def test_a_router_that_prices_nothing_is_left_out() -> None:
    # OpenRouter lists its auto router at "-1": no price Hermes could reserve for.
    assert parse(listing(), DEC_7_2026).get("openrouter/auto") is None


@pytest.mark.parametrize("pricing", [{"prompt": "free", "completion": "0"}, {"prompt": "0.1"},
                                     {"prompt": "NaN", "completion": "0"}, {"prompt": True, "completion": "0"}],
                         ids=["not-a-number", "no-output-price", "nan", "a-boolean"])
def test_an_entry_without_plain_prices_is_left_out(pricing: dict) -> None:
    body = {"data": [{"id": "x/y", "pricing": pricing}, {"id": "a/b", "pricing": {"prompt": "0", "completion": "0"}}]}
    assert list(parse(body, DEC_7_2026).models) == ["a/b"]


@pytest.mark.parametrize("body", [[], {"data": {}}, {"models": []}, {"data": [{"id": "x"}]}, "html"],
                         ids=["a-list", "data-not-a-list", "no-data", "nothing-priced", "a-string"])
def test_what_is_not_a_model_list_is_refused(body: object) -> None:
    with pytest.raises(ValueError):
        parse(body, DEC_7_2026)


def test_the_copy_kept_in_the_database_reads_back_the_same() -> None:
    catalogue = parse(listing(), DEC_7_2026)
    stored = json.loads(json.dumps(catalogue.to_json()))
    assert from_json(stored) == catalogue
    assert len(json.dumps(stored)) < len(CATALOGUE.read_text()) / 2  # only what Hermes uses is kept
