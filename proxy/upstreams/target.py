"""Where one call goes, and the stream both call paths (relay.py, upstream.py) hand back.

Kept apart from upstream.py so that the relay, the error mapping and the
money can name a target without importing LiteLLM's call path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import TypeVar

from proxy.config import ModelRef, Secret

T = TypeVar("T")


@dataclass(frozen=True)
class Target:
    """One concrete model to call, and how to reach it."""

    model: ModelRef
    api_base: str
    api_key: Secret | None
    timeout_s: float


async def prepend(first: T, rest: AsyncIterator[T]) -> AsyncIterator[T]:
    """`first`, then `rest`; closing it closes `rest` (and so the upstream call)."""
    async with aclosing(rest):  # closing this closes the upstream connection
        yield first
        async for chunk in rest:
            yield chunk
