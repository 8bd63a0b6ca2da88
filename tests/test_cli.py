"""The `hermes` command line, driven in-process."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from proxy.cli import cli
from proxy.config import BUDGETS_FILE, ROUTING_FILE
from tests.conftest import REPO


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
        "Error: budgets.yaml: daily_limit_usd must be a valid number, unable to parse string as a number, got 'lots'"]


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
    assert "Hermes, last 14 days" in result.output and "$0.0000 spent, $5.0000 left of $5.00 (normal)" in result.output
    assert "conversation" in result.output  # the by-task-type table
    as_json = CliRunner().invoke(cli, ["stats", "--url", hermes_url, "--json"])
    assert '"window_days": 14' in as_json.output


def test_stats_says_when_hermes_is_not_running() -> None:
    result = CliRunner().invoke(cli, ["stats", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1 and "Could not read the figures from Hermes at http://127.0.0.1:9" in result.output
