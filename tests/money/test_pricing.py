"""Prices from OpenRouter's catalogue, litellm's table and the YAML, and the cost of a call."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from proxy.config import BUDGETS_FILE, ROUTING_FILE, load_config
from proxy.errors import UnpricedModel
from proxy.money.catalogue import parse
from proxy.money.pricing import FREE, Price, PriceTable, cache_tokens
from tests.conftest import REPO, fixed_files
from tests.openrouter_stub import CATALOGUE


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    for name in (ROUTING_FILE, BUDGETS_FILE):
        shutil.copy(REPO / name, tmp_path / name)
    return tmp_path


def test_shipped_models_are_priced_from_litellms_table_before_any_catalogue() -> None:
    prices = PriceTable.from_config(load_config(REPO, {}))
    sonnet = prices.price("claude-sonnet")
    # Anthropic's cache prices: reads at 0.1x the input price, writes at 1.25x.
    assert (sonnet.input_usd, sonnet.output_usd, sonnet.cache_read_usd, sonnet.cache_write_usd) == (
        3e-6, 15e-6, 3e-7, 3.75e-6)
    assert (sonnet.max_output_tokens, sonnet.source) == (128000, "litellm 1.100.5's table")
    assert (prices.price("gpt").input_usd, prices.price("gpt").cache_read_usd) == (1.75e-6, 1.75e-7)
    assert prices.price("claude-opus").output_usd == 25e-6
    assert prices.price("gemini-flash").output_usd == 3e-6
    assert prices.price("llama3.2:3b") is FREE and prices.price("smollm2:135m") is FREE
    assert prices.cheapest(["gpt", "claude-opus", "gemini-flash"]) == "gemini-flash"
    assert prices.source == "litellm 1.100.5's table (OpenRouter's catalogue has not been fetched yet)"


def test_the_catalogue_prices_what_it_lists_and_the_yaml_wins_over_both(config_dir: Path) -> None:
    path = config_dir / ROUTING_FILE
    path.write_text(path.read_text().replace(
        "      slug: openai/gpt-5.2\n", "      slug: openai/gpt-5.2\n      input_usd_per_mtok: 1.5\n"))
    listing = json.loads(CATALOGUE.read_text())
    for model in listing["data"]:
        if model["id"] == "anthropic/claude-sonnet-4.6":  # OpenRouter's price moved since litellm's table
            model["pricing"] |= {"prompt": "0.0000025", "input_cache_write": "0.000003125"}
    catalogue = parse(listing, fetched_at=1_796_601_600)  # 2026-12-07
    prices = PriceTable.from_config(load_config(config_dir, {}), catalogue=catalogue)

    sonnet = prices.price("claude-sonnet")
    assert (sonnet.input_usd, sonnet.cache_write_usd, sonnet.output_usd) == (2.5e-6, 3.125e-6, 15e-6)
    assert sonnet.source == "OpenRouter's catalogue of 2026-12-07"
    gpt = prices.price("gpt")  # the YAML sets its input price only: the rest from the catalogue
    assert (gpt.input_usd, gpt.output_usd, gpt.source) == (1.5e-6, 14e-6, "OpenRouter's catalogue of 2026-12-07")
    assert prices.source == "OpenRouter's catalogue of 2026-12-07 (litellm 1.100.5's table for models it lacks)"
    # A model routing_rules.yaml does not name is priced by its slug; a router that prices nothing is not.
    assert prices.price("qwen/qwen3-coder").input_usd == 2.2e-7
    assert not prices.priced("openrouter/auto")


def test_a_cloud_model_nothing_prices_is_refused_not_reserved_at_zero(config_dir: Path,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    path = config_dir / ROUTING_FILE
    path.write_text(path.read_text().replace("slug: openai/gpt-5.2", "slug: example/unlisted-model"))
    prices = PriceTable.from_config(load_config(config_dir, {}))  # start-up goes on: a catalogue may price it
    expected = ("routing_rules.yaml: cloud model 'gpt' has no price: OpenRouter's catalogue (not fetched yet) has no "
                "'example/unlisted-model' and litellm's table no 'openrouter/example/unlisted-model'. Set "
                "input_usd_per_mtok and output_usd_per_mtok for it (or price_model to a litellm model name); "
                "until then it is refused for cloud calls.")
    assert caplog.messages == [expected]
    with pytest.raises(UnpricedModel) as info:
        prices.price("gpt")
    assert (info.value.message, info.value.status, info.value.code) == (expected, 400, "model_not_priced")
    assert not prices.priced("gpt") and prices.cheapest(["gpt", "claude-opus"]) == "claude-opus"
    assert prices.sources()["models"]["gpt"] is None


def test_cost_of_a_call_with_cached_input() -> None:
    price = Price(input_usd=10e-6, output_usd=30e-6, cache_read_usd=1e-6)
    assert price.cost_usd(1000, 100) == pytest.approx(0.013)
    assert price.cost_usd(1000, 100, cached_tokens=800) == pytest.approx(200 * 10e-6 + 800 * 1e-6 + 100 * 30e-6)
    assert Price(10e-6, 30e-6).cost_usd(1000, 100, cached_tokens=800) == pytest.approx(0.013)  # no cache price


def test_cost_of_a_call_that_writes_the_cache() -> None:
    # Anthropic's prices: of 1000 input tokens, 600 read from the cache and 300 written to it.
    price = Price(input_usd=3e-6, output_usd=15e-6, cache_read_usd=0.3e-6, cache_write_usd=3.75e-6)
    assert price.cost_usd(1000, 100, cached_tokens=600, written_tokens=300) == pytest.approx(
        100 * 3e-6 + 600 * 0.3e-6 + 300 * 3.75e-6 + 100 * 15e-6)
    # A model with no write price bills written tokens as input; a catalogue's fee per request is added.
    assert Price(3e-6, 15e-6, 0.3e-6).cost_usd(1000, 0, written_tokens=300) == pytest.approx(1000 * 3e-6)
    assert Price(3e-6, 15e-6, request_usd=0.005).cost_usd(1000, 0) == pytest.approx(0.008)


def test_a_calls_tokens_are_priced_with_their_cache_reads_and_writes() -> None:
    prices = PriceTable({"m": Price(3e-6, 15e-6, 0.3e-6, cache_write_usd=3.75e-6)})
    usage = {"prompt_tokens": 1000, "completion_tokens": 100,
             "prompt_tokens_details": {"cached_tokens": 600, "cache_write_tokens": 300}}
    assert cache_tokens(usage) == (600, 300)
    assert prices.priced_usd("m", usage) == pytest.approx(100 * 3e-6 + 600 * 0.3e-6 + 300 * 3.75e-6 + 100 * 15e-6)
    assert cache_tokens({"prompt_tokens_details": {"cached_tokens": -5, "cache_write_tokens": True}}) == (0, 0)


def test_actual_cost_prefers_the_upstreams_own_figure() -> None:
    prices = PriceTable.from_config(load_config(fixed_files(), {}))
    assert prices.actual_cost_usd("gpt-4", {"prompt_tokens": 100, "completion_tokens": 10, "cost": 0.5}) == 0.5
    assert prices.actual_cost_usd("gpt-4", {"prompt_tokens": 100, "completion_tokens": 10}) == pytest.approx(0.0036)
