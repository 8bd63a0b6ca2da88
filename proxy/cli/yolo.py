"""`hermes yolo`: one request to the running proxy from the shell, and what it cost.

It talks to Hermes over HTTP like any client, so what it shows is what aider
or OpenCode would get. While the cascade works it shows the proxy's status
(the `: hermes: ...` SSE comment lines, proxy/edge/early_stream.py); after each
answer, one line of tokens, cost and budget, as aider prints. When the
answer comes with an upgrade offer (or no local model could answer) and a
person is at the terminal, it asks, and re-sends with `X-Hermes-Upgrade`.

How it looks is a `View`: `PlainView` here writes raw text (piped output);
proxy/cli/terminal.py's `AnswerView` draws the status line and the Markdown.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

import httpx

TIMEOUT = httpx.Timeout(600.0, connect=5.0)
STATUS_PREFIX = ": hermes: "
# What an `upgrade_offered` error (proxy/pipeline/cascade.py) offers under policy ask, and how it says to accept;
# yolo asks, or says how, instead.
OFFER = re.compile(r"(?P<model>\S+) would answer for ~\$(?P<cost>[0-9.]+) ")
RESEND_ADVICE = re.compile(r"\s*To accept, re-send with header X-Hermes-Upgrade: .*$")


class View(Protocol):
    """Where yolo shows what happens: the proxy's status, the answer as it streams, the lines after it."""

    def status(self, text: str) -> None: ...

    def write(self, text: str) -> None: ...

    def end(self) -> None: ...

    def note(self, line: str) -> None: ...


class PlainView:
    """Raw text, no status line: what a pipe or a file gets."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._written = False

    def status(self, text: str) -> None:
        pass

    def write(self, text: str) -> None:
        self._out.write(text)
        self._out.flush()
        self._written = True

    def end(self) -> None:
        if self._written:
            self._out.write("\n")
            self._written = False

    def note(self, line: str) -> None:
        self._out.write(line + "\n")
        self._out.flush()


@dataclass(frozen=True)
class Offer:
    """A cloud answer the user may buy: the model, its estimated cost, the rest of the session's (if known)."""

    model: str
    cost_usd: float
    session_usd: float | None = None

    def question(self) -> str:
        session = ("" if self.session_usd is None
                   else f"; about {money(self.session_usd)} if the rest of this session stays on it")
        return f"Upgrade to {self.model} for {money(self.cost_usd)} now{session}? [y/N] "

    def hint(self) -> str:
        return f"Run again with --upgrade {self.model} to pay ~{money(self.cost_usd)} for a cloud answer."


class YoloError(Exception):
    """Something the user should read, then try again; `offer` when a cloud answer could be bought instead."""

    def __init__(self, message: str, offer: Offer | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.offer = offer


@dataclass(frozen=True)
class Outcome:
    """What one streamed answer said about itself."""

    hermes: dict[str, Any]
    upgrade: str | None  # the X-Hermes-Upgrade header: "<model>; cost_usd=...; ..."
    usage: dict[str, Any] | None  # the usage chunk's figures (prompt_tokens, completion_tokens)


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


def ask_once(url: str, messages: list[dict[str, str]], view: View, headers: dict[str, str] | None = None,
             model: str = "auto", waiting: str = "waiting for Hermes") -> Outcome:
    """Stream one answer to `view`; return the "hermes" field, the offered upgrade and the usage."""
    body = {"model": model, "messages": messages, "stream": True, "stream_options": {"include_usage": True}}
    hermes: dict[str, Any] = {}
    usage: dict[str, Any] | None = None
    view.status(waiting)
    try:
        with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, headers=headers or {},
                          timeout=TIMEOUT) as response:
            if response.status_code != 200:
                raise _error(json_error(response.read()))
            upgrade = response.headers.get("x-hermes-upgrade")
            for line in response.iter_lines():
                if line.startswith(STATUS_PREFIX):
                    view.status(line[len(STATUS_PREFIX):])
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                event = json.loads(line[len("data: "):])
                if "error" in event:
                    raise _error(event["error"])
                for choice in event.get("choices") or []:
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        view.write(piece)
                usage = event.get("usage") or usage
                hermes = event.get("hermes", hermes)
    except httpx.ConnectError:
        raise YoloError(f"Hermes is not running at {url}: start it with scripts/start-proxy.") from None
    except httpx.HTTPError as exc:
        raise YoloError(f"Talking to Hermes at {url} failed: {exc}") from None
    finally:
        view.end()
    return Outcome(hermes, upgrade, usage)


