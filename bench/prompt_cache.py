"""Anthropic's prompt cache, as the scripted cloud plays it: what each Messages request reads and writes.

Anthropic caches a request's prefix up to each `cache_control` breakpoint
(tools, then system, then the messages, block by block). A later request
whose prefix matches one written before reads it back at 0.1x the input
price; the rest of the prefix, up to its last breakpoint, is written at
1.25x; what follows the last breakpoint is plain input. Usage reports the
three apart (`input_tokens` is the plain part only), and OpenRouter adds the
bill as `usage.cost`. Tokens are counted as the scripted cloud counts them
(a quarter of the JSON's characters), so the three add up to its total.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CachePrices:
    """USD per token: Claude Sonnet 4.6's on OpenRouter unless told otherwise."""

    input_usd: float = 3e-6
    output_usd: float = 15e-6
    read_usd: float = 0.3e-6
    write_usd: float = 3.75e-6


@dataclass
class PromptCache:
    prices: CachePrices = field(default_factory=CachePrices)
    written: set[str] = field(default_factory=set)  # digests of every prefix written, block by block

    def usage(self, body: dict[str, Any], total_tokens: int, output_tokens: int) -> dict[str, Any]:
        """The usage of a request of `total_tokens` input tokens, as Anthropic reports it, with OpenRouter's cost."""
        blocks = _blocks(body)
        last_breakpoint = max((i for i, block in enumerate(blocks) if _breakpoint(block)), default=-1)
        digests, digest = [], hashlib.sha256()
        for block in blocks[:last_breakpoint + 1]:
            digest.update(json.dumps(_without_marks(block), sort_keys=True).encode())
            digests.append(digest.hexdigest())
        hit = max((i for i, d in enumerate(digests) if d in self.written), default=-1)
        sizes = [len(json.dumps(block)) // 4 for block in blocks]
        read = sum(sizes[:hit + 1])
        write = sum(sizes[hit + 1:last_breakpoint + 1])
        self.written.update(digests)
        plain = max(total_tokens - read - write, 0)
        cost = (plain * self.prices.input_usd + read * self.prices.read_usd + write * self.prices.write_usd
                + output_tokens * self.prices.output_usd)
        return {"input_tokens": plain, "cache_creation_input_tokens": write, "cache_read_input_tokens": read,
                "output_tokens": output_tokens, "cost": round(cost, 10)}


def _blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's cacheable blocks, in Anthropic's order: tools, system, then each message's content."""
    blocks = [tool for tool in body.get("tools") or [] if isinstance(tool, dict)]
    system = body.get("system")
    blocks += [{"type": "text", "text": system}] if isinstance(system, str) else list(system or [])
    for message in body.get("messages") or []:
        content = message.get("content")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])
        blocks += [part | {"role": message.get("role")} for part in parts if isinstance(part, dict)]
    return blocks


def _breakpoint(block: dict[str, Any]) -> bool:
    return isinstance(block.get("cache_control"), dict)


def _without_marks(block: dict[str, Any]) -> dict[str, Any]:
    """A block as the cache keys it: where a breakpoint sits does not change the content."""
    return {key: value for key, value in block.items() if key != "cache_control"}
