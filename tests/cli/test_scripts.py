"""The scripts as a user runs them: in a terminal (a real pseudo-terminal), piped, and at each budget tier."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import select
import subprocess
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from proxy.config import Config, load_config
from proxy.localmodel.embedded import free_port
from proxy.money.budget import Budget
from proxy.money.format import usd
from proxy.money.pricing import PriceTable
from proxy.storage.store import Store
from tests.cli.test_cli import HEAVY_MODULES, imported_modules
from tests.conftest import REPO, fixed_files
from tests.openrouter_stub import OpenRouterStub

Serve = Callable[..., str]
SCRIPTS = REPO / "scripts"


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERMES_") and k != "OPENROUTER_API_KEY"}
    return env | extra


def run_in_terminal(argv: list[str], env: dict[str, str], answer: str | None, cwd: Path,
                    timeout_s: float = 180) -> tuple[str, int]:
    """Run `argv` on a pseudo-terminal; type `answer` when it asks [y/N]."""
    master, slave = pty.openpty()
    process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd, close_fds=True)
    os.close(slave)
    output, answered, deadline = b"", False, time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the other side has closed
                    break
                if not chunk:
                    break
                output += chunk
                if answer is not None and not answered and b"[y/N] " in output:
                    os.write(master, answer.encode() + b"\n")
                    answered = True
            elif process.poll() is not None:
                break
        else:
            process.kill()
            pytest.fail("the script did not finish:\n" + output.decode(errors="replace"))
        return output.decode(errors="replace").replace("\r\n", "\n"), process.wait(timeout=30)
    finally:
        os.close(master)


@pytest.fixture
def asking_hermes(make_config: Callable[..., Config], serve_hermes: Serve) -> str:
    """Hermes that never accepts a local answer (kept short) and asks before paying."""
    return serve_hermes(make_config({"cascade": {"target_quality": 10.0}, "upgrade_policy": "ask",
                                     "local": {"max_tokens": 24}}))


def test_yolo_in_a_terminal_stays_local_on_no(asking_hermes: str, openrouter: OpenRouterStub, tmp_path: Path) -> None:
    output, code = run_in_terminal([str(SCRIPTS / "yolo"), "Tell me about Rome"],
                                   environment(HERMES_URL=asking_hermes), "n", cwd=tmp_path)
    assert code == 0, output
    assert "Upgrade to claude-3-opus" in output and output.count("[hermes] route=local") == 1
    assert "route=cloud" not in output and openrouter.requests == []


def test_yolo_through_cat_at_a_terminal_is_piped_and_never_asks(
    asking_hermes: str, openrouter: OpenRouterStub, tmp_path: Path
) -> None:
    # `yolo ... | cat`: cat shows the answer whenever it reads it, so a question on the terminal would come
    # first; piped, yolo says how to pay instead, after the answer.
    output, code = run_in_terminal(["bash", "-c", f"'{SCRIPTS / 'yolo'}' 'Tell me about Rome' | cat"],
                                   environment(HERMES_URL=asking_hermes), None, cwd=tmp_path)
    assert code == 0, output
    assert "[y/N]" not in output and openrouter.requests == []
    assert output.index("[hermes] route=local") < output.index("Run again with --upgrade claude-3-opus")


def test_yolo_piped_never_asks(asking_hermes: str, openrouter: OpenRouterStub, tmp_path: Path) -> None:
    result = subprocess.run([str(SCRIPTS / "yolo"), "Tell me about Rome"], env=environment(HERMES_URL=asking_hermes),
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False, timeout=180,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "[y/N]" not in result.stdout and openrouter.requests == []
    *_, route, hint = result.stdout.strip().splitlines()
    assert route.startswith("[hermes] route=local model=smollm2:135m quality=")
    assert re.fullmatch(r"Run again with --upgrade \S+ to pay ~\$\d+\.\d{4} for a cloud answer\.", hint)


def test_yolo_piped_spends_nothing_even_when_the_proxys_policy_is_auto(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub, tmp_path: Path
) -> None:
    url = serve_hermes(make_config({"cascade": {"target_quality": 10.0}}))  # auto would upgrade every answer
    result = subprocess.run([str(SCRIPTS / "yolo"), "Tell me about Rome"], env=environment(HERMES_URL=url),
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False, timeout=180,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert openrouter.requests == []  # nothing bought that the person did not accept
    assert result.stdout.strip().splitlines()[-1].startswith("Run again with --upgrade ")


def test_yolo_says_when_hermes_is_not_running(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run([str(SCRIPTS / "yolo"), "hi"], env=environment(HERMES_URL=url), stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, check=False, timeout=60, cwd=tmp_path)
    assert result.returncode == 1
    assert f"Hermes is not running at {url}: start it with scripts/start-proxy." in result.stderr


@pytest.mark.parametrize("argv", [["check-budget", "--json"], ["check-budget"], ["yolo", "hi"]],
                         ids=["check-budget-json", "check-budget", "yolo"])
def test_scripts_answer_without_importing_the_serving_stack(argv: list[str], tmp_path: Path) -> None:
    env = environment(HERMES_DB=str(tmp_path / "hermes.db"), HERMES_URL=f"http://127.0.0.1:{free_port()}")
    imported = imported_modules([str(SCRIPTS / argv[0]), *argv[1:]], env)
    assert "proxy.cli" in imported
    assert {name.split(".")[0] for name in imported} & HEAVY_MODULES == set()


async def _spend(db: Path | str, usd: float) -> None:
    """Put `usd` of today's spend in the ledger, as usage reported after the fact is."""
    config = load_config(fixed_files(), {})
    store = await Store.open(db)
    budget = Budget(config.budget, store, PriceTable.from_config(config), config.cloud_models)
    await store.charge((await budget.status()).day, "gemini-flash", usd)
    await store.close()


