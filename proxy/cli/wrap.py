"""`hermes yolo --wrap aider|opencode`: the command line that runs that tool, pointed at the proxy."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path


def wrap_command(tool: str, url: str, prompt: str, files: Sequence[Path]) -> tuple[list[str], dict[str, str]]:
    """(argv, extra environment) for a one-shot run of `tool` on `prompt` through Hermes at `url`."""
    if tool == "aider":
        # aider's OpenAI-compatible client needs the "openai/" prefix; Hermes receives "auto".
        argv = ["aider", "--openai-api-base", f"{url}/v1", "--openai-api-key", "hermes",
                "--model", "openai/auto", "--no-show-model-warnings", "--message", prompt, *map(str, files)]
        return argv, {}
    config = {
        "$schema": "https://opencode.ai/config.json",
        "provider": {"hermes": {"npm": "@ai-sdk/openai-compatible", "name": "Hermes",
                                "options": {"baseURL": f"{url}/v1", "apiKey": "hermes"},
                                "models": {"auto": {"name": "Hermes (local first)"}}}},
        "model": "hermes/auto",
    }
    path = Path(tempfile.mkstemp(prefix="hermes-opencode-", suffix=".json")[1])
    path.write_text(json.dumps(config))
    return ["opencode", "run", prompt, *(f"@{file}" for file in files)], {"OPENCODE_CONFIG": str(path)}