def run(
    url: str,
    prompt: str,
    files: Sequence[Path],
    view: View,
    interactive: bool,
    confirm: Callable[[str], bool],
    headers: dict[str, str] | None = None,
    upgrade: str | None = None,
) -> Outcome:
    """Ask; after each answer note what it cost; if a person is there and an upgrade is offered, ask them.

    The run is one session (its own X-Session-Id), so the session cost shown
    is what this run has spent, and an accepted upgrade applies to it alone.
    """
    messages = build_messages(prompt, files)
    headers = {"X-Session-Id": f"yolo-{uuid.uuid4().hex[:16]}"} | (headers or {})
    spent: list[float] = []

    def ask(model: str | None) -> Outcome:
        sent = headers | ({"X-Hermes-Upgrade": model} if model else {})
        outcome = ask_once(url, messages, view, sent, waiting=f"asking {model}" if model else "waiting for Hermes")
        spent.append(float(outcome.hermes.get("cost_usd") or 0.0))
        view.note(call_line(outcome.usage, outcome.hermes, sum(spent)))
        view.note(route_line(outcome.hermes))
        return outcome

    try:
        outcome = ask(upgrade)
    except YoloError as exc:
        if exc.offer is None or not interactive or not confirm(f"{exc.message}\n{exc.offer.question()}"):
            raise YoloError(f"{exc.message} {exc.offer.hint()}" if exc.offer else exc.message) from None
        return ask(exc.offer.model)
    offer = upgrade_offer(outcome)
    if offer and not interactive:
        view.note(offer.hint())  # piped: nothing is bought without the person, who is told how
    elif offer and confirm(offer.question()):
        outcome = ask(offer.model)
    return outcome


def call_line(usage: dict[str, Any] | None, hermes: dict[str, Any], session_usd: float) -> str:
    """aider's line: `Tokens: 2.1k sent, 310 received. Cost: $0.0091 message, $0.0120 session. Budget: ...`."""
    parts = []
    if usage:
        parts.append(f"Tokens: {tokens(int(usage.get('prompt_tokens') or 0))} sent, "
                     f"{tokens(int(usage.get('completion_tokens') or 0))} received.")
    parts.append(f"Cost: {money(float(hermes.get('cost_usd') or 0.0))} message, {money(session_usd)} session.")
    if "budget_remaining_usd" in hermes:
        limit = hermes.get("budget_limit_usd")
        tier = hermes.get("tier")
        parts.append(f"Budget: {money(hermes['budget_remaining_usd'])} left"
                     + (f" of ${limit:.2f}" if limit is not None else "")
                     + (f" ({tier} tier)" if tier and tier != "normal" else "") + ".")
    return " ".join(parts)


def route_line(hermes: dict[str, Any]) -> str:
    """Where the answer came from: `[hermes] route=local model=smollm2:135m quality=4.2/9.0`."""
    quality = hermes.get("quality") or {}
    # A cloud answer is not scored: a quality here would be the local answer it replaced.
    shown = "unscored" if hermes.get("route") == "cloud" else \
        f"{quality['score']:.1f}/{quality['target']:.1f}" if quality else "n/a"
    return f"[hermes] route={hermes.get('route')} model={hermes.get('model')} quality={shown}"


def money(usd: float) -> str:
    """Dollars as yolo, `hermes budget` and `hermes stats` show them: four decimals ($0.0015, $4.9985).

    A non-zero amount that would show as $0.0000 keeps two significant digits ($0.000012), so it never reads as nothing.
    """
    if usd and f"{abs(usd):.4f}" == "0.0000":
        return f"${usd:.{1 - math.floor(math.log10(abs(usd)))}f}"
    return f"${usd:.4f}"


def tokens(count: int) -> str:
    """A token count as aider shows it: 310, 2.1k, 12k."""
    if count < 1000:
        return str(count)
    if count < 10_000:
        return f"{count / 1000:.1f}k"
    return f"{round(count / 1000)}k"


def upgrade_offer(outcome: Outcome) -> Offer | None:
    """The upgrade a local answer came with, or None."""
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
    return Offer(option["model"], option["estimated_cost_usd"], option["session"]["rest_of_session_cost_usd"])


def json_error(body: bytes) -> dict[str, Any]:
    """The OpenAI error object of an error response, or one made of its text."""
    try:
        error = json.loads(body)["error"]
        if isinstance(error, dict):
            return error
    except (ValueError, KeyError, TypeError):
        pass
    return {"message": body.decode(errors="replace")[:500]}


def _error(error: dict[str, Any]) -> YoloError:
    """The error as yolo says it; an `upgrade_offered` carries the offer instead of the proxy's advice."""
    message = str(error.get("message") or "the stream failed")
    found = OFFER.search(message) if error.get("code") == "upgrade_offered" else None
    if found is None:
        return YoloError(message)
    offer = Offer(found["model"], float(found["cost"]))
    return YoloError(RESEND_ADVICE.sub("", message).strip(), offer)


def _best_offer(options: list[dict[str, Any]], target: float | None) -> dict[str, Any] | None:
    """The option the X-Hermes-Upgrade header would name (proxy/pipeline/upgrade.py's `best_option`, over JSON)."""
    reaching = [o for o in options if target is not None and o["expected_quality"] >= target]
    if reaching:
        return min(reaching, key=lambda o: o["estimated_cost_usd"])
    return max(options, key=lambda o: o["expected_quality"], default=None)