@pytest.mark.parametrize(
    ("spent", "tier", "code", "allowed"),
    [
        pytest.param(0.0, "normal", 0, "claude-sonnet, gpt, claude-opus, gemini-flash", id="normal"),
        pytest.param(3.0, "cheap", 0, "claude-sonnet, gemini-flash", id="cheap"),
        pytest.param(4.6, "emergency", 0, "gemini-flash", id="emergency"),
        pytest.param(5.0, "blocked", 2, "local models only", id="blocked"),
    ],
)
def test_check_budget_reads_the_file_at_each_tier_when_hermes_is_down(
    tmp_path: Path, database: Path | str, spent: float, tier: str, code: int, allowed: str
) -> None:
    db = database
    asyncio.run(_spend(db, spent))
    down = f"http://127.0.0.1:{free_port()}"
    env = environment(HERMES_DB=str(db), HERMES_URL=down, COLUMNS="250")
    table = subprocess.run([str(SCRIPTS / "check-budget")], env=env, capture_output=True, text=True, check=False,
                           timeout=60, cwd=tmp_path)
    assert table.returncode == code, table.stderr
    assert usd(spent) in table.stdout and f"{usd(5.0 - spent)} of $5.00" in table.stdout
    assert f"{tier} (" in table.stdout or (tier == "blocked" and "blocked (local models only)" in table.stdout)
    assert allowed in table.stdout
    assert "litellm 1.100.5's table (OpenRouter's catalogue has not been fetched yet)" in table.stdout  # prices
    kind = "database" if "://" in str(db) else "database file"  # a PostgreSQL URL is no file
    assert f"the {kind} {db} (Hermes is not running at {down}.)" in table.stdout
    machine = subprocess.run([str(SCRIPTS / "check-budget"), "--json"], env=env, capture_output=True, text=True,
                             check=False, timeout=60, cwd=tmp_path)
    assert machine.returncode == code
    report = json.loads(machine.stdout)
    assert (report["tier"], report["spent_usd"], report["limit_usd"]) == (tier, spent, 5.0)
    assert (report["source"], report["database"]) == ("database", str(db))
    assert 0 < report["resets_in_s"] <= 86400


def test_check_budget_asks_the_running_proxy(make_config: Callable[..., Config], serve_hermes: Serve,
                                             tmp_path: Path) -> None:
    url = serve_hermes(make_config())
    spent = httpx.post(f"{url}/api/v1/costs/track-usage", timeout=30,
                       json={"model": "gemini-flash", "input_tokens": 1, "output_tokens": 1, "cost_usd": 5.0})
    assert spent.json()["budget"]["tier"] == "blocked"
    elsewhere = tmp_path / "elsewhere" / "hermes.db"  # this shell's HERMES_DB: not the proxy's file
    env = environment(HERMES_URL=url, HERMES_DB=str(elsewhere), COLUMNS="200")
    table = subprocess.run([str(SCRIPTS / "check-budget")], env=env, capture_output=True, text=True, check=False,
                           timeout=60, cwd=tmp_path)
    assert table.returncode == 2, table.stderr
    assert "$0.00 of $5.00" in table.stdout and "$5.00" in table.stdout.replace("$0.00 of $5.00", "")
    assert "blocked (local models only)" in table.stdout and "gemini-flash" in table.stdout  # spend by model
    assert f"the running proxy at {url}" in table.stdout
    machine = subprocess.run([str(SCRIPTS / "check-budget"), "--json"], env=env, capture_output=True, text=True,
                             check=False, timeout=60, cwd=tmp_path)
    assert machine.returncode == 2, machine.stderr
    report = json.loads(machine.stdout)
    assert (report["source"], report["url"], report["spent_usd"], report["tier"]) == ("proxy", url, 5.0, "blocked")
    assert 0 < report["resets_in_s"] <= 86400
    assert not elsewhere.parent.exists()


