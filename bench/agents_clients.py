"""The coding agents `bench/agents.py` runs, each headless against one base URL, with no network.

Each is installed outside the repository (`--clients-dir`, /tmp/hermes-agents
by default) with its own registry's client, pinned, and run with HOME and the
XDG folders in a throw-away directory, so nothing of the user's is read or
written. What each needs, and its own limits as read in its code:

- OpenCode (npm `opencode-ai`): a provider in `opencode.json` on
  `@ai-sdk/openai-compatible` (bundled in the binary) with baseURL and model
  `auto`; `opencode run "<task>"`, which allows edits in a headless run.
  Waits 300 s for response headers (`headerTimeout`) and 300 s between two
  reads of a streamed body (`chunkTimeout`, reset by any bytes, SSE comment
  lines too); no total limit; after a timeout it retries the step, with
  back-off, then fails the run.
- Continue CLI (npm `@continuedev/cli`, `cn`): a `config.yaml` with provider
  `openai`, `apiBase`, model `auto`; `cn --config FILE --auto -p "<task>"`
  (without `--auto` a headless run offers no edit tool: only Read, List, Bash,
  ...). The OpenAI SDK inside waits 600 s for headers (2 retries of its own),
  and cn wraps each call in up to 10 more tries on network errors and 5xx.
- Claude Code (npm `@anthropic-ai/claude-code`, a native binary): Anthropic
  Messages at ANTHROPIC_BASE_URL; `claude -p "<task>" --permission-mode
  acceptEdits`, its nonessential traffic and telemetry off, everything else
  through a proxy on a closed loopback port.
- Codex CLI (npm `@openai/codex`): OpenAI Responses, a provider in
  `$CODEX_HOME/config.toml` with `wire_api = "responses"`; `codex exec
  --skip-git-repo-check --dangerously-bypass-approvals-and-sandbox` (its
  sandbox needs namespaces this machine's runner may not give).
- Gemini CLI (npm `@google/gemini-cli`): Gemini's API at
  GOOGLE_GEMINI_BASE_URL; `gemini -p "<task>" --yolo`, telemetry and usage
  statistics off in its settings.
- aider (PyPI `aider-chat`, in a venv of its own; optional): `--model
  openai/auto` with OPENAI_API_BASE, whole-file edit format, `--message`.
  litellm's 600 s request timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

OPENCODE_VERSION = "1.18.33"
CONTINUE_VERSION = "1.5.47"
AIDER_VERSION = "0.86.2"
CLAUDE_VERSION = "2.1.332"
CODEX_VERSION = "0.171.0"
GEMINI_VERSION = "0.61.0"
QWEN_VERSION = "0.24.4"
CLINE_VERSION = "3.0.65"
# Where the agents' own traffic (telemetry, update checks) goes: a closed port on loopback. Hermes is reached
# directly (NO_PROXY), so only what is not Hermes is blocked.
BLOCKED = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
           "http_proxy": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
TASK = "fix the typo in greet.py"
GREET_BEFORE = 'def greet(name):\n    return f"Helo, {name}!"\n\n\nif __name__ == "__main__":\n    print(greet("world"))\n'
GREET_AFTER = GREET_BEFORE.replace("Helo", "Hello")
TYPO_LINE = '    return f"Helo, {name}!"'
FIXED_LINE = '    return f"Hello, {name}!"'
# The multi-turn task (--task multi): read two files, edit both, run the tests, answer.
MULTI_TASK = ("fix the typos in greet.py and farewell.py, then run the tests with `python3 test_words.py` "
              "and tell me whether they pass")
FAREWELL_BEFORE = 'def farewell(name):\n    return f"Goodbey, {name}."\n'
FAREWELL_AFTER = FAREWELL_BEFORE.replace("Goodbey", "Goodbye")
TESTS = ("from farewell import farewell\nfrom greet import greet\n\n"
         "assert greet('Ada') == 'Hello, Ada!', greet('Ada')\n"
         "assert farewell('Ada') == 'Goodbye, Ada.', farewell('Ada')\nprint('2 passed')\n")


@dataclass(frozen=True)
class FileFix:
    name: str
    before: str
    after: str
    old: str  # the line with the typo
    new: str  # the line fixed


@dataclass(frozen=True)
class Task:
    """What the agent is asked, the files it must leave fixed, and the test it runs (if any)."""

    text: str
    fixes: tuple[FileFix, ...]
    test_cmd: str | None = None  # the shell command the task asks for
    extra_files: tuple[tuple[str, str], ...] = ()  # (name, content) the project also holds


ONE_FILE = Task(TASK, (FileFix("greet.py", GREET_BEFORE, GREET_AFTER, TYPO_LINE, FIXED_LINE),))
MULTI = Task(MULTI_TASK, (FileFix("greet.py", GREET_BEFORE, GREET_AFTER, TYPO_LINE, FIXED_LINE),
                          FileFix("farewell.py", FAREWELL_BEFORE, FAREWELL_AFTER, '    return f"Goodbey, {name}."',
                                  '    return f"Goodbye, {name}."')),
             "python3 test_words.py", (("test_words.py", TESTS),))
# The long task (--task long): nine files with a typo each, read and fixed one by one, then the tests run and an
# answer: twenty turns or more of one conversation (a session whose cached prefix grows, for the caching tests).
LONG_WORDS = (("thank", "Thanks", "Thnaks"), ("welcome", "Welcome", "Welcoem"), ("sorry", "Sorry", "Soryy"),
              ("cheer", "Cheers", "Cheeers"), ("wish", "Good luck", "Good lcuk"), ("praise", "Well done", "Wel done"),
              ("toast", "Bottoms up", "Bottums up"), ("hail", "Greetings", "Greetigns"), ("part", "Farewell", "Farwell"))


def word_fix(function: str, word: str, typo: str) -> FileFix:
    """`function.py`, whose one function says `word` misspelt as `typo`."""
    line = f'    return f"{word}, {{name}}!"'
    before = f"def {function}(name):\n{line.replace(word, typo)}\n"
    return FileFix(f"{function}.py", before, before.replace(typo, word), line.replace(word, typo), line)


def long_task() -> Task:
    """The long task: the nine files, and one test file that imports and checks them all."""
    fixes = tuple(word_fix(*words) for words in LONG_WORDS)
    tests = "".join(f"from {function} import {function}\n" for function, _, _ in LONG_WORDS) + "\n" + "".join(
        f"assert {function}('Ada') == '{word}, Ada!', {function}('Ada')\n" for function, word, _ in LONG_WORDS)
    text = (f"fix the typo in each of {', '.join(fix.name for fix in fixes)}, then run the tests with "
            "`python3 test_words.py` and tell me whether they pass")
    return Task(text, fixes, "python3 test_words.py",
                (("test_words.py", tests + f"print('{len(fixes)} passed')\n"),))


LONG = long_task()
TASKS = {"one": ONE_FILE, "multi": MULTI, "long": LONG}
# aider's test command under --aider-tests: fails its first run with a traceback, as a test the first edit
# did not satisfy, so aider sends the failure back as a second turn (its "reflection"), then passes.
CHECK_ONCE = """import pathlib, sys
ran = pathlib.Path(".checked")
if not ran.exists():
    ran.touch()
    print("Traceback (most recent call last):")
    print('  File "test_greet.py", line 4, in test_greet')
    print("AssertionError: greet('world') != 'Hello, world!'")
    sys.exit(1)
