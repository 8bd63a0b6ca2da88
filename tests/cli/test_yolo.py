"""`hermes yolo` as a person sees it: in a real pseudo-terminal and piped, against a real Hermes.

Hermes runs for real (the embedded SmolLM2 behind it); the cloud is the
OpenRouter stub, told here to answer in Markdown so that the rendering shows.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from proxy.config import Config
from proxy.localmodel.embedded import free_port
from tests.cli.test_scripts import SCRIPTS, environment, run_in_terminal
from tests.openrouter_stub import OpenRouterStub

Serve = Callable[..., str]
MARKDOWN_ANSWER = "# Rome\n\nRome is **old** and `big`."
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
CALL_LINE = (r"Tokens: \d+ sent, \d+ received\. Cost: {message} message, {session} session\. "
             r"Budget: {left} left of \$5\.00\.")


def visible(output: str) -> str:
    """The text of terminal output, its escape sequences and carriage returns taken out."""
    return ANSI.sub("", output).replace("\r", "")


def terminal_env(url: str) -> dict[str, str]:
    return environment(HERMES_URL=url, TERM="xterm-256color", COLUMNS="120", LINES="40")


@pytest.fixture
def markdown_cloud(openrouter: OpenRouterStub, monkeypatch: pytest.MonkeyPatch) -> OpenRouterStub:
    """The cloud stub answering MARKDOWN_ANSWER and reporting $0.0015 a call."""
    plain = openrouter._answer

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        return plain(body) | {"content": MARKDOWN_ANSWER}

    monkeypatch.setattr(openrouter, "_answer", answer)
    openrouter.cost_usd = 0.0015
    return openrouter


@pytest.fixture
def asking_hermes(make_config: Callable[..., Config], serve_hermes: Serve) -> str:
    """Hermes that never accepts a local answer (kept short) and asks before paying."""
    return serve_hermes(make_config({"cascade": {"target_quality": 10.0}, "upgrade_policy": "ask",
                                     "local": {"max_tokens": 24}}))


@pytest.fixture
def hermes_without_local(make_config: Callable[..., Config], serve_hermes: Serve) -> str:
    """Hermes whose local models cannot answer (nothing serves the Ollama address), asking before paying."""
    dead = f"http://127.0.0.1:{free_port()}"
    return serve_hermes(make_config({"upgrade_policy": "ask"},
                                    OLLAMA_API_BASE=dead))


def test_yolo_at_a_terminal_shows_status_costs_and_markdown_and_upgrades_on_yes(
    asking_hermes: str, markdown_cloud: OpenRouterStub, tmp_path: Path
) -> None:
    output, code = run_in_terminal([str(SCRIPTS / "yolo"), "Tell me about Rome"], terminal_env(asking_hermes), "y",
                                   cwd=tmp_path)
    seen = visible(output)
    assert code == 0, seen
    # While the cascade works: the proxy's status, on a line that is erased before the answer comes.
    assert "hermes: smollm2:135m generating" in seen
    last_status = output.rindex("hermes: smollm2:135m")
    assert "\x1b[2K" in output[last_status:output.index("[hermes] route=local")]
    # The local answer's line, then the offer, then the cloud answer's: this run's session adds them up.
    assert re.search(CALL_LINE.format(message=r"\$0\.0000", session=r"\$0\.0000", left=r"\$5\.0000"), seen), seen
    assert "[hermes] route=local model=smollm2:135m quality=" in seen
    assert re.search(r"Upgrade to claude-3-opus for \$\d+\.\d{4} now; about \$\d+\.\d{4} if the rest of this "
                     r"session stays on it\? \[y/N\]", seen), seen
    assert re.search(CALL_LINE.format(message=r"\$0\.0015", session=r"\$0\.0015", left=r"\$4\.9985"), seen), seen
    assert "[hermes] route=cloud model=claude-3-opus quality=unscored" in seen
    # The cloud answer as Markdown: no markup left, "old" in bold.
    cloud = output[output.index("[y/N]"):]
    assert "Rome is old and big." in visible(cloud)
    assert "**old**" not in cloud and "# Rome" not in visible(cloud)
    assert re.search(r"\x1b\[1m(\x1b\[[0-9;]*m)*old", cloud), cloud
    assert "X-Hermes-Upgrade" not in seen and "re-send" not in seen
    [sent] = markdown_cloud.requests
    assert sent["headers"].get("x-hermes-upgrade") is None  # Hermes consumed it; OpenRouter sees a plain call


def test_yolo_piped_prints_the_raw_answer_and_plain_lines(asking_hermes: str, markdown_cloud: OpenRouterStub,
                                                            tmp_path: Path) -> None:
    (tmp_path / "bug.py").write_text("def total(values):\n    return sum(values) - 1\n")
    result = subprocess.run([str(SCRIPTS / "yolo"), "--upgrade", "claude-3-opus", "Tell me about this file", "bug.py"],
                            env=environment(HERMES_URL=asking_hermes), stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, check=False, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    answer, call, route = result.stdout.rsplit("\n", 3)[:3]
    assert answer == MARKDOWN_ANSWER  # as the model wrote it: no rendering, no escape codes
    assert re.fullmatch(CALL_LINE.format(message=r"\$0\.0015", session=r"\$0\.0015", left=r"\$4\.9985"), call)
    assert route == "[hermes] route=cloud model=claude-3-opus quality=unscored"
    assert "\x1b" not in result.stdout + result.stderr and "hermes:" not in result.stdout + result.stderr
    [sent] = markdown_cloud.requests
    prompt = sent["json"]["messages"][0]["content"]  # the file went with the prompt
    assert prompt.startswith("Tell me about this file") and "def total(values):" in prompt


def test_yolo_offers_the_upgrade_when_no_local_model_answers(
    hermes_without_local: str, markdown_cloud: OpenRouterStub, tmp_path: Path
) -> None:
    output, code = run_in_terminal([str(SCRIPTS / "yolo"), "Tell me about Rome"],
                                   terminal_env(hermes_without_local), "y", cwd=tmp_path)
    seen = visible(output)
    assert code == 0, seen
    assert "no local model could answer (" in seen
    found = re.search(r"Upgrade to (\S+) for \$\d+\.\d{4} now\? \[y/N\]", seen)
    assert found, seen
    assert f"[hermes] route=cloud model={found[1]} quality=unscored" in seen and "Rome is old and big." in seen
    assert "X-Hermes-Upgrade" not in seen and "re-send" not in seen
    assert len(markdown_cloud.requests) == 1


def test_yolo_piped_says_how_to_buy_the_answer_no_local_model_gave(
    hermes_without_local: str, markdown_cloud: OpenRouterStub, tmp_path: Path
) -> None:
    result = subprocess.run([str(SCRIPTS / "yolo"), "Tell me about Rome"],
                            env=environment(HERMES_URL=hermes_without_local), stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, check=False, timeout=120, cwd=tmp_path)
    assert result.returncode == 1
    assert "no local model could answer (" in result.stderr
    assert re.search(r"Run again with --upgrade \S+ to pay ~\$\d+\.\d{4} for a cloud answer\.", result.stderr)
    assert "X-Hermes-Upgrade" not in result.stderr and "re-send" not in result.stderr
    assert markdown_cloud.requests == []
