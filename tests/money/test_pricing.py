"""Prices from litellm's table and the YAML, and the cost of a call."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from proxy.cli.main import cli
from proxy.config import BUDGETS_FILE, ROUTING_FILE, load_config
from proxy.errors import ConfigError
from proxy.money.pricing import FREE, Price, PriceTable
from tests.conftest import REPO


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    for name in (ROUTING_FILE, BUDGETS_FILE):
        shutil.copy(REPO / name, tmp_path / name)
    return tmp_path


def test_shipped_models_are_priced_from_litellms_table() -> None:
    prices = PriceTable.from_config(load_config(REPO, {}))
    assert prices.price("claude-3.5-sonnet") == Price(3e-6, 15e-6, None, 8192)
    assert prices.price("gpt-4") == Price(30e-6, 60e-6, None, 4096)
    # OpenRouter's opus slug is missing from litellm's table: price_model maps it, cache-read price included.
    assert prices.price("claude-3-opus") == Price(15e-6, 75e-6, 1.5e-6, 4096)
    assert prices.price("gemini-flash").output_usd == 4e-7
    assert prices.price("llama3.2:3b") is FREE and prices.price("smollm2:135m") is FREE
    assert prices.cheapest(["gpt-4", "claude-3-opus", "gemini-flash"]) == "gemini-flash"


def test_yaml_prices_win_over_the_table(config_dir: Path) -> None:
    path = config_dir / ROUTING_FILE
    path.write_text(path.read_text().replace(
        "      slug: openai/gpt-4\n", "      slug: openai/gpt-4\n      input_usd_per_mtok: 1.5\n      cache_read_usd_per_mtok: 0.5\n"))
    price = PriceTable.from_config(load_config(config_dir, {})).price("gpt-4")
    assert (price.input_usd, price.output_usd, price.cache_read_usd) == (1.5e-6, 60e-6, 0.5e-6)


def test_a_cloud_model_without_a_price_stops_start_up(config_dir: Path) -> None:
    path = config_dir / ROUTING_FILE
    path.write_text(path.read_text().replace("      price_model: claude-3-opus-20240229", ""))
    with pytest.raises(ConfigError) as info:
        PriceTable.from_config(load_config(config_dir, {}))
    assert str(info.value) == (
        "routing_rules.yaml: cloud model 'claude-3-opus' has no price: litellm's table has no "
        "'openrouter/anthropic/claude-3-opus'; set price_model to a litellm model name, "
        "or input_usd_per_mtok and output_usd_per_mtok")
    result = CliRunner().invoke(cli, ["serve", "--config-dir", str(config_dir)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: {info.value}"]


def test_cost_of_a_call_with_cached_input() -> None:
    price = Price(input_usd=10e-6, output_usd=30e-6, cache_read_usd=1e-6)
    assert price.cost_usd(1000, 100) == pytest.approx(0.013)
    assert price.cost_usd(1000, 100, cached_tokens=800) == pytest.approx(200 * 10e-6 + 800 * 1e-6 + 100 * 30e-6)
    assert Price(10e-6, 30e-6).cost_usd(1000, 100, cached_tokens=800) == pytest.approx(0.013)  # no cache price


def test_actual_cost_prefers_the_upstreams_own_figure() -> None:
    prices = PriceTable.from_config(load_config(REPO, {}))
    assert prices.actual_cost_usd("gpt-4", {"prompt_tokens": 100, "completion_tokens": 10, "cost": 0.5}) == 0.5
    assert prices.actual_cost_usd("gpt-4", {"prompt_tokens": 100, "completion_tokens": 10}) == pytest.approx(0.0036)
