"""Team keys: `hermes keys` makes them, a request's key decides whose budget it draws on."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

from proxy.config import Config
from tests.edge.test_app import HI, assert_openai_error, chat
from tests.openrouter_stub import OpenRouterStub
from tests.postgres import query

Serve = Callable[..., str]
HERMES = [sys.executable, "-m", "proxy.cli"]


def hermes_keys(config: Config, *args: str) -> subprocess.CompletedProcess[str]:
    """`hermes keys ...` as a user runs it, on the same database and config as the server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERMES_")}
    env |= {"HERMES_DB": str(config.database), "HERMES_CONFIG_DIR": str(config.config_dir)}
    return subprocess.run([*HERMES, "keys", *args], capture_output=True, text=True, env=env, timeout=60)


def make_key(config: Config, name: str, *limit: str) -> str:
    done = hermes_keys(config, "create", "--name", name, *limit)
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    assert key.startswith("hk-") and "shown only this once" in done.stderr
    return key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_without_any_key_nothing_is_asked_of_a_single_user(hermes_url: str, openrouter: OpenRouterStub) -> None:
    assert chat(hermes_url, {"model": "gpt-4", "messages": HI}).status_code == 200
    assert chat(hermes_url, {"model": "gpt-4", "messages": HI}, headers=bearer("sk-anything")).status_code == 200


def test_once_a_key_exists_every_model_request_needs_one_and_a_revoked_key_stops_at_once(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub
) -> None:
    config = make_config()
    url = serve_hermes(config)
    key = make_key(config, "alice")
    assert chat(url, {"model": "gpt-4", "messages": HI}, headers=bearer(key)).status_code == 200
    # The "any key in use?" answer is cached for a moment; a key presented is always looked up.
    assert_openai_error(chat(url, {"model": "gpt-4", "messages": HI}, headers=bearer("hk-not-a-key")),
                        401, "invalid_api_key")
    missing = httpx.post(f"{url}/v1/chat/completions", json={"model": "gpt-4", "messages": HI}, timeout=30)
    for _ in range(40):  # within key_auth.IN_USE_TTL_S the server learns a key is in use
        if missing.status_code == 401:
            break
        missing = httpx.post(f"{url}/v1/chat/completions", json={"model": "gpt-4", "messages": HI}, timeout=30)
    assert "hermes keys create" in assert_openai_error(missing, 401, "missing_api_key")["message"]
    assert hermes_keys(config, "revoke", "alice").returncode == 0
    assert_openai_error(chat(url, {"model": "gpt-4", "messages": HI}, headers=bearer(key)), 401, "invalid_api_key")
    again = hermes_keys(config, "revoke", "alice")
    assert again.returncode != 0 and "No key named 'alice'" in again.stderr
    assert len(openrouter.requests) == 1  # only the one allowed request reached the cloud


def test_a_keys_own_limit_binds_first_and_the_others_keep_spending(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub
) -> None:
    config = make_config()
    url = serve_hermes(config)
    alice, bob = make_key(config, "alice", "--daily-limit", "0.02"), make_key(config, "bob")
    body = {"model": "gpt-4", "messages": HI, "max_tokens": 100}
    answered = 0
    for _ in range(30):
        response = chat(url, body, headers=bearer(alice))
        if response.status_code != 200:
            break
        answered += 1
    error = assert_openai_error(response, 429, "key_budget_exhausted")
    assert "key 'alice'" in error["message"] and "$0.0200 a day" in error["message"]
    assert answered >= 1
    for _ in range(3):  # bob draws on the global budget, which has plenty left
        assert chat(url, body, headers=bearer(bob)).status_code == 200
    spent = {row["name"]: row for row in query(config.database, """
        SELECT k.name, COUNT(l.id) AS calls, COALESCE(SUM(l.cost_usd), 0) AS cost_usd,
               SUM(CASE WHEN l.state = 'held' THEN 1 ELSE 0 END) AS held
        FROM api_keys k LEFT JOIN ledger l ON l.key_id = k.id GROUP BY k.name""")}
    assert spent["alice"]["calls"] == answered and spent["bob"]["calls"] == 3
    assert spent["alice"]["cost_usd"] <= 0.02 and not spent["alice"]["held"] and not spent["bob"]["held"]
    # What each key spent, as the dashboard's API and `hermes budget` show it.
    by_key = {row["name"]: row for row in httpx.get(f"{url}/api/v1/costs/analysis", timeout=30).json()["by_key"]}
    assert by_key["alice"]["spent_usd"] == round(spent["alice"]["cost_usd"], 8)
    assert by_key["alice"]["daily_limit_usd"] == 0.02 and by_key["bob"]["daily_limit_usd"] is None
    listed = hermes_keys(config, "list", "--json")
    assert listed.returncode == 0 and alice not in listed.stdout and bob not in listed.stdout  # never the key


def test_the_operator_key_still_works_beside_team_keys_and_only_it_opens_the_api(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub
) -> None:
    config = make_config(HERMES_API_KEY="operator-secret")
    url = serve_hermes(config)
    alice = make_key(config, "alice")
    assert chat(url, {"model": "gpt-4", "messages": HI}, headers=bearer("operator-secret")).status_code == 200
    assert chat(url, {"model": "gpt-4", "messages": HI}, headers=bearer(alice)).status_code == 200
    assert httpx.get(f"{url}/api/v1/costs/analysis", headers=bearer(alice), timeout=30).status_code == 401
    assert httpx.get(f"{url}/api/v1/costs/analysis", headers=bearer("operator-secret"), timeout=30).status_code == 200


def test_keys_are_stored_only_as_hashes(make_config: Callable[..., Config], tmp_path: Path) -> None:
    config = make_config()
    key = make_key(config, "alice", "--daily-limit", "2")
    [row] = query(config.database, "SELECT name, key_sha256, daily_limit_usd FROM api_keys")
    assert row["name"] == "alice" and row["daily_limit_usd"] == 2.0 and key not in str(row)
    bad = hermes_keys(config, "create", "--name", "carol", "--daily-limit", "-1")
    assert bad.returncode != 0 and "--daily-limit" in bad.stderr
