"""`hermes yolo --wrap`: the command lines that point aider and OpenCode at the proxy."""

from __future__ import annotations

import json
from pathlib import Path

from proxy.cli.wrap import wrap_command

URL = "http://127.0.0.1:8088"


def test_aider_runs_one_shot_through_the_openai_compatible_client() -> None:
    argv, env = wrap_command("aider", URL, "fix the bug", [Path("a.py")])
    assert argv == ["aider", "--openai-api-base", f"{URL}/v1", "--openai-api-key", "hermes", "--model", "openai/auto",
                    "--no-show-model-warnings", "--message", "fix the bug", "a.py"]
    assert env == {}


def test_opencode_gets_a_provider_config_pointing_at_hermes() -> None:
    argv, env = wrap_command("opencode", URL, "fix the bug", [Path("a.py")])
    assert argv == ["opencode", "run", "fix the bug", "@a.py"]
    config = json.loads(Path(env["OPENCODE_CONFIG"]).read_text())
    assert config["model"] == "hermes/auto"
    assert config["provider"]["hermes"]["options"]["baseURL"] == f"{URL}/v1"
    Path(env["OPENCODE_CONFIG"]).unlink()