@pytest.mark.sqlite_only  # a missing SQLite file, and none created
def test_check_budget_says_when_neither_hermes_nor_its_file_is_there(tmp_path: Path) -> None:
    db, down = tmp_path / "data" / "hermes.db", f"http://127.0.0.1:{free_port()}"
    for argv in ([], ["--json"]):
        result = subprocess.run([str(SCRIPTS / "check-budget"), *argv],
                                env=environment(HERMES_DB=str(db), HERMES_URL=down),
                                capture_output=True, text=True, check=False, timeout=60, cwd=tmp_path)
        assert result.returncode == 1 and result.stdout == ""
        assert f"Hermes is not running at {down}. There is no database at {db} either" in result.stderr
        assert "No file was created." in result.stderr
    assert not db.parent.exists()


def test_start_proxy_prints_the_settings_and_serves(tmp_path: Path, database: Path | str) -> None:
    port = free_port()
    env = environment(OLLAMA_API_BASE=f"http://127.0.0.1:{free_port()}", HERMES_DB=str(database))
    log = tmp_path / "out.txt"
    with log.open("w") as out:
        process = subprocess.Popen([str(SCRIPTS / "start-proxy"), "--port", str(port)], env=env, stdout=out,
                                   stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("start-proxy did not serve:\n" + log.read_text())
    finally:
        process.terminate()
        process.wait(timeout=30)
    printed = log.read_text()
    base = f"http://127.0.0.1:{port}/v1"
    assert printed.startswith(f"Hermes: {base}\n")
    assert f"aider --openai-api-base {base} --openai-api-key unused --model openai/auto" in printed
    assert f'"baseURL": "{base}"' in printed and f"apiBase: {base}" in printed


def test_check_budget_allows_no_cloud_model_when_the_proxy_has_no_key(
    make_config: Callable[..., Config], serve_hermes: Serve, tmp_path: Path
) -> None:
    url = serve_hermes(make_config(OPENROUTER_API_KEY=""))
    machine = subprocess.run([str(SCRIPTS / "check-budget"), "--json"], env=environment(HERMES_URL=url),
                             capture_output=True, text=True, check=False, timeout=60, cwd=tmp_path)
    assert machine.returncode == 0, machine.stderr
    assert json.loads(machine.stdout)["allowed_models"] == []
    table = subprocess.run([str(SCRIPTS / "check-budget")], env=environment(HERMES_URL=url, COLUMNS="200"),
                           capture_output=True, text=True, check=False, timeout=60, cwd=tmp_path)
    assert "normal (local models only)" in table.stdout


def test_check_budget_from_the_file_shows_an_override_and_no_log_lines(tmp_path: Path, database: Path | str) -> None:
    stamp = datetime.now(timezone.utc)  # after the files were written: the override stands

    async def override() -> None:
        store = await Store.open(database)
        await store.save_preference_overrides({"daily_limit_usd": 3.0}, stamp.isoformat())
        await store.close()

    asyncio.run(override())
    env = environment(HERMES_DB=str(database), HERMES_URL=f"http://127.0.0.1:{free_port()}", COLUMNS="250")
    table = subprocess.run([str(SCRIPTS / "check-budget")], env=env, capture_output=True, text=True, check=False,
                           timeout=60, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert (f"Override: daily_limit_usd $3.00, set through the API on {stamp:%Y-%m-%d %H:%M} UTC; budgets.yaml says $5.00. "
            "Editing the file or `hermes settings --reset daily_limit_usd` goes back to it.") in table.stdout
    assert "$3.00 of $3.00" in table.stdout
    assert table.stderr == ""  # the server's start-up lines about the override are not the report's