"""


@dataclass(frozen=True)
class Client:
    name: str
    version: str
    own_timeout: str  # its own request limits, as read in its code (the module docstring says more)

    def command(self, clients_dir: Path, project: Path, home: Path, base_url: str, model: str = "auto",
                test_cmd: str | None = None, task: Task = ONE_FILE) -> tuple[list[str], dict[str, str]]:
        """The argv and environment that run this client headless on `task` in `project` against `base_url`.

        `model` is what the agent asks for; "auto" leaves Claude Code, Codex and Gemini CLI on their own
        model names, which Hermes's aliases send to auto (and their small fast models to local).
        """
        env = sandbox_env(home)
        if self.name == "opencode":
            config = {"$schema": "https://opencode.ai/config.json", "autoupdate": False, "share": "disabled",
                      "provider": {"hermes": {"npm": "@ai-sdk/openai-compatible", "name": "Hermes",
                                              "options": {"baseURL": base_url, "apiKey": "unused"},
                                              "models": {model: {"name": f"Hermes ({model})"}}}},
                      "model": f"hermes/{model}", "small_model": f"hermes/{model}"}
            (project / "opencode.json").write_text(json.dumps(config, indent=1))
            env |= {"OPENCODE_DISABLE_AUTOUPDATE": "1", "OPENCODE_DISABLE_MODELS_FETCH": "1",
                    "OPENCODE_DISABLE_LSP_DOWNLOAD": "1", "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
                    "OPENCODE_DISABLE_SHARE": "1", "OPENCODE_DISABLE_CLAUDE_CODE": "1"}
            return [str(opencode_binary(clients_dir)), "run", "--print-logs", task.text], env
        if self.name == "continue":
            config_dir = home / ".continue"
            config_dir.mkdir(parents=True, exist_ok=True)
            (config_dir / "config.yaml").write_text(
                "name: Hermes\nversion: 0.0.1\nschema: v1\nmodels:\n  - name: Hermes (local first)\n"
                f"    provider: openai\n    model: {model}\n    apiBase: {base_url}\n    apiKey: unused\n"
                "    roles: [chat, edit, apply]\n")
            env |= {"CONTINUE_GLOBAL_DIR": str(config_dir), "CONTINUE_METRICS_ENABLED": "0",
                    "CONTINUE_CLI_ENABLE_TELEMETRY": "0"}
            cn = clients_dir / "node_modules" / ".bin" / "cn"
            return [str(cn), "--config", str(config_dir / "config.yaml"), "--auto", "-p", task.text], env
        root = base_url.removesuffix("/v1")
        if self.name == "claude":
            env |= BLOCKED | {"ANTHROPIC_BASE_URL": root, "ANTHROPIC_API_KEY": "unused",
                              "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_TELEMETRY": "1",
                              "DISABLE_AUTOUPDATER": "1", "DISABLE_ERROR_REPORTING": "1"}
            chosen = [] if model == "auto" else ["--model", model]
            return [str(clients_dir / "node_modules" / ".bin" / "claude"), "-p", task.text,
                    "--permission-mode", "acceptEdits", *chosen], env
        if self.name == "codex":
            codex_home = home / ".codex"
            codex_home.mkdir(parents=True, exist_ok=True)
            (codex_home / "config.toml").write_text(
                f'model = "{"gpt-5-codex" if model == "auto" else model}"\nmodel_provider = "hermes"\n\n[model_providers.hermes]\nname = "Hermes"\n'
                f'base_url = "{base_url}"\nwire_api = "responses"\n')
            env |= BLOCKED | {"CODEX_HOME": str(codex_home)}
            return [str(clients_dir / "node_modules" / ".bin" / "codex"), "exec", "--skip-git-repo-check",
                    "--dangerously-bypass-approvals-and-sandbox", task.text], env
        if self.name == "gemini":
            settings = home / ".gemini"
            settings.mkdir(parents=True, exist_ok=True)
            (settings / "settings.json").write_text(json.dumps({
                "telemetry": {"enabled": False}, "privacy": {"usageStatisticsEnabled": False},
                "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
                "security": {"auth": {"selectedType": "gemini-api-key"}}}))
            env |= BLOCKED | {"GOOGLE_GEMINI_BASE_URL": root, "GEMINI_API_KEY": "unused", "GEMINI_CLI_TRUST_WORKSPACE": "true"}
            chosen = [] if model == "auto" else ["-m", model]
            return [str(clients_dir / "node_modules" / ".bin" / "gemini"), "-p", task.text, "--yolo", *chosen], env
        if self.name == "qwen":
            settings = home / ".qwen"
            settings.mkdir(parents=True, exist_ok=True)
            (settings / "settings.json").write_text(json.dumps({
                "telemetry": {"enabled": False}, "privacy": {"usageStatisticsEnabled": False},
                "security": {"auth": {"selectedType": "openai"}}, "general": {"disableAutoUpdate": True}}))
            env |= BLOCKED | {"OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": "unused", "OPENAI_MODEL": model,
                              "QWEN_CODE_TRUST_WORKSPACE": "true", "GEMINI_CLI_TRUST_WORKSPACE": "true"}
            return [str(clients_dir / "node_modules" / ".bin" / "qwen"), task.text, "--yolo"], env
        if self.name == "cline":
            config = home / ".cline"
            env |= BLOCKED
            bin_ = str(clients_dir / "node_modules" / ".bin" / "cline")
            subprocess.run([bin_, "auth", "-p", "openai", "-k", "unused", "-m", model, "-b", base_url,
                            "--config", str(config)], env=env, capture_output=True, timeout=60, check=False)
            return [bin_, "--config", str(config), "--auto-approve", "true", task.text], env
        env |= {"OPENAI_API_BASE": base_url, "OPENAI_API_KEY": "unused", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        aider = clients_dir / "aider-venv" / "bin" / "aider"
        return [str(aider), "--model", f"openai/{model}", "--edit-format", "whole", "--yes-always", "--no-git",
                "--no-auto-commits", "--no-check-update", "--analytics-disable", "--no-show-model-warnings",
                "--no-pretty", "--no-fancy-input", "--message", task.text, "greet.py",
                *(["--auto-test", "--test-cmd", test_cmd] if test_cmd else [])], env


CLIENTS = {
    "opencode": Client("opencode", f"opencode-ai {OPENCODE_VERSION}",
                       "headers 300 s, 300 s between body reads; retries"),
    "continue": Client("continue", f"@continuedev/cli {CONTINUE_VERSION}",
                       "headers 600 s (OpenAI SDK); retries"),
    "aider": Client("aider", f"aider-chat {AIDER_VERSION}", "600 s (litellm)"),
    "claude": Client("claude", f"@anthropic-ai/claude-code {CLAUDE_VERSION}", "600 s (Anthropic SDK); retries"),
    "codex": Client("codex", f"@openai/codex {CODEX_VERSION}", "stream idle 300 s; retries"),
    "gemini": Client("gemini", f"@google/gemini-cli {GEMINI_VERSION}", "retries"),
    "qwen": Client("qwen", f"@qwen-code/qwen-code {QWEN_VERSION}", "retries"),
    "cline": Client("cline", f"cline {CLINE_VERSION}", "retries"),
}


def sandbox_env(home: Path) -> dict[str, str]:
    for sub in (".config", ".local/share", ".cache", ".local/state"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TERM": "dumb", "NO_COLOR": "1",
            "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local/share"),
            "XDG_CACHE_HOME": str(home / ".cache"), "XDG_STATE_HOME": str(home / ".local/state"),
            "LANG": "C.UTF-8"}


def opencode_binary(clients_dir: Path) -> Path:
    """The platform binary (the npm wrapper's postinstall copies it; a blocked install script leaves a stub)."""
    wrapper = clients_dir / "node_modules" / "opencode-ai" / "bin" / "opencode.exe"
    if wrapper.is_file() and wrapper.read_bytes()[:4] == b"\x7fELF":
        return wrapper
    return clients_dir / "node_modules" / "opencode-linux-x64" / "bin" / "opencode"


def install(clients_dir: Path, names: list[str]) -> dict[str, str]:
    """Install the clients missing from `clients_dir`; returns why a client could not be had, by name."""
    clients_dir.mkdir(parents=True, exist_ok=True)
    problems: dict[str, str] = {}
    npm = {"opencode": f"opencode-ai@{OPENCODE_VERSION}", "continue": f"@continuedev/cli@{CONTINUE_VERSION}",
           "claude": f"@anthropic-ai/claude-code@{CLAUDE_VERSION}", "codex": f"@openai/codex@{CODEX_VERSION}",
           "gemini": f"@google/gemini-cli@{GEMINI_VERSION}", "qwen": f"@qwen-code/qwen-code@{QWEN_VERSION}",
           "cline": f"cline@{CLINE_VERSION}"}
    wanted = [spec for name, spec in npm.items() if name in names and not _installed(clients_dir, name)]
    if wanted:
        if not (clients_dir / "package.json").exists():
            (clients_dir / "package.json").write_text('{"name": "hermes-agents", "private": true}\n')
        done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", *wanted], cwd=clients_dir,
                              capture_output=True, text=True, timeout=600, check=False)
        if done.returncode:
            for name in npm:
                problems[name] = f"npm install failed: {done.stderr.strip()[-300:]}"
    if "aider" in names and not _installed(clients_dir, "aider"):
        venv = clients_dir / "aider-venv"
        steps = [["python3", "-m", "venv", str(venv)], [str(venv / "bin" / "pip"), "install", "-q",
                                                          f"aider-chat=={AIDER_VERSION}"]]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=900, check=False)
            if done.returncode:
                problems["aider"] = f"{' '.join(step[:3])} failed: {done.stderr.strip()[-300:]}"
                break
    return {name: problem for name, problem in problems.items() if not _installed(clients_dir, name)}


def _installed(clients_dir: Path, name: str) -> bool:
    if name == "opencode":
        return opencode_binary(clients_dir).is_file()
    if name == "continue":
        return (clients_dir / "node_modules" / ".bin" / "cn").exists()
    if name in ("claude", "codex", "gemini", "qwen", "cline"):
        return (clients_dir / "node_modules" / ".bin" / name).exists()
    return (clients_dir / "aider-venv" / "bin" / "aider").exists()
