"""`hermes yolo`: one request to the running proxy from the shell, streamed to the terminal.

It talks to Hermes over HTTP like any client, so what it shows is what
aider or OpenCode would get; when the answer comes with an upgrade offer and
a person is at the terminal, it asks, and re-sends with `X-Hermes-Upgrade`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx

TIMEOUT = httpx.Timeout(600.0, connect=5.0)


class YoloError(Exception):
    """Something the user should read, then try again."""


@dataclass(frozen=True)
class Outcome:
    """What one streamed answer said about itself."""

    hermes: dict[str, Any]
    upgrade: str | None  # the X-Hermes-Upgrade header: "<model>; cost_usd=...; ..."


def build_messages(prompt: str, files: Sequence[Path]) -> list[dict[str, str]]:
    """The prompt, with each file's contents attached in a fenced block under its name."""
    parts = [prompt]
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise YoloError(f"Cannot read {path}: {exc.strerror}") from None
        parts.append(f"{path}\n```\n{text}\n```")
    return [{"role": "user", "content": "\n\n".join(parts)}]


def ask_once(
    url: str,
    messages: list[dict[str, str]],
    out: TextIO,
    headers: dict[str, str] | None = None,
    model: str = "auto",
) -> Outcome:
    """Stream one answer to `out`; return the "hermes" field and the offered upgrade."""
    body = {"model": model, "messages": messages, "stream": True, "stream_options": {"include_usage": True}}
    hermes: dict[str, Any] = {}
    try:
        with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, headers=headers or {},
                          timeout=TIMEOUT) as response:
            if response.status_code != 200:
                raise YoloError(_error_message(response.read()))
            upgrade = response.headers.get("x-hermes-upgrade")
            for event in _events(response.iter_lines()):
                if "error" in event:
                    raise YoloError(event["error"].get("message", "the stream failed"))
                for choice in event.get("choices", []):
                    out.write(choice.get("delta", {}).get("content") or "")
                    out.flush()
                hermes = event.get("hermes", hermes)
    except httpx.ConnectError:
        raise YoloError(f"Hermes is not running at {url}: start it with scripts/start-proxy.") from None
    except httpx.HTTPError as exc:
        raise YoloError(f"Talking to Hermes at {url} failed: {exc}") from None
    out.write("\n")
    return Outcome(hermes, upgrade)


def summary(hermes: dict[str, Any]) -> str:
    """One line: route, model, quality, cost, budget left."""
    quality = hermes.get("quality") or {}
    shown = f"{quality['score']:.1f}/{quality['target']:.1f}" if quality else "n/a"
    return (f"[hermes] route={hermes.get('route')} model={hermes.get('model')} quality={shown} "
            f"cost=${hermes.get('cost_usd', 0):.6f} budget left=${hermes.get('budget_remaining_usd', 0):.2f}")


def upgrade_question(outcome: Outcome) -> tuple[str, str] | None:
    """(model, the question to ask) when the answer came with an upgrade offer, else None."""
    if outcome.hermes.get("route") != "local":
        return None
    options = outcome.hermes.get("upgrade_options") or []
    if outcome.upgrade:
        model = outcome.upgrade.split(";")[0].strip()
        option = next((o for o in options if o["model"] == model), None)
    else:  # a streamed `auto` answer starts before the verdict, so the offer rides only in "hermes"
        option = _best_offer(options, (outcome.hermes.get("quality") or {}).get("target"))
    if option is None:
        return None
    model = option["model"]
    session = option["session"]["rest_of_session_cost_usd"]
    return model, f"Upgrade to {model} for ${option['estimated_cost_usd']:.4f} (session ~${session:.2f})? [y/N] "


def run(
    url: str,
    prompt: str,
    files: Sequence[Path],
    out: TextIO,
    interactive: bool,
    confirm: Callable[[str], bool],
    headers: dict[str, str] | None = None,
) -> Outcome:
    """Ask; print the summary; if a person is there and an upgrade is offered, ask them and maybe re-send."""
    messages = build_messages(prompt, files)
    outcome = ask_once(url, messages, out, headers)
    out.write(summary(outcome.hermes) + "\n")
    question = upgrade_question(outcome) if interactive else None
    if question and confirm(question[1]):
        outcome = ask_once(url, messages, out, (headers or {}) | {"X-Hermes-Upgrade": question[0]})
        out.write(summary(outcome.hermes) + "\n")
    return outcome


def _best_offer(options: list[dict[str, Any]], target: float | None) -> dict[str, Any] | None:
    """The option the X-Hermes-Upgrade header would name (proxy/upgrade.py's `best_option`, over JSON)."""
    reaching = [o for o in options if target is not None and o["expected_quality"] >= target]
    if reaching:
        return min(reaching, key=lambda o: o["estimated_cost_usd"])
    return max(options, key=lambda o: o["expected_quality"], default=None)


def _events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if line.startswith("data: ") and line != "data: [DONE]":
            yield json.loads(line[len("data: "):])


def _error_message(body: bytes) -> str:
    try:
        return str(json.loads(body)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return body.decode(errors="replace")[:500]
