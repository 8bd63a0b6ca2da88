"""The `hermes` command line, driven in-process."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from proxy.cli.main import cli, serving_stack
from proxy.config import BUDGETS_FILE, ROUTING_FILE, Config, load_config
from proxy.localmodel.embedded import free_port
from proxy.money.budget import Budget
from proxy.money.pricing import PriceTable, bundled_cost_map, live_cost_map
from proxy.storage.store import Store
from tests.conftest import REPO
from tests.openrouter_stub import OpenRouterStub


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "serve" in result.output and "local-model" in result.output


def test_serve_with_a_broken_config_stops_with_one_line(tmp_path: Path) -> None:
    shutil.copy(REPO / ROUTING_FILE, tmp_path / ROUTING_FILE)
    (tmp_path / BUDGETS_FILE).write_text("daily_limit_usd: lots\n")
    result = CliRunner().invoke(cli, ["serve", "--config-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: budgets.yaml: daily_limit_usd must be a valid number, unable to parse string as a number, got 'lots'"
        f" (read from {tmp_path.resolve()})"]


def test_a_misspelt_nested_key_is_named_as_unknown_not_as_missing(tmp_path: Path) -> None:
    shutil.copy(REPO / ROUTING_FILE, tmp_path / ROUTING_FILE)
    (tmp_path / BUDGETS_FILE).write_text("daily_limit_usd: 5\ntiers:\n  - {name: any, min_remaning_usd: 0, models: any}\n")
    result = CliRunner().invoke(cli, ["serve", "--config-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: budgets.yaml: tiers[0].min_remaning_usd is not a known key (read from {tmp_path.resolve()})")


def test_serve_refuses_a_public_address_without_an_api_key() -> None:
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--config-dir", str(REPO)])
    assert result.exit_code == 1
    assert "set HERMES_API_KEY first" in result.output


def test_stats_prints_the_running_proxys_figures(hermes_url: str) -> None:
    import httpx

    httpx.post(f"{hermes_url}/v1/chat/completions", timeout=120,
               json={"model": "local", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4})
    result = CliRunner().invoke(cli, ["stats", "--url", hermes_url], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "Hermes, last 14 days" in result.output and "$0.00 spent, $5.00 left of $5.00 (normal)" in result.output
    assert "conversation" in result.output  # the by-task-type table
    as_json = CliRunner().invoke(cli, ["stats", "--url", hermes_url, "--json"])
    assert '"window_days": 14' in as_json.output


def test_stats_says_when_hermes_is_not_running() -> None:
    result = CliRunner().invoke(cli, ["stats", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "Hermes is not running at http://127.0.0.1:9: start it with `hermes serve`" in result.output
    assert "Errno" not in result.output


# Each takes 0.1 s (uvicorn, starlette) to 4 s (litellm) to import; the quick commands need none of them.
HEAVY_MODULES = {"litellm", "tiktoken", "starlette", "uvicorn", "llama_cpp", "openai"}


def imported_modules(argv: list[str], env: dict[str, str]) -> set[str]:
    """Every module the Python process run by `argv` imported, as `python -X importtime` lists them on stderr."""
    result = subprocess.run(argv, check=False, env=env | {"PYTHONPROFILEIMPORTTIME": "1"},
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    lines = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    assert lines, result.stderr
    return {line.rsplit("|", 1)[1].strip() for line in lines}


@pytest.mark.parametrize("argv", [
    pytest.param(["--version"], id="version"),
    pytest.param(["budget", "--json"], id="budget-json"),
    pytest.param(["budget"], id="budget-table"),
    pytest.param(["stats", "--url", "http://127.0.0.1:9"], id="stats"),
    pytest.param(["yolo", "hi", "--url", "http://127.0.0.1:9"], id="yolo"),
])
def test_quick_commands_never_import_the_serving_stack(argv: list[str], tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERMES_")}
    env |= {"HERMES_DB": str(tmp_path / "hermes.db"), "HERMES_CONFIG_DIR": str(REPO),
            "HERMES_URL": f"http://127.0.0.1:{free_port()}"}
    imported = imported_modules([str(Path(sys.executable).parent / "hermes"), *argv], env)
    assert "proxy.cli" in imported
    assert {name.split(".")[0] for name in imported} & HEAVY_MODULES == set()


def test_budget_from_the_proxy_imports_neither_the_serving_stack_nor_the_store(hermes_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERMES_")} | {"HERMES_URL": hermes_url}
    imported = imported_modules([str(Path(sys.executable).parent / "hermes"), "budget", "--json"], env)
    assert {name.split(".")[0] for name in imported} & (HEAVY_MODULES | {"httpx", "aiosqlite", "pydantic"}) == set()


def test_budget_asks_the_proxy_with_its_key(make_config: Callable[..., Config],
                                            serve_hermes: Callable[..., str]) -> None:
    url = serve_hermes(make_config(HERMES_API_KEY="hermes-test-key"))
    result = CliRunner().invoke(cli, ["budget", "--json", "--url", url], env={"HERMES_API_KEY": "hermes-test-key"})
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["source"], report["url"], report["remaining_usd"], report["tier"]) == ("proxy", url, 5.0, "normal")
    refused = CliRunner().invoke(cli, ["budget", "--url", url], env={"HERMES_API_KEY": "wrong"})
    assert refused.exit_code == 1
    assert f"Hermes at {url} refused the key (401): set HERMES_API_KEY" in refused.output


@pytest.mark.sqlite_only  # `--db FILE`, and no SQLite file created where none was
def test_budget_reads_a_file_only_when_asked_and_never_creates_one(hermes_url: str, tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    asyncio.run(_charge(db, 1.25))
    result = CliRunner().invoke(cli, ["budget", "--url", hermes_url, "--db", str(db), "--config-dir", str(REPO)],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "$1.25" in result.output and f"the database file {db} (asked with --db)" in result.output
    missing = tmp_path / "missing" / "hermes.db"
    for argv in (["--db", str(missing)], ["--offline"]):
        result = CliRunner().invoke(cli, ["budget", "--url", hermes_url, "--config-dir", str(REPO), *argv],
                                    env={"HERMES_DB": str(missing)})
        assert result.exit_code == 1
        assert f"There is no Hermes database at {missing}" in result.output
    assert not missing.parent.exists()


def test_budget_reads_the_database_it_is_pointed_at_file_or_url(hermes_url: str, database: Path | str) -> None:
    asyncio.run(_charge(database, 0.75))
    result = CliRunner().invoke(cli, ["budget", "--json", "--url", hermes_url, "--db", str(database),
                                      "--config-dir", str(REPO)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["source"], report["spent_usd"]) == ("database", 0.75)


def test_budget_says_which_model_was_billed_above_its_price(hermes_url: str, openrouter: OpenRouterStub) -> None:
    openrouter.cost_usd = 0.01  # above the ~$0.0075 a gpt-4 call of 100 tokens reserves at the table's price
    assert httpx.post(f"{hermes_url}/v1/chat/completions", timeout=30, json={
        "model": "gpt-4", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100}).status_code == 200
    result = CliRunner().invoke(cli, ["budget", "--url", hermes_url], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Stale price: gpt-4 billed $0.0100 on a $0.00749 reservation" in result.output
    assert "Set its price in routing_rules.yaml." in result.output


async def _charge(db: Path | str, usd: float) -> None:
    config = load_config(REPO, {})
    store = await Store.open(db)
    budget = Budget(config.budget, store, PriceTable.from_config(config), config.cloud_models)
    await store.charge((await budget.status()).day, "gemini-flash", usd)
    await store.close()


def test_litellms_bundled_price_file_prices_each_model_as_litellm_does() -> None:
    # What `hermes budget` reads instead of importing litellm: the same prices.
    config = load_config(REPO, {})
    from_file = PriceTable.from_config(config, bundled_cost_map())
    from_litellm = PriceTable.from_config(config, live_cost_map())
    for model in config.cloud_models:
        assert from_file.price(model.name) == from_litellm.price(model.name)


def test_serve_runs_on_uvloop_and_httptools_and_falls_back_without_them(monkeypatch: pytest.MonkeyPatch) -> None:
    assert serving_stack() == {"loop": "uvloop", "http": "httptools"}
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as if it were not installed: importing it fails
    monkeypatch.setitem(sys.modules, "httptools", None)
    assert serving_stack() == {"loop": "asyncio", "http": "h11"}


def test_settings_shows_an_override_and_reset_drops_it(hermes_url: str) -> None:
    httpx.post(f"{hermes_url}/api/v1/settings/update-preferences", json={"daily_limit_usd": 2.5}, timeout=30)
    shown = CliRunner().invoke(cli, ["settings", "--url", hermes_url])
    assert shown.exit_code == 0, shown.output
    assert "daily_limit_usd: $2.50" in shown.output  # money as everywhere else
    # Worded as `hermes budget` words it.
    assert "Override: daily_limit_usd $2.50, set through the API on " in shown.output
    assert ("UTC; budgets.yaml says $5.00. Editing the file or `hermes settings --reset daily_limit_usd` goes back "
            "to it.") in shown.output
    bogus = CliRunner().invoke(cli, ["settings", "--url", hermes_url, "--reset", "daily_limit"])
    assert bogus.exit_code == 2 and "'daily_limit' is not one of 'target_quality', 'upgrade_policy'" in bogus.output
    reset = CliRunner().invoke(cli, ["settings", "--url", hermes_url, "--reset"])
    assert reset.exit_code == 0, reset.output
    assert "daily_limit_usd: $5.00" in reset.output and "no overrides: every setting is the files' own" in reset.output
    down = CliRunner().invoke(cli, ["settings", "--url", "http://127.0.0.1:9"])
    assert down.exit_code == 1 and "Hermes is not running at http://127.0.0.1:9" in down.output


def test_stats_logs_no_http_requests_above_its_figures(hermes_url: str) -> None:
    up = subprocess.run([str(Path(sys.executable).parent / "hermes"), "stats", "--url", hermes_url],
                        capture_output=True, text=True, check=False, timeout=60)
    assert up.returncode == 0, up.stderr
    assert "HTTP Request" not in up.stdout + up.stderr


def test_keys_list_and_revoke_never_create_a_database(tmp_path: Path) -> None:
    db = tmp_path / "none-yet" / "hermes.db"
    env = {**os.environ, "HERMES_DB": str(db)}
    hermes = str(Path(sys.executable).parent / "hermes")
    listed = subprocess.run([hermes, "keys", "list", "--json", "--config-dir", str(REPO)], env=env,
                            capture_output=True, text=True, check=False, timeout=60)
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
    revoked = subprocess.run([hermes, "keys", "revoke", "alice", "--config-dir", str(REPO)], env=env,
                             capture_output=True, text=True, check=False, timeout=60)
    assert revoked.returncode == 1 and "No key named 'alice' is in use" in revoked.stderr
    assert not db.exists() and not db.parent.exists()
