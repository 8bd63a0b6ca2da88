"""OpenRouter's model list as Hermes's price source, over real HTTP against the stub's `GET /api/v1/models`.

Each Hermes here turns fetching on (HERMES_CATALOGUE_REFRESH_H=24), which
every other test turns off.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from proxy.cli.main import cli
from proxy.config import Config
from tests.edge.test_app import HI, assert_openai_error, chat
from tests.openrouter_stub import COST_PER_CALL_USD, OpenRouterStub
from tests.postgres import query

Serve = Callable[..., str]
FETCHING = {"HERMES_CATALOGUE_REFRESH_H": "24"}


def today() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d")


def prices_line(url: str) -> str:
    return httpx.get(f"{url}/v1/models", timeout=10).json()["hermes"]["prices"]


def until_priced_from_the_catalogue(url: str) -> None:
    deadline = time.monotonic() + 15
    while not prices_line(url).startswith("OpenRouter's catalogue"):
        assert time.monotonic() < deadline, prices_line(url)
        time.sleep(0.05)


def test_prices_come_from_the_catalogue_fetched_at_start_and_kept_for_the_next(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub, database: Path | str
) -> None:
    openrouter.catalogue["data"][4]["pricing"]["prompt"] = "0.0000025"  # claude-3.5-sonnet, cheaper than litellm says
    config = make_config(**FETCHING)
    url = serve_hermes(config)
    until_priced_from_the_catalogue(url)
    assert prices_line(url) == f"OpenRouter's catalogue of {today()} (litellm 1.100.5's table for models it lacks)"
    card = httpx.get(f"{url}/v1/models/claude-3.5-sonnet", timeout=10).json()
    assert card["pricing"]["input_usd_per_mtok"] == 2.5
    assert card["pricing"]["source"] == f"OpenRouter's catalogue of {today()}"
    assert (card["context_length"], card["max_output_tokens"]) == (200000, 8192)
    assert "tools" in card["supported_parameters"]
    assert openrouter.catalogue_fetches == 1
    [saved] = query(database, "SELECT fetched_at FROM catalogue")
    assert abs(saved["fetched_at"] - time.time()) < 60
    # `hermes budget` reading the database prices from the copy kept there, and says so.
    offline = CliRunner().invoke(cli, ["budget", "--json", "--db", str(database),
                                       "--config-dir", str(config.config_dir)])
    assert json.loads(offline.output)["prices"].startswith(f"OpenRouter's catalogue of {today()}"), offline.output

    # The next start, with OpenRouter unreachable, prices from the saved copy at once, and does not fetch
    # a copy that is less than a day old.
    openrouter.catalogue = None
    again = serve_hermes(config)
    assert httpx.get(f"{again}/v1/models/claude-3.5-sonnet", timeout=10).json()["pricing"]["input_usd_per_mtok"] == 2.5
    time.sleep(0.3)
    assert openrouter.catalogue_fetches == 1


def test_offline_the_litellm_table_prices_and_says_so_in_one_warning(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub,
    caplog: pytest.LogCaptureFixture
) -> None:
    openrouter.catalogue = None
    with caplog.at_level(logging.INFO, logger="hermes"):
        url = serve_hermes(make_config(**FETCHING))
        deadline = time.monotonic() + 10
        while openrouter.catalogue_fetches == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        assert prices_line(url) == "litellm 1.100.5's table (OpenRouter's catalogue has not been fetched yet)"
        assert chat(url, {"model": "cloud", "messages": HI}).status_code == 200  # serving all the same
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert [w for w in warnings if "model list" in w] == [
        f"Could not fetch OpenRouter's model list from {openrouter.url}/models (it answered 503): "  # type: ignore[attr-defined]
        "prices stay as they are; trying again in an hour"]
    assert openrouter.catalogue_fetches == 1


def test_any_model_the_catalogue_lists_can_be_asked_for_by_its_slug(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub, database: Path | str
) -> None:
    url = serve_hermes(make_config(**FETCHING))
    until_priced_from_the_catalogue(url)
    response = chat(url, {"model": "qwen/qwen3-coder", "messages": HI})
    assert response.status_code == 200, response.text
    assert openrouter.requests[-1]["json"]["model"] == "qwen/qwen3-coder"
    assert response.headers["x-hermes-model"] == "qwen/qwen3-coder"
    assert query(database, "SELECT model, cost_usd FROM ledger") == [
        {"model": "qwen/qwen3-coder", "cost_usd": COST_PER_CALL_USD}]
    error = assert_openai_error(chat(url, {"model": "nobody/nothing", "messages": HI}), 404, "model_not_found")
    assert error["message"].startswith("The model 'nobody/nothing' does not exist.")


def test_a_configured_model_nothing_prices_is_refused_clearly_and_cloud_passes_it_by(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub, database: Path | str
) -> None:
    config = make_config({"cloud": {"models": [
        {"name": "mystery", "slug": "example/unlisted-model", "quality_prior": 9.9},
        {"name": "gpt-4", "slug": "openai/gpt-4", "quality_prior": 8.8}], "tiers": {"cheap": "any", "smart": "any",
                                                                                  "yolo": "any", "default": "any"}}})
    url = serve_hermes(config)
    error = assert_openai_error(chat(url, {"model": "mystery", "messages": HI}), 400, "model_not_priced")
    assert error["message"].startswith("routing_rules.yaml: cloud model 'mystery' has no price: OpenRouter's "
                                       "catalogue (not fetched yet) has no 'example/unlisted-model'")
    assert openrouter.requests == [] and query(database, "SELECT * FROM ledger") == []
    assert chat(url, {"model": "cloud", "messages": HI}).headers["x-hermes-model"] == "gpt-4"
    models = httpx.get(f"{url}/api/v1/settings/models", timeout=10).json()["models"]
    assert [(m["name"], m["available"], m["price_source"]) for m in models if m["kind"] == "cloud"] == [
        ("mystery", False, None), ("gpt-4", True, "litellm 1.100.5's table")]
