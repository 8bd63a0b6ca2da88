"""The YAML files re-read while Hermes runs: an edit takes effect without a restart, a bad one changes nothing."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

import httpx
import pytest
import yaml

from proxy.config import BUDGETS_FILE, ROUTING_FILE, Config, load_config
from tests.conftest import REPO


def limit(url: str) -> float:
    return float(httpx.get(f"{url}/api/v1/costs/analysis", timeout=10).json()["limit_usd"])


def edit_budgets(config: Config, **changes: object) -> None:
    path = config.config_dir / BUDGETS_FILE
    path.write_text(yaml.safe_dump(yaml.safe_load(path.read_text()) | changes))


def until(condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_an_edited_file_is_in_force_without_a_restart_and_a_bad_edit_changes_nothing(
    make_config: Callable[..., Config], serve_hermes: Callable[..., str]
) -> None:
    config = make_config()
    url = serve_hermes(config)
    assert limit(url) == 5.0
    edit_budgets(config, daily_limit_usd=7.5)
    until(lambda: limit(url) == 7.5)
    (config.config_dir / BUDGETS_FILE).write_text("daily_limit_usd: lots\n")  # a typo, saved mid-edit
    time.sleep(5)  # two checks and more: it was seen, and refused
    assert limit(url) == 7.5
    (config.config_dir / BUDGETS_FILE).write_text(  # mended: the shipped file, with a limit of its own
        yaml.safe_dump(yaml.safe_load((REPO / BUDGETS_FILE).read_text()) | {"daily_limit_usd": 2.0}))
    until(lambda: limit(url) == 2.0)


def test_a_file_edited_after_an_api_override_wins_at_once(
    make_config: Callable[..., Config], serve_hermes: Callable[..., str]
) -> None:
    config = make_config()
    url = serve_hermes(config)
    httpx.post(f"{url}/api/v1/settings/update-preferences", json={"daily_limit_usd": 3.0}, timeout=10)
    assert limit(url) == 3.0
    time.sleep(0.05)  # the file's time stamp comes after the override's
    edit_budgets(config, daily_limit_usd=9.0)
    until(lambda: limit(url) == 9.0)
    assert httpx.get(f"{url}/api/v1/route/status", timeout=10).json()["overrides"] == []


def test_an_edit_only_a_restart_applies_is_said_to_wait_for_it(
    make_config: Callable[..., Config], serve_hermes: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config()
    url = serve_hermes(config)
    path = config.config_dir / ROUTING_FILE
    routing = yaml.safe_load(path.read_text())
    routing["server"]["store_prompts"] = True
    routing["local"]["api_base"] = "http://127.0.0.1:11999"
    routing["cascade"]["target_quality"] = 8.0
    with caplog.at_level(logging.INFO, logger="hermes"):
        path.write_text(yaml.safe_dump(routing))
        until(lambda: httpx.get(f"{url}/api/v1/route/status", timeout=10).json()["preferences"]["target_quality"]
              == 8.0)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == [
        "server.store_prompts changed in routing_rules.yaml: it takes effect at the next start (Hermes keeps the "
        "running value until then)",
        "local.api_base changed in routing_rules.yaml: it takes effect at the next start (Hermes keeps the running "
        "value until then)"]


def test_an_override_its_file_overtook_is_dropped_and_not_reported_again(
    make_config: Callable[..., Config], serve_hermes: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config()
    url = serve_hermes(config)
    httpx.post(f"{url}/api/v1/settings/update-preferences", json={"daily_limit_usd": 3.0}, timeout=10)
    edit_budgets(config, daily_limit_usd=9.0)  # right after: the file's coarse time stamp may even look older
    until(lambda: limit(url) == 9.0)
    with caplog.at_level(logging.INFO, logger="hermes"):
        # A restart (the files as they are now) says nothing more of it: the override is gone from the store.
        again = serve_hermes(dataclasses.replace(config, budget=load_config(config.config_dir, {}).budget))
        assert limit(again) == 9.0
    assert not [r for r in caplog.records if "daily_limit_usd" in r.getMessage()]
